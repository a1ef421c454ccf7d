// Checking a receipt on the phone (PROTOCOL.md §6): the board's Ed25519
// signature on the tree head, the RFC 9162 inclusion proof of the entry, and
// the voter's credential in the electorate's tree.

import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { jcs } from '../protocol.js';

const join = (...parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

export const leafHash = (entryBytes) => sha256(join(Uint8Array.of(0), entryBytes));
const nodeHash = (left, right) => sha256(join(Uint8Array.of(1), left, right));

/** RFC 9162 §2.1.3.2: the root an inclusion proof leads to, or null if malformed. */
export function rootFromInclusion(leaf, index, size, proof) {
  if (index >= size) return null;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const hex of proof) {
    const p = hexToBytes(hex);
    if (sn === 0) return null;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? bytesToHex(r) : null;
}

/** Does the board's key sign this tree head? */
export function treeHeadSigned(head, boardKey) {
  const signed = jcs({ size: head.size, root: head.root, timestamp: head.timestamp });
  try {
    return ed25519.verify(hexToBytes(head.signature), signed, hexToBytes(boardKey));
  } catch {
    return false;
  }
}

/** The receipt holds: the entry is our ballot, it is in the signed tree. */
export function receiptHolds(receipt, entry, ballot, boardKey) {
  const same = bytesToHex(jcs(entry.ballot)) === bytesToHex(jcs(ballot));
  const leaf = leafHash(jcs(entry));
  const root = rootFromInclusion(leaf, receipt.index, receipt.tree_head.size, receipt.inclusion_proof);
  return same && root === receipt.tree_head.root && treeHeadSigned(receipt.tree_head, boardKey);
}

/** The server's proof that P is in the electorate leads to the parameters' root. */
export function inElectorate(proof, P, electorate) {
  let leaf;
  try {
    leaf = JSON.parse(proof.leaf);
  } catch {
    return false;
  }
  const leafBytes = new TextEncoder().encode(proof.leaf);
  const root = rootFromInclusion(leafHash(leafBytes), proof.index, electorate.size, proof.proof);
  return leaf.credential === P && bytesToHex(jcs(leaf)) === bytesToHex(leafBytes) && root === electorate.root;
}
