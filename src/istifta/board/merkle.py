"""Merkle tree hashing exactly as RFC 9162 §2.1 (PROTOCOL.md §4, §6).

Pure: leaves in, hashes out. Leaf ``SHA-256(0x00 ‖ entry)``, node
``SHA-256(0x01 ‖ left ‖ right)``, and the hash of the empty tree is
``SHA-256("")``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

__all__ = ["leaf_hash", "node_hash", "tree_hash", "tree_hash_of_leaf_hashes"]


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def tree_hash(entries: Iterable[bytes]) -> bytes:
    """``MTH(D[n])`` over the entries, in order."""
    return tree_hash_of_leaf_hashes(leaf_hash(e) for e in entries)


def tree_hash_of_leaf_hashes(hashes: Iterable[bytes]) -> bytes:
    """``MTH`` from leaf hashes, streaming: keeps one hash per level (log n memory).

    RFC 9162 splits at the largest power of two below ``n``; folding complete
    subtrees left to right as they fill, then joining the remaining ones from
    the smallest up, gives the same root.
    """
    stack: list[tuple[int, bytes]] = []  # (subtree size, hash), sizes strictly decreasing
    for h in hashes:
        size, node = 1, h
        while stack and stack[-1][0] == size:
            left_size, left = stack.pop()
            size, node = left_size + size, node_hash(left, node)
        stack.append((size, node))
    if not stack:
        return hashlib.sha256(b"").digest()
    _, root = stack.pop()
    while stack:
        _, left = stack.pop()
        root = node_hash(left, root)
    return root
