// The one error class the protocol code throws on purpose.

/**
 * A protocol failure. `code` names the check that failed (e.g. `bad_point`,
 * `choice_proof`, `audit_mismatch`); `question` and `option` locate it
 * (0-based) where it applies. Messages never contain a secret.
 */
export class ProtocolError extends Error {
  constructor(code, message, { question, option } = {}) {
    super(describe(code, message, question, option));
    this.name = 'ProtocolError';
    this.code = code;
    this.question = question;
    this.option = option;
  }
}

function describe(code, message, question, option) {
  let where = '';
  if (question !== undefined) where += ` in question ${question}`;
  if (option !== undefined) where += `, option ${option}`;
  return `${code}${where}: ${message}`;
}
