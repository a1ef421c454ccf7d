// Zero-knowledge proofs, all {c, z} pairs made non-interactive with Hs (PROTOCOL.md §5).
//
// A ciphertext is { alpha, beta } (points). Provers draw from an rng in the
// order docs/vectors.md fixes, so that seeded runs reproduce the vectors.

import { G, mod, mulPublic, mulSecret, smallMultiple } from './group.js';
import { hs } from './hashing.js';

export const RANGE_TAG = 'istifta/1/range';

/** a_i = z_i·G − c_i·α and b_i = z_i·K − c_i·(β − v_i·G). */
function branch(K, ct, v, c, z) {
  const shifted = v ? ct.beta.subtract(smallMultiple(v)) : ct.beta;
  return [mulPublic(G, z).subtract(mulPublic(ct.alpha, c)), mulPublic(K, z).subtract(mulPublic(shifted, c))];
}

/**
 * Prove that ct = Enc_K(v; r) with v among `allowed`; `context` is
 * (election_hash, P, q, o) as Hs takes them. Draws, in the order of
 * `allowed`: w for the real branch, c_i then z_i for every other.
 */
export function proveRange(K, ct, r, v, allowed, context, rng) {
  const j = allowed.indexOf(v);
  const cs = [];
  const zs = [];
  const commitments = [];
  let w = 0n;
  allowed.forEach((v_i, i) => {
    if (i === j) {
      w = rng.scalar();
      cs.push(0n);
      zs.push(0n);
      commitments.push(mulSecret(G, w), mulSecret(K, w));
    } else {
      const c_i = rng.scalar();
      const z_i = rng.scalar();
      cs.push(c_i);
      zs.push(z_i);
      commitments.push(...branch(K, ct, v_i, c_i, z_i));
    }
  });
  const c = hs(RANGE_TAG, ...context, ct.alpha, ct.beta, ...commitments);
  cs[j] = mod(c - cs.reduce((sum, c_i) => sum + c_i, 0n));
  zs[j] = mod(w + cs[j] * r);
  return cs.map((c_i, i) => ({ c: c_i, z: zs[i] }));
}

/** Recompute every a_i, b_i from c_i, z_i and check Σ c_i = Hs(…). */
export function verifyRange(K, ct, allowed, context, proof) {
  if (proof.length !== allowed.length) return false;
  const commitments = [];
  allowed.forEach((v_i, i) => commitments.push(...branch(K, ct, v_i, proof[i].c, proof[i].z)));
  const total = mod(proof.reduce((sum, p) => sum + p.c, 0n));
  return hs(RANGE_TAG, ...context, ct.alpha, ct.beta, ...commitments) === total;
}

/** Schnorr proof of knowledge of x: R = w·G, c = Hs(tag, context…, R), z = w + c·x. */
export function proveSchnorr(x, tag, context, rng) {
  const w = rng.scalar();
  const c = hs(tag, ...context, mulSecret(G, w));
  return { c, z: mod(w + c * x) };
}

/** Checked by R' = z·G − c·X and c = Hs(tag, context…, R'). */
export function verifySchnorr(X, tag, context, proof) {
  const R = mulPublic(G, proof.z).subtract(mulPublic(X, proof.c));
  return hs(tag, ...context, R) === proof.c;
}
