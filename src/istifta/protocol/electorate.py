"""The electorate's public record (PROTOCOL.md §4): sorted leaves and their Merkle root."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from istifta.board.merkle import tree_hash
from istifta.crypto.group import Point
from istifta.crypto.hashing import jcs_plain
from istifta.errors import DecodeError

__all__ = ["Eligible", "MAX_REGION", "electorate_leaves", "electorate_root"]

MAX_REGION = 64


@dataclass(frozen=True, slots=True)
class Eligible:
    """One voter in the public record: a public credential and an optional region label."""

    credential: Point
    region: str | None = None

    def leaf(self) -> bytes:
        """``jcs({"credential": P, "region": …})``, ``region`` left out when there is none."""
        obj = {"credential": self.credential.hex()}
        if self.region is not None:
            obj["region"] = self.region
        return jcs_plain(obj)


def electorate_leaves(voters: Iterable[Eligible]) -> list[bytes]:
    """The leaves sorted by the bytes of ``P``; a repeated credential is refused."""
    ordered = sorted(voters, key=lambda v: v.credential.to_bytes())
    for prev, cur in zip(ordered, ordered[1:], strict=False):
        if prev.credential == cur.credential:
            raise DecodeError(f"credential {cur.credential.hex()} appears twice in the electorate")
    for v in ordered:
        if v.credential.is_identity:
            raise DecodeError("the identity is not a credential")
        if v.region is not None and not (0 < len(v.region) <= MAX_REGION and v.region.strip()):
            raise DecodeError(f"region {v.region!r}: expected 1 to {MAX_REGION} characters")
    return [v.leaf() for v in ordered]


def electorate_root(leaves: Iterable[bytes]) -> str:
    """The RFC 9162 tree hash over the sorted leaves, in hex."""
    return tree_hash(leaves).hex()
