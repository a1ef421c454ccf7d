"""Election parameters (PROTOCOL.md §2): the manifest, the trustees' public
keys, the joint key and the electorate, frozen and hashed into ``election_hash``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from istifta.crypto.group import Point
from istifta.crypto.hashing import jhash
from istifta.crypto.threshold import TrusteePublic, joint_key, verification_key, verify_trustee
from istifta.errors import CeremonyError, DecodeError
from istifta.protocol.codec import (
    expect_int,
    expect_list,
    expect_object,
    hash_from_json,
    point_from_json,
    proof_from_json,
    proof_to_json,
)
from istifta.protocol.manifest import Manifest, parse_manifest

__all__ = ["ElectionParameters", "freeze_parameters", "parse_parameters"]

MAX_ELECTORATE = 2**40


@dataclass(frozen=True)
class ElectionParameters:
    manifest: Manifest
    trustees: tuple[TrusteePublic, ...]
    public_key: Point
    electorate_size: int
    electorate_root: str
    _vks: dict[int, Point] = field(default_factory=dict, repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "manifest": self.manifest.raw,
            "trustees": [
                {
                    "index": t.index,
                    "commitments": [c.hex() for c in t.commitments],
                    "pok": proof_to_json(t.pok),
                }
                for t in self.trustees
            ],
            "public_key": self.public_key.hex(),
            "electorate": {"size": self.electorate_size, "root": self.electorate_root},
        }

    @cached_property
    def election_hash(self) -> str:
        """``jhash(parameters)`` in hex: every ballot and proof binds to it."""
        return jhash(self.to_json())

    @cached_property
    def election_hash_bytes(self) -> bytes:
        return bytes.fromhex(self.election_hash)

    def verification_key(self, j: int) -> Point:
        """``V_j``, computed from the commitments (and kept)."""
        if not 1 <= j <= len(self.trustees):
            raise DecodeError(f"there is no trustee {j}: trustees are 1 to {len(self.trustees)}")
        if j not in self._vks:
            self._vks[j] = verification_key(self.trustees, j)
        return self._vks[j]


def freeze_parameters(
    manifest: Manifest,
    trustees: Sequence[TrusteePublic],
    electorate_size: int,
    electorate_root: str,
) -> ElectionParameters:
    """Check every trustee's commitments and proof, then compute ``K = Σ C_i,0``."""
    publics = tuple(sorted(trustees, key=lambda t: t.index))
    if [t.index for t in publics] != list(range(1, manifest.n + 1)):
        raise CeremonyError(f"expected trustees 1 to {manifest.n}, got {[t.index for t in publics]}")
    mh = bytes.fromhex(manifest.manifest_hash)
    for t in publics:
        verify_trustee(t, manifest.threshold, mh)
    if not 1 <= electorate_size <= MAX_ELECTORATE:
        raise DecodeError("the electorate must have at least one voter")
    K = joint_key(publics)  # noqa: N806
    if K.is_identity:
        raise CeremonyError("the joint key is the identity: the trustees' keys cancel out")
    return ElectionParameters(manifest, publics, K, electorate_size, electorate_root)


def parse_parameters(raw: Any) -> ElectionParameters:
    """Parse published parameters and check them as a verifier does (§8 step 2)."""
    obj = expect_object(raw, "parameters", ("manifest", "trustees", "public_key", "electorate"))
    manifest = parse_manifest(obj["manifest"])
    entries = expect_list(obj["trustees"], "parameters.trustees", manifest.n)
    trustees = []
    for i, entry in enumerate(entries):
        path = f"parameters.trustees[{i}]"
        t = expect_object(entry, path, ("index", "commitments", "pok"))
        commitments = expect_list(t["commitments"], f"{path}.commitments", manifest.threshold)
        trustees.append(
            TrusteePublic(
                expect_int(t["index"], f"{path}.index", i + 1, i + 1),
                tuple(point_from_json(c, f"{path}.commitments[{k}]") for k, c in enumerate(commitments)),
                proof_from_json(t["pok"], f"{path}.pok"),
            )
        )
    e = expect_object(obj["electorate"], "parameters.electorate", ("size", "root"))
    params = freeze_parameters(
        manifest,
        trustees,
        expect_int(e["size"], "parameters.electorate.size", 1, MAX_ELECTORATE),
        hash_from_json(e["root"], "parameters.electorate.root"),
    )
    claimed = point_from_json(obj["public_key"], "parameters.public_key")
    if claimed != params.public_key:
        raise CeremonyError("parameters.public_key is not the sum of the trustees' C_i,0")
    return params
