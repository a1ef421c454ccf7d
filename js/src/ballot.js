// Ballots (PROTOCOL.md §5): build on the voter's device, verify, track.

import { sha256 } from '@noble/hashes/sha2.js';
import { readElection } from './election.js';
import { ProtocolError } from './errors.js';
import { G, IDENTITY, mod, mulSecret, pointHex, scalarHex, smallMultiple } from './group.js';
import { jcs, sha256hex } from './hashing.js';
import { proveRange, proveSchnorr, verifyRange, verifySchnorr } from './proofs.js';
import { osRandom } from './rng.js';
import { parseBallot } from './ballot-json.js';

export const SIGNATURE_TAG = 'istifta/1/ballot-sig';
export const SUM_CONTEXT = 2 ** 32 - 1; // the option index o of a sum proof's context
const CHOICE = [0, 1];

const rangeContext = (e, P, q, o) => [e.hashBytes, P, { int: q }, { int: o }];
const signatureContext = (e, P, body) => [e.hashBytes, P, sha256(jcs(body))];
const proofJson = ({ c, z }) => ({ c: scalarHex(c), z: scalarHex(z) });
const ciphertextJson = ({ alpha, beta }) => ({ alpha: pointHex(alpha), beta: pointHex(beta) });

/** Enc_K(m; r) = (r·G, m·G + r·K); m = 0 gives (r·G, r·K) without 0·G. */
function encrypt(K, m, r) {
  const beta = mulSecret(K, r);
  return { alpha: mulSecret(G, r), beta: m ? beta.add(smallMultiple(m)) : beta };
}

/** The component-wise sum of ciphertexts (the identity pair when there are none). */
export function sumCiphertexts(cts) {
  return cts.reduce((t, ct) => ({ alpha: t.alpha.add(ct.alpha), beta: t.beta.add(ct.beta) }), {
    alpha: IDENTITY,
    beta: IDENTITY,
  });
}

const badSelection = (message, question) => new ProtocolError('bad_selection', message, { question });

/** The 0/1 vector over the options the ballot carries, checked against the question. */
function choiceVector(question, chosen, q) {
  if (!Array.isArray(chosen)) throw badSelection('expected a list of option indices', q);
  const picked = new Set(chosen);
  if (picked.size !== chosen.length) throw badSelection('the same option is chosen twice', q);
  if (!chosen.every((o) => Number.isInteger(o) && o >= 0 && o < question.k)) {
    throw badSelection(`options are numbered 0 to ${question.k - 1}`, q);
  }
  if (picked.size < question.min || picked.size > question.max) {
    throw badSelection(`choose from ${question.min} to ${question.max} options, got ${picked.size}`, q);
  }
  return Array.from({ length: question.carried }, (_, o) => (picked.has(o) ? 1 : 0));
}

function choiceVectors(questions, selections) {
  if (!Array.isArray(selections) || selections.length !== questions.length) {
    throw badSelection(`expected selections for ${questions.length} questions`);
  }
  return questions.map((question, q) => choiceVector(question, selections[q], q));
}

/** One question's answer; draws r then its range proof per carried option, then the sum proof. */
function encryptAnswer(e, P, question, vector, q, rng) {
  const choices = [];
  const proofs = [];
  const rs = [];
  vector.forEach((v, o) => {
    const r = rng.scalar();
    const ct = encrypt(e.K, v, r);
    proofs.push(proveRange(e.K, ct, r, v, CHOICE, rangeContext(e, P, q, o), rng));
    choices.push(ct);
    rs.push(r);
  });
  let sumProof = [];
  if (question.sumAllowed.length) {
    const rSum = mod(rs.reduce((a, r) => a + r, 0n));
    const total = vector.reduce((a, v) => a + v, 0);
    const ctx = rangeContext(e, P, q, SUM_CONTEXT);
    sumProof = proveRange(e.K, sumCiphertexts(choices), rSum, total, question.sumAllowed, ctx, rng);
  }
  const answer = {
    choices: choices.map(ciphertextJson),
    choice_proofs: proofs.map((proof) => proof.map(proofJson)),
    sum_proof: sumProof.map(proofJson),
  };
  return { answer, randomness: rs.map(scalarHex) };
}

