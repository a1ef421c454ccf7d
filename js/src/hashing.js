// Hashing and canonical JSON (PROTOCOL.md §1): enc, Hs, jcs, jhash.

import './compat.js'; // before noble
import canonicalize from 'canonicalize';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { bytesToHex, concatBytes, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { Point, decodeScalar, pointBytes, scalarBytes, scalarFromWide } from './group.js';

const ASCII = /^[\x00-\x7f]*$/;
const HEX = /^(?:[0-9a-f]{2})*$/;

/** 4-byte big-endian length of `bytes`, then `bytes`. */
export function enc(bytes) {
  const out = new Uint8Array(4 + bytes.length);
  new DataView(out.buffer).setUint32(0, bytes.length);
  out.set(bytes, 4);
  return out;
}

/** RFC 8785 canonical JSON bytes of `value`. */
export const jcs = (value) => utf8ToBytes(canonicalize(value));

export const sha256hex = (bytes) => bytesToHex(sha256(bytes));

/** Lowercase hex of SHA-256(jcs(value)). */
export const jhash = (value) => sha256hex(jcs(value));

function hexItem(hex, what) {
  if (typeof hex !== 'string' || !HEX.test(hex)) throw new TypeError(`Hs: ${what} must be lowercase hex`);
  return hexToBytes(hex);
}

/** An integer as 8 bytes big-endian (0 ≤ n < 2^64). */
export function u64(n) {
  const big = BigInt(n);
  if (typeof n === 'boolean' || big < 0n || big >= 1n << 64n) {
    throw new TypeError('Hs: integers enter as 8-byte unsigned values');
  }
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, big);
  return out;
}

/**
 * The bytes one `Hs` input stands for, before its length prefix:
 * Uint8Array as is; a Point, {point: hex}, {scalar: bigint | hex} as 32 bytes;
 * {str: s} as UTF-8; {int: n} as 8 bytes big-endian; {hash: hex} or
 * {bytes: hex} as the raw bytes.
 */
export function hsItem(item) {
  if (item instanceof Uint8Array) return item;
  if (item instanceof Point) return pointBytes(item);
  if (item === null || typeof item !== 'object') throw new TypeError('Hs: unknown input');
  if ('point' in item) return hexItem(item.point, 'a point');
  if ('scalar' in item) {
    const s = item.scalar;
    return scalarBytes(typeof s === 'string' ? decodeScalar(s) : s);
  }
  if ('str' in item) return utf8ToBytes(item.str);
  if ('int' in item) return u64(item.int);
  if ('hash' in item) return hexItem(item.hash, 'a hash');
  if ('bytes' in item) return hexItem(item.bytes, 'bytes');
  throw new TypeError('Hs: unknown input');
}

/** Hs(tag, x1…xn) = SHA-512(enc(tag) ‖ enc(x1) ‖ … ‖ enc(xn)) read little-endian, mod ℓ. */
export function hs(tag, ...inputs) {
  if (!ASCII.test(tag)) throw new TypeError('Hs: tags are ASCII');
  const parts = [enc(utf8ToBytes(tag)), ...inputs.map((item) => enc(hsItem(item)))];
  return scalarFromWide(sha512(concatBytes(...parts)));
}
