// Ballot JSON → points and scalars, or ProtocolError naming the JSON path.
// Objects must have exactly their keys: an extra key would give the same
// ballot a second encoding, and with it a second tracker.

import { ProtocolError } from './errors.js';
import { decodePoint, decodeScalar } from './group.js';

const badShape = (message, where = {}) => new ProtocolError('bad_shape', message, where);

export function expectObject(value, path, keys, where) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw badShape(`${path}: expected an object`, where);
  }
  const actual = Object.keys(value);
  const missing = keys.find((k) => !actual.includes(k));
  if (missing) throw badShape(`${path}.${missing}: missing`, where);
  const extra = actual.find((k) => !keys.includes(k));
  if (extra) throw badShape(`${path}.${extra}: unexpected key (expected only: ${keys.join(', ')})`, where);
  return value;
}

export function expectList(value, path, where) {
  if (!Array.isArray(value)) throw badShape(`${path}: expected a list`, where);
  return value;
}

/** Decoding errors (bad_point, bad_scalar) name the JSON path, and gain question and option. */
function located(where, decode) {
  try {
    return decode();
  } catch (err) {
    if (err instanceof ProtocolError) Object.assign(err, where);
    throw err;
  }
}

export function proofFromJson(value, path, where = {}) {
  const obj = expectObject(value, path, ['c', 'z'], where);
  return located(where, () => ({ c: decodeScalar(obj.c, `${path}.c`), z: decodeScalar(obj.z, `${path}.z`) }));
}

/** α must not be the identity; β may be. */
function ciphertextFromJson(value, path, where) {
  const obj = expectObject(value, path, ['alpha', 'beta'], where);
  return located(where, () => ({
    alpha: decodePoint(obj.alpha, `${path}.alpha`),
    beta: decodePoint(obj.beta, `${path}.beta`, true),
  }));
}

function rangeProofFromJson(value, path, where) {
  return expectList(value, path, where).map((p, i) => proofFromJson(p, `${path}[${i}]`, where));
}

function answerFromJson(value, q) {
  const path = `ballot.answers[${q}]`;
  const a = expectObject(value, path, ['choices', 'choice_proofs', 'sum_proof'], { question: q });
  const choices = expectList(a.choices, `${path}.choices`, { question: q });
  const proofs = expectList(a.choice_proofs, `${path}.choice_proofs`, { question: q });
  const at = (o) => ({ question: q, option: o });
  return {
    choices: choices.map((ct, o) => ciphertextFromJson(ct, `${path}.choices[${o}]`, at(o))),
    choiceProofs: proofs.map((p, o) => rangeProofFromJson(p, `${path}.choice_proofs[${o}]`, at(o))),
    sumProof: rangeProofFromJson(a.sum_proof, `${path}.sum_proof`, { question: q }),
  };
}

/** The ballot decoded: { electionHash, P, answers, signature }. */
export function parseBallot(raw) {
  const b = expectObject(raw, 'ballot', ['election_hash', 'credential', 'answers', 'signature']);
  if (typeof b.election_hash !== 'string') throw badShape('ballot.election_hash: expected a hash');
  return {
    electionHash: b.election_hash,
    P: decodePoint(b.credential, 'ballot.credential'),
    answers: expectList(b.answers, 'ballot.answers').map(answerFromJson),
    signature: proofFromJson(b.signature, 'ballot.signature'),
  };
}
