"""Merkle tree hashing exactly as RFC 9162 §2.1 (PROTOCOL.md §4, §6).

Pure: leaves in, hashes out. Leaf ``SHA-256(0x00 ‖ entry)``, node
``SHA-256(0x01 ‖ left ‖ right)``, and the hash of the empty tree is
``SHA-256("")``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping, Sequence

from istifta.errors import UsageError

__all__ = [
    "Frontier",
    "MemoryTree",
    "NodeLookup",
    "consistency_proof",
    "frontier_keys",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "range_hash",
    "tree_hash",
    "tree_hash_of_leaf_hashes",
    "verify_consistency",
    "verify_inclusion",
]


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def tree_hash(entries: Iterable[bytes]) -> bytes:
    """``MTH(D[n])`` over the entries, in order."""
    return tree_hash_of_leaf_hashes(leaf_hash(e) for e in entries)


def tree_hash_of_leaf_hashes(hashes: Iterable[bytes]) -> bytes:
    """``MTH`` from leaf hashes, streaming: keeps one hash per level (log n memory)."""
    frontier = Frontier()
    for h in hashes:
        frontier.append(h)
    return frontier.root()


def frontier_keys(size: int) -> list[tuple[int, int]]:
    """``(level, index)`` of the complete subtrees on the right edge of a tree of
    ``size`` leaves, smallest first: one for each bit set in ``size``."""
    return [(level, (size >> level) - 1) for level in range(size.bit_length()) if size >> level & 1]


class Frontier:
    """The right edge of a growing tree: the hash of each complete subtree that
    no later leaf can join (RFC 9162 splits at the largest power of two below
    ``n``, so folding these from the smallest up gives ``MTH``).

    ``nodes`` maps :func:`frontier_keys` of ``size`` to hashes; a log stores
    every node :meth:`append` completes, and loads the frontier back by its keys.
    """

    __slots__ = ("nodes", "size")

    def __init__(self, size: int = 0, nodes: Mapping[tuple[int, int], bytes] | None = None) -> None:
        known = nodes or {}
        self.size = size
        self.nodes = {key: known[key] for key in frontier_keys(size)}

    def copy(self) -> Frontier:
        return Frontier(self.size, self.nodes)

    def append(self, h: bytes) -> list[tuple[int, int, bytes]]:
        """Add a leaf hash; return ``(level, index, hash)`` of every subtree it completes, leaf first."""
        completed = []
        level, index = 0, self.size
        while True:
            completed.append((level, index, h))
            if not index & 1:
                self.nodes[(level, index)] = h
                break
            h = node_hash(self.nodes.pop((level, index - 1)), h)
            level, index = level + 1, index >> 1
        self.size += 1
        return completed

    def root(self) -> bytes:
        """``MTH`` of the ``size`` leaves so far."""
        keys = frontier_keys(self.size)
        if not keys:
            return hashlib.sha256(b"").digest()
        root = self.nodes[keys[0]]
        for key in keys[1:]:
            root = node_hash(self.nodes[key], root)
        return root


# --- proofs over stored complete subtrees (RFC 9162 §2.1.3 and §2.1.4) ---

NodeLookup = Callable[[int, int], bytes]
"""``node(level, index)``: the hash of the complete subtree over leaves
``[index·2^level, (index+1)·2^level)``; level 0 holds the leaf hashes. A log
stores these as they complete, so every proof below needs O(log n) look-ups."""


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (``n ≥ 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def range_hash(start: int, end: int, node: NodeLookup) -> bytes:
    """``MTH(D[start:end])`` for a range the RFC's recursion produces (``start``
    a multiple of the largest power of two not above ``end − start``)."""
    size = end - start
    if size & (size - 1) == 0:
        level = size.bit_length() - 1
        return node(level, start >> level)
    k = _split(size)
    return node_hash(range_hash(start, start + k, node), range_hash(start + k, end, node))


def inclusion_proof(index: int, size: int, node: NodeLookup) -> list[bytes]:
    """``PATH(index, D[0:size])``, leaf to root."""
    if not 0 <= index < size:
        raise UsageError(f"leaf {index} is not in a tree of size {size}")
    path: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            path.append(range_hash(start + k, end, node))
            end = start + k
        else:
            path.append(range_hash(start, start + k, node))
            start += k
    path.reverse()
    return path


def consistency_proof(old_size: int, new_size: int, node: NodeLookup) -> list[bytes]:
    """``PROOF(old_size, D[0:new_size])``; empty when the sizes are equal or ``old_size`` is 0."""
    if not 0 <= old_size <= new_size:
        raise UsageError(f"no consistency proof from size {old_size} to {new_size}")
    if old_size in (0, new_size):
        return []
    proof: list[bytes] = []
    m, start, end, complete = old_size, 0, new_size, True
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            proof.append(range_hash(start + k, end, node))
            end = start + k
        else:
            proof.append(range_hash(start, start + k, node))
            start, m = start + k, m - k
            complete = False
    if not complete:
        proof.append(range_hash(start, end, node))
    proof.reverse()
    return proof


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162 §2.1.3.2: does ``proof`` place the leaf hash ``leaf`` at ``index``?"""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and hmac.compare_digest(r, root)


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2: is the tree of ``old_size`` a prefix of the one of ``new_size``?"""
    if not 0 <= old_size <= new_size:
        return False
    if old_size == new_size:
        return not proof and hmac.compare_digest(old_root, new_root)
    if old_size == 0:
        return not proof
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    if not path:
        return False
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and hmac.compare_digest(fr, old_root) and hmac.compare_digest(sr, new_root)


class MemoryTree:
    """Complete-subtree hashes of a list of leaf hashes, in memory (tests, the verifier)."""

    def __init__(self, leaf_hashes: Sequence[bytes]) -> None:
        self.levels: list[list[bytes]] = [list(leaf_hashes)]
        while len(self.levels[-1]) > 1:
            below = self.levels[-1]
            self.levels.append([node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)])

    def node(self, level: int, index: int) -> bytes:
        return self.levels[level][index]

    def root(self, size: int | None = None) -> bytes:
        n = len(self.levels[0]) if size is None else size
        return hashlib.sha256(b"").digest() if n == 0 else range_hash(0, n, self.node)