/**
 * Encrypt `selections` (chosen option indices per question) under the
 * election's key, prove them valid and sign with the credential secret `x`.
 * Returns the ballot JSON and, per question, the hex `r` of each carried choice.
 */
export function buildBallot(parameters, selections, x, rng = osRandom) {
  const e = readElection(parameters);
  const vectors = choiceVectors(e.questions, selections);
  x = mod(x);
  if (x === 0n) throw new ProtocolError('bad_credential', 'the credential secret is zero');
  const P = mulSecret(G, x);
  const parts = e.questions.map((question, q) => encryptAnswer(e, P, question, vectors[q], q, rng));
  const body = { election_hash: e.hash, credential: pointHex(P), answers: parts.map((p) => p.answer) };
  const signature = proveSchnorr(x, SIGNATURE_TAG, signatureContext(e, P, body), rng);
  return { ballot: { ...body, signature: proofJson(signature) }, randomness: parts.map((p) => p.randomness) };
}

/** The ballot's tracker: sha256(jcs(ballot)) in hex. */
export const tracker = (ballot) => sha256hex(jcs(ballot));

const badShape = (message, question, option) => new ProtocolError('bad_shape', message, { question, option });

function checkShape(question, answer, q) {
  const k = question.carried;
  if (answer.choices.length !== k) throw badShape(`expected ${k} choices, got ${answer.choices.length}`, q);
  if (answer.choiceProofs.length !== k) {
    throw badShape(`expected ${k} choice proofs, got ${answer.choiceProofs.length}`, q);
  }
  answer.choiceProofs.forEach((proof, o) => {
    if (proof.length !== CHOICE.length) {
      throw badShape(`expected a 2-branch proof, got ${proof.length}`, q, o);
    }
  });
  const branches = question.sumAllowed.length;
  if (answer.sumProof.length !== branches) {
    throw badShape(`expected a ${branches}-branch sum proof, got ${answer.sumProof.length}`, q);
  }
}

function checkAnswer(e, P, question, answer, q) {
  checkShape(question, answer, q);
  answer.choices.forEach((ct, o) => {
    if (!verifyRange(e.K, ct, CHOICE, rangeContext(e, P, q, o), answer.choiceProofs[o])) {
      const message = 'the proof that the choice is 0 or 1 fails';
      throw new ProtocolError('choice_proof', message, { question: q, option: o });
    }
  });
  if (!question.sumAllowed.length) return;
  const total = sumCiphertexts(answer.choices);
  const ctx = rangeContext(e, P, q, SUM_CONTEXT);
  if (!verifyRange(e.K, total, question.sumAllowed, ctx, answer.sumProof)) {
    const message = `the proof that ${question.min} to ${question.max} options are chosen fails`;
    throw new ProtocolError('sum_proof', message, { question: q });
  }
}

/** Every check of §5 but eligibility and time; returns the decoded ballot. */
export function checkBallot(e, raw) {
  const b = parseBallot(raw);
  if (b.electionHash !== e.hash) {
    throw new ProtocolError('wrong_election', 'this ballot was made for another election');
  }
  if (b.answers.length !== e.questions.length) {
    throw badShape(`expected ${e.questions.length} answers, got ${b.answers.length}`);
  }
  e.questions.forEach((question, q) => checkAnswer(e, b.P, question, b.answers[q], q));
  const { signature, ...body } = raw;
  if (!verifySchnorr(b.P, SIGNATURE_TAG, signatureContext(e, b.P, body), b.signature)) {
    throw new ProtocolError('signature', "the credential's signature does not verify");
  }
  return b;
}

/** Throws ProtocolError naming the first check of PROTOCOL.md §5 that fails. */
export function verifyBallot(parameters, ballot) {
  checkBallot(readElection(parameters), ballot);
}
