// What the ballot code needs from the election parameters as served
// ({manifest, trustees, public_key, electorate}, PROTOCOL.md §2).

import { hexToBytes } from '@noble/hashes/utils.js';
import { ProtocolError } from './errors.js';
import { decodePoint } from './group.js';
import { jhash } from './hashing.js';

const keys = new Map(); // public key hex → decoded point, kept with noble's tables

/** K decoded once per page, so that a precomputed table survives between ballots. */
export function publicKey(hex) {
  let K = keys.get(hex);
  if (!K) {
    K = decodePoint(hex, 'parameters.public_key');
    if (keys.size >= 4) keys.clear();
    keys.set(hex, K);
  }
  return K;
}

/** Precompute K's multiplication table (done by warmUp while the voter reads). */
export function precomputeKey(hex) {
  publicKey(hex).precompute(4, false);
}

const badParameters = (message, question) => new ProtocolError('bad_parameters', message, { question });

/**
 * One question: k options, min … max chosen. An exactly-one question
 * (min = max = 1) carries its first k − 1 options only; its sum proof allows
 * {0, 1}, and is absent when k = 2. Otherwise the sum allows min … max.
 */
function readQuestion(raw, q) {
  const k = Array.isArray(raw?.options) ? raw.options.length : 0;
  const { min, max } = raw ?? {};
  const whole = Number.isInteger(min) && Number.isInteger(max);
  if (k < 2 || !whole || min < 0 || min > max || max > k || max < 1) {
    throw badParameters('expected 2 or more options and 0 ≤ min ≤ max ≤ options, max ≥ 1', q);
  }
  if (min === 1 && max === 1) return { k, min, max, carried: k - 1, sumAllowed: k === 2 ? [] : [0, 1] };
  const sumAllowed = Array.from({ length: max - min + 1 }, (_, i) => min + i);
  return { k, min, max, carried: k, sumAllowed };
}

/** The election as the ballot code uses it: hash, K and the questions' shapes. */
export function readElection(parameters) {
  const questions = parameters?.manifest?.questions;
  if (!Array.isArray(questions) || questions.length === 0) {
    throw badParameters('parameters.manifest.questions: expected a list of questions');
  }
  const hash = jhash(parameters);
  return {
    hash,
    hashBytes: hexToBytes(hash),
    manifestHash: jhash(parameters.manifest),
    K: publicKey(parameters.public_key),
    questions: questions.map(readQuestion),
  };
}
