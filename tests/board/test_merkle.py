"""Merkle tree hashes exactly as RFC 9162 §2.1 (PROTOCOL.md §4, §6)."""

from __future__ import annotations

import hashlib

import pytest

from istifta.board.merkle import leaf_hash, node_hash, tree_hash, tree_hash_of_leaf_hashes


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def mth(entries: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1, word for word: split at the largest power of two smaller than n."""
    n = len(entries)
    if n == 0:
        return sha256(b"")
    if n == 1:
        return sha256(b"\x00" + entries[0])
    k = 1
    while k * 2 < n:
        k *= 2
    return sha256(b"\x01" + mth(entries[:k]) + mth(entries[k:]))


def entries(n: int) -> list[bytes]:
    """Distinct entries of varying length, the empty one included."""
    return [bytes([i % 251]) * (i % 7) + i.to_bytes(2, "big") if i else b"" for i in range(n)]


@pytest.mark.parametrize("n", range(65))
def test_tree_hash_is_rfc9162_mth_for_every_size_up_to_64(n: int) -> None:
    leaves = entries(n)
    assert tree_hash(leaves) == mth(leaves)
    assert tree_hash(iter(leaves)) == mth(leaves)
    assert tree_hash_of_leaf_hashes(leaf_hash(e) for e in leaves) == mth(leaves)


def test_the_empty_tree_is_sha256_of_nothing() -> None:
    assert tree_hash([]) == hashlib.sha256(b"").digest()
    assert tree_hash([]).hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_leaf_and_node_hashes_are_domain_separated() -> None:
    assert leaf_hash(b"abc") == sha256(b"\x00abc")
    assert node_hash(b"L" * 32, b"R" * 32) == sha256(b"\x01" + b"L" * 32 + b"R" * 32)
    assert tree_hash([b""]) != tree_hash([])


def test_trees_of_one_two_and_three_leaves_by_hand() -> None:
    a, b, c = b"election", b"ballot", b"close"
    la, lb, lc = sha256(b"\x00" + a), sha256(b"\x00" + b), sha256(b"\x00" + c)
    assert tree_hash([a]) == la
    assert tree_hash([a, b]) == sha256(b"\x01" + la + lb)
    assert tree_hash([a, b, c]) == sha256(b"\x01" + sha256(b"\x01" + la + lb) + lc)


def test_order_and_content_matter() -> None:
    assert tree_hash([b"a", b"b"]) != tree_hash([b"b", b"a"])
    assert tree_hash([b"a", b"b", b"c"]) != tree_hash([b"a", b"b"])
    # a leaf's bytes can never pass for an inner node's
    inner = sha256(b"\x00a") + sha256(b"\x00b")
    assert tree_hash([inner]) != tree_hash([b"a", b"b"])


# RFC 6962 reference test data (the Certificate Transparency / Trillian vectors):
# leaves and the roots of the first 1 … 8 of them.
CT_LEAVES = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


@pytest.mark.parametrize("n", range(1, 9))
def test_certificate_transparency_reference_roots(n: int) -> None:
    leaves = [bytes.fromhex(h) for h in CT_LEAVES[:n]]
    assert tree_hash(leaves).hex() == CT_ROOTS[n - 1]
