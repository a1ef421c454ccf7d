// Cast-as-intended (Benaloh) audit: the device reveals the randomness of a
// ballot it will not cast, and a second device checks that the ballot
// encrypts what the page claimed. An audited ballot must never be cast.

import { checkBallot } from './ballot.js';
import { expectList, expectObject } from './ballot-json.js';
import { readElection } from './election.js';
import { ProtocolError } from './errors.js';
import { G, decodeScalar, mulPublic } from './group.js';
import { jhash } from './hashing.js';

export const AUDIT_TYPE = 'istifta/1/audit';
const AUDIT_KEYS = ['type', 'election_hash', 'ballot', 'randomness', 'selections'];

const sortedCopy = (list) => [...list].sort((a, b) => a - b);

/** The audit object for a ballot just built (not to be cast). */
export function makeAudit(parameters, ballot, randomness, selections) {
  return {
    type: AUDIT_TYPE,
    election_hash: jhash(parameters),
    ballot,
    randomness: randomness.map((rs) => [...rs]),
    selections: selections.map(sortedCopy),
  };
}

/** The value (0 or 1) that ct encrypts with randomness r, or audit_mismatch. */
function openChoice(K, ct, r, q, o) {
  if (mulPublic(G, r).equals(ct.alpha)) {
    const D = ct.beta.subtract(mulPublic(K, r)); // m·G
    if (D.is0()) return 0;
    if (D.equals(G)) return 1;
  }
  throw new ProtocolError('audit_mismatch', 'the ballot does not encrypt 0 or 1 with this randomness', {
    question: q,
    option: o,
  });
}

function questionRandomness(raw, q, carried) {
  const where = { question: q };
  const rs = expectList(raw, `audit.randomness[${q}]`, where);
  if (rs.length !== carried) {
    throw new ProtocolError('audit_mismatch', `expected ${carried} randomness values`, where);
  }
  return rs.map((hex, o) => decodeScalar(hex, `audit.randomness[${q}][${o}]`));
}

/** The chosen option indices; an exactly-one question's implicit last option when the carried sum is 0. */
function chosenOptions(question, values) {
  const chosen = [];
  values.forEach((v, o) => v && chosen.push(o));
  if (question.carried < question.k && chosen.length === 0) chosen.push(question.k - 1);
  return chosen;
}

function sameSelection(claimed, actual) {
  if (!Array.isArray(claimed) || claimed.length !== actual.length) return false;
  return sortedCopy(claimed).every((o, i) => o === actual[i]);
}

/**
 * Verify an audit as src/istifta/protocol/audit.py does; returns the
 * selections the ballot really encrypts. Claimed selections compare in any
 * order (both sides sorted).
 */
export function checkAudit(parameters, audit) {
  expectObject(audit, 'audit', AUDIT_KEYS);
  if (audit.type !== AUDIT_TYPE) throw new ProtocolError('bad_shape', `audit.type: expected ${AUDIT_TYPE}`);
  const e = readElection(parameters);
  if (audit.election_hash !== e.hash) {
    throw new ProtocolError('wrong_election', 'this audit is for another election');
  }
  const b = checkBallot(e, audit.ballot);
  const randomness = expectList(audit.randomness, 'audit.randomness');
  const claims = expectList(audit.selections, 'audit.selections');
  const n = e.questions.length;
  if (randomness.length !== n) {
    throw new ProtocolError('audit_mismatch', `expected randomness for ${n} questions`);
  }
  if (claims.length !== n) throw new ProtocolError('audit_claim', `expected selections for ${n} questions`);
  const selections = e.questions.map((question, q) => {
    const rs = questionRandomness(randomness[q], q, question.carried);
    const values = b.answers[q].choices.map((ct, o) => openChoice(e.K, ct, rs[o], q, o));
    return chosenOptions(question, values);
  });
  selections.forEach((actual, q) => {
    if (!sameSelection(claims[q], actual)) {
      const message = 'the ballot encrypts other choices than the page showed';
      throw new ProtocolError('audit_claim', message, { question: q });
    }
  });
  return { selections };
}
