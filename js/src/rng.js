// Randomness sources: { bytes(n): Uint8Array, scalar(): bigint }.
//
// osRandom is the production source. SeededRandom is the deterministic test
// stream of docs/vectors.md: never for a real election, since anyone who
// knows the seed knows every secret drawn from it.

import './compat.js'; // before noble
import { sha512 } from '@noble/hashes/sha2.js';
import { concatBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { scalarFromWide } from './group.js';
import { enc, u64 } from './hashing.js';

/** The browser's CSPRNG; a random scalar is 64 bytes read little-endian, mod ℓ. */
export const osRandom = Object.freeze({
  bytes(n) {
    return globalThis.crypto.getRandomValues(new Uint8Array(n));
  },
  scalar() {
    return scalarFromWide(this.bytes(64));
  },
});

/**
 * The concatenation, for k = 0, 1, 2 …, of
 * SHA-512(enc("istifta/1/test-rng") ‖ enc(seed) ‖ k as 8-byte big-endian), read in order.
 */
export class SeededRandom {
  #prefix;
  #counter = 0;
  #buffer = new Uint8Array(0);

  constructor(seed) {
    this.#prefix = concatBytes(enc(utf8ToBytes('istifta/1/test-rng')), enc(utf8ToBytes(seed)));
  }

  bytes(n) {
    while (this.#buffer.length < n) {
      const block = sha512(concatBytes(this.#prefix, u64(this.#counter++)));
      this.#buffer = concatBytes(this.#buffer, block);
    }
    const out = this.#buffer.slice(0, n);
    this.#buffer = this.#buffer.slice(n);
    return out;
  }

  scalar() {
    return scalarFromWide(this.bytes(64));
  }
}
