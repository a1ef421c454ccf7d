"""RFC 9162 inclusion and consistency proofs, from stored complete subtrees."""

from __future__ import annotations

import hashlib

import pytest

from istifta.board.merkle import (
    MemoryTree,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    tree_hash,
    verify_consistency,
    verify_inclusion,
)

ENTRIES = [f"entry {i}".encode() for i in range(64)]
LEAVES = [leaf_hash(e) for e in ENTRIES]
TREE = MemoryTree(LEAVES)


def test_the_seven_leaf_tree_of_rfc_9162_section_2_1_5() -> None:
    # RFC 9162 §2.1.5: the tree of d0…d6, hashes named a…l as in its figure.
    a, b, c, d, e, f, j = (LEAVES[i] for i in range(7))
    g, h, i_, k = (
        node_hash(a, b),
        node_hash(c, d),
        node_hash(e, f),
        node_hash(node_hash(a, b), node_hash(c, d)),
    )
    l_ = node_hash(i_, j)
    root = node_hash(k, l_)
    assert TREE.root(7) == root == tree_hash(ENTRIES[:7])
    assert inclusion_proof(0, 7, TREE.node) == [b, h, l_]  # "the audit path for d0 is [b, h, l]"
    assert inclusion_proof(3, 7, TREE.node) == [c, g, l_]  # "for d3 is [c, g, l]"
    assert inclusion_proof(4, 7, TREE.node) == [f, j, k]  # "for d4 is [f, j, k]"
    assert inclusion_proof(6, 7, TREE.node) == [i_, k]  # "for d6 is [i, k]"
    assert consistency_proof(3, 7, TREE.node) == [
        c,
        d,
        g,
        l_,
    ]  # "between hash0 and hash is [c, d, g, l]"
    assert consistency_proof(4, 7, TREE.node) == [l_]  # "between hash1 and hash is [l]"
    assert consistency_proof(6, 7, TREE.node) == [i_, j, k]  # "between hash2 and hash is [i, j, k]"
    assert g == node_hash(a, b) and h == node_hash(c, d)


@pytest.mark.parametrize("size", range(1, 65))
def test_every_leaf_of_every_size_up_to_64_is_proven_included(size: int) -> None:
    root = TREE.root(size)
    for index in range(size):
        proof = inclusion_proof(index, size, TREE.node)
        assert verify_inclusion(LEAVES[index], index, size, proof, root)
        other = LEAVES[(index + 1) % 64]
        assert not verify_inclusion(other, index, size, proof, root)
        if proof:
            forged = [bytes(32), *proof[1:]]
            assert not verify_inclusion(LEAVES[index], index, size, forged, root)
            assert not verify_inclusion(LEAVES[index], index, size, proof[:-1], root)
        assert not verify_inclusion(LEAVES[index], index, size, [*proof, bytes(32)], root)


@pytest.mark.parametrize("new", range(1, 65))
def test_every_pair_of_sizes_up_to_64_is_proven_consistent(new: int) -> None:
    new_root = TREE.root(new)
    for old in range(0, new + 1):
        proof = consistency_proof(old, new, TREE.node)
        old_root = TREE.root(old)
        assert verify_consistency(old, new, old_root, new_root, proof)
        if 0 < old < new:
            assert not verify_consistency(old, new, old_root, hashlib.sha256(b"other").digest(), proof)
            assert not verify_consistency(old, new, hashlib.sha256(b"x").digest(), new_root, proof)
            assert not verify_consistency(old, new, old_root, new_root, proof[:-1])
            # A tree that rewrote leaf 0 after the fact is not an extension.
            rewritten = MemoryTree([leaf_hash(b"rewritten"), *LEAVES[1:new]])
            assert not verify_consistency(
                old, new, old_root, rewritten.root(new), consistency_proof(old, new, rewritten.node)
            )


def test_the_empty_tree_and_out_of_range_requests() -> None:
    assert TREE.root(0) == hashlib.sha256(b"").digest()
    assert consistency_proof(0, 5, TREE.node) == []
    with pytest.raises(ValueError, match="not in a tree of size 3"):
        inclusion_proof(3, 3, TREE.node)
    with pytest.raises(ValueError, match="from size 6 to 5"):
        consistency_proof(6, 5, TREE.node)
    assert not verify_inclusion(LEAVES[0], 5, 5, [], TREE.root(5))
    assert not verify_consistency(6, 5, TREE.root(5), TREE.root(5), [])
