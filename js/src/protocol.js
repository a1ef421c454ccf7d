// The browser-side cryptography of istifta, protocol v1 (PROTOCOL.md).

import './compat.js'; // before noble
import { buildBallot } from './ballot.js';
import { precomputeKey } from './election.js';
import { G, mulPublic, mulSecret } from './group.js';
import { jhash } from './hashing.js';
import { osRandom } from './rng.js';

export { ProtocolError } from './errors.js';
export { normaliseCode, credentialSecret, publicCredential } from './credentials.js';
export { jcs, jhash, sha256hex, hs } from './hashing.js';
export { osRandom, SeededRandom } from './rng.js';
export { buildBallot, tracker, verifyBallot } from './ballot.js';
export { makeAudit, checkAudit } from './audit.js';

/** election_hash = jhash(parameters). */
export const electionHash = (parameters) => jhash(parameters);

const pause = () => new Promise((resolve) => setTimeout(resolve, 0));

/**
 * Prepare while the voter reads: noble's base-point tables (the blinded one
 * for secrets, the plain one for public scalars), then, given the
 * parameters, K's table and one discarded ballot, which also lets the
 * JavaScript engine compile the hot paths. Each step runs in its own task,
 * so the page stays responsive; the returned promise settles when all are done.
 */
export async function warmUp(parameters) {
  mulSecret(G, 2n);
  await pause();
  mulPublic(G, 3n);
  if (!parameters) return;
  await pause();
  precomputeKey(parameters.public_key);
  await pause();
  const fewest = (q) => Array.from({ length: q.min }, (_, o) => o);
  buildBallot(parameters, parameters.manifest.questions.map(fewest), osRandom.scalar()); // discarded
}
