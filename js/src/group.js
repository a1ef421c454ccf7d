// The group: ristretto255 points and scalars mod ℓ (PROTOCOL.md §1).
//
// Decoding is the only way in from outside: decodePoint and decodeScalar
// either return a valid value or throw. Points are noble's ristretto255
// points; scalars are bigints in [0, ℓ).

import './compat.js'; // before noble
import { ristretto255 } from '@noble/curves/ed25519.js';
import { bytesToNumberLE, numberToBytesLE } from '@noble/curves/utils.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { ProtocolError } from './errors.js';

export const Point = ristretto255.Point;
export const L = Point.Fn.ORDER;
export const G = Point.BASE;
export const IDENTITY = Point.ZERO;

const HEX32 = /^[0-9a-f]{64}$/;
const encodings = new WeakMap(); // Point → its 32 bytes, computed once

export const mod = (a) => ((a % L) + L) % L;

function hex32(text, what, code) {
  if (typeof text !== 'string' || !HEX32.test(text)) {
    throw new ProtocolError(code, `${what}: expected 64 lowercase hex characters`);
  }
  return hexToBytes(text);
}

/** A point from its hex encoding: canonical only, bit 255 clear, the identity only if allowed. */
export function decodePoint(hex, what = 'point', allowIdentity = false) {
  const bytes = hex32(hex, what, 'bad_point');
  const nonCanonical = () => new ProtocolError('bad_point', `${what}: not a canonical ristretto255 encoding`);
  // RFC 9496 refuses s ≥ 2^255 (noble does too); checked first, in the order of group.py.
  if (bytes[31] & 0x80) throw nonCanonical();
  if (bytes.every((b) => b === 0)) {
    if (allowIdentity) return IDENTITY;
    throw new ProtocolError('bad_point', `${what}: the identity element is not allowed here`);
  }
  let P;
  try {
    P = Point.fromBytes(bytes);
  } catch {
    throw nonCanonical();
  }
  encodings.set(P, bytes);
  return P;
}

/** The 32-byte canonical encoding of a point (the identity is 32 zero bytes). */
export function pointBytes(P) {
  let bytes = encodings.get(P);
  if (!bytes) {
    bytes = P.toBytes();
    encodings.set(P, bytes);
  }
  return bytes;
}

export const pointHex = (P) => bytesToHex(pointBytes(P));

/** A scalar from its hex encoding (32 bytes little-endian); values ≥ ℓ are refused. */
export function decodeScalar(hex, what = 'scalar') {
  const s = bytesToNumberLE(hex32(hex, what, 'bad_scalar'));
  if (s >= L) throw new ProtocolError('bad_scalar', `${what}: not reduced modulo the group order`);
  return s;
}

export const scalarBytes = (s) => numberToBytesLE(mod(s), 32);
export const scalarHex = (s) => bytesToHex(scalarBytes(s));
export const scalarFromWide = (bytes) => mod(bytesToNumberLE(bytes));

/** `s·P` for a secret `s` (constant-time ladder); the identity when s = 0 or P is. */
export function mulSecret(P, s) {
  s = mod(s);
  return s === 0n || P.is0() ? IDENTITY : P.multiply(s);
}

/** `s·P` for a public `s` (faster, variable time); 0 gives the identity. */
export const mulPublic = (P, s) => P.multiplyUnsafe(mod(s));

const small = [IDENTITY, G];

/** `v·G` for the small values range proofs use. */
export function smallMultiple(v) {
  if (v > 64) return mulPublic(G, BigInt(v));
  while (small.length <= v) small.push(small[small.length - 1].add(G));
  return small[v];
}
