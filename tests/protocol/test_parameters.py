"""Election parameters (PROTOCOL.md §2, §3, §8 step 2): parsed and checked as a
verifier does, hashed into ``election_hash``."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
import rfc8785

from istifta.crypto.group import G, Point, Scalar
from istifta.crypto.hashing import jhash
from istifta.crypto.proofs import prove_schnorr
from istifta.crypto.rng import SeededRandom
from istifta.crypto.threshold import POK_TAG, TrusteePublic, generate_trustee
from istifta.errors import CeremonyError, DecodeError
from istifta.protocol.manifest import parse_manifest
from istifta.protocol.parameters import freeze_parameters, parse_parameters
from istifta.testing import Election, manifest_json

ROOT = hashlib.sha256(b"electorate").hexdigest()


def wire(election: Election) -> dict[str, Any]:
    """The parameters as a verifier downloads them."""
    raw: dict[str, Any] = json.loads(json.dumps(election.params.to_json()))
    return raw


def test_parameters_round_trip_with_the_same_election_hash(yes_no: Election) -> None:
    params = parse_parameters(wire(yes_no))
    assert params.election_hash == yes_no.params.election_hash
    assert params.public_key == yes_no.params.public_key
    assert params.trustees == yes_no.params.trustees
    assert params.electorate_size == 6
    assert params.manifest.manifest_hash == yes_no.params.manifest.manifest_hash
    assert params.to_json() == yes_no.params.to_json()


def test_election_hash_is_jhash_of_the_parameters(mixed: Election) -> None:
    raw = mixed.params.to_json()
    assert mixed.params.election_hash == jhash(raw)
    assert mixed.params.election_hash == hashlib.sha256(rfc8785.dumps(raw)).hexdigest()
    assert mixed.params.election_hash_bytes == bytes.fromhex(mixed.params.election_hash)
    assert set(raw) == {"manifest", "trustees", "public_key", "electorate"}


def test_the_election_hash_binds_the_electorate(yes_no: Election) -> None:
    raw = wire(yes_no)
    raw["electorate"]["root"] = ROOT
    assert parse_parameters(raw).election_hash != yes_no.params.election_hash
    raw = wire(yes_no)
    raw["electorate"]["size"] = 7
    assert parse_parameters(raw).election_hash != yes_no.params.election_hash


Edit = Callable[[dict[str, Any]], None]


def _other_scalar(raw: dict[str, Any], key: str) -> None:
    pok = raw["trustees"][1]["pok"]
    pok[key] = (Scalar.from_hex(pok[key]) + Scalar(1)).hex()


def _swap_poks(raw: dict[str, Any]) -> None:
    t = raw["trustees"]
    t[0]["pok"], t[1]["pok"] = t[1]["pok"], t[0]["pok"]


def _swap_trustees(raw: dict[str, Any]) -> None:
    t = raw["trustees"]
    t[0], t[1] = t[1], t[0]


CEREMONY_FAILURES: list[tuple[str, Edit, str]] = [
    ("pok.c tampered", lambda r: _other_scalar(r, "c"), "trustee 2's proof of knowledge"),
    ("pok.z tampered", lambda r: _other_scalar(r, "z"), "trustee 2's proof of knowledge"),
    ("poks swapped", _swap_poks, "trustee 1's proof of knowledge"),
    (
        "commitment replaced",
        lambda r: r["trustees"][2]["commitments"].__setitem__(0, G.hex()),
        "trustee 3's proof of knowledge",
    ),
    (
        "public key not the sum",
        lambda r: r.__setitem__("public_key", G.hex()),
        "parameters.public_key is not the sum of the trustees' C_i,0",
    ),
]


@pytest.mark.parametrize(
    ("edit", "complaint"),
    [(e, c) for _, e, c in CEREMONY_FAILURES],
    ids=[n for n, _, _ in CEREMONY_FAILURES],
)
def test_key_material_that_does_not_check_is_a_ceremony_error(
    yes_no: Election, edit: Edit, complaint: str
) -> None:
    raw = wire(yes_no)
    edit(raw)
    with pytest.raises(CeremonyError) as info:
        parse_parameters(raw)
    assert complaint in str(info.value)


def _drop(path: list[Any]) -> Edit:
    def edit(raw: dict[str, Any]) -> None:
        target: Any = raw
        for step in path[:-1]:
            target = target[step]
        del target[path[-1]]

    return edit


def _put(path: list[Any], value: Any) -> Edit:
    def edit(raw: dict[str, Any]) -> None:
        target: Any = raw
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value

    return edit


DECODE_FAILURES: list[tuple[str, Edit, str]] = [
    (
        "identity commitment",
        _put(["trustees", 0, "commitments", 1], "00" * 32),
        "parameters.trustees[0].commitments[1]: the identity element is not allowed",
    ),
    (
        "identity public key",
        _put(["public_key"], "00" * 32),
        "parameters.public_key: the identity element is not allowed",
    ),
    (
        "too few commitments",
        _drop(["trustees", 1, "commitments", 1]),
        "parameters.trustees[1].commitments: expected 2 items, got 1",
    ),
    (
        "too many commitments",
        lambda r: r["trustees"][1]["commitments"].append(G.hex()),
        "parameters.trustees[1].commitments: expected 2 items, got 3",
    ),
    ("a trustee missing", _drop(["trustees", 2]), "parameters.trustees: expected 3 items, got 2"),
    (
        "trustees out of order",
        _swap_trustees,
        "parameters.trustees[0].index: expected a number from 1 to 1, got 2",
    ),
    (
        "electorate of nobody",
        _put(["electorate", "size"], 0),
        "parameters.electorate.size: expected a number from 1",
    ),
    (
        "electorate root in upper case",
        _put(["electorate", "root"], ROOT.upper()),
        "parameters.electorate.root",
    ),
    (
        "non-canonical commitment",
        _put(["trustees", 0, "commitments", 0], "f3" + "ff" * 30 + "7f"),
        "parameters.trustees[0].commitments[0]: not a canonical",
    ),
    ("unknown key", _put(["note"], "x"), "parameters.note: unexpected key"),
    ("missing pok", _drop(["trustees", 0, "pok"]), "parameters.trustees[0].pok: missing"),
    ("scalar too large", _put(["trustees", 0, "pok", "z"], "ff" * 32), "trustees[0].pok.z"),
]


@pytest.mark.parametrize(
    ("edit", "complaint"),
    [(e, c) for _, e, c in DECODE_FAILURES],
    ids=[n for n, _, _ in DECODE_FAILURES],
)
def test_malformed_parameters_are_a_decode_error_naming_the_path(
    yes_no: Election, edit: Edit, complaint: str
) -> None:
    raw = wire(yes_no)
    edit(raw)
    with pytest.raises(DecodeError) as info:
        parse_parameters(raw)
    assert complaint in str(info.value)


def test_a_malformed_manifest_inside_is_refused(yes_no: Election) -> None:
    raw = wire(yes_no)
    raw["manifest"]["trustees"]["threshold"] = 3
    with pytest.raises(DecodeError, match="commitments: expected 3 items, got 2"):
        parse_parameters(raw)
    raw = wire(yes_no)
    raw["manifest"]["slug"] = "Not A Slug"
    with pytest.raises(DecodeError, match="slug"):
        parse_parameters(raw)


def test_verification_keys_exist_only_for_trustees(yes_no: Election) -> None:
    for j in (1, 2, 3):
        assert not yes_no.params.verification_key(j).is_identity
    for j in (0, 4, -1):
        with pytest.raises(DecodeError, match=f"no trustee {j}"):
            yes_no.params.verification_key(j)


# --- freeze_parameters, as the organiser runs it -------------------------------------------


def _ceremony(n: int, threshold: int) -> tuple[Any, list[TrusteePublic]]:
    m = parse_manifest(manifest_json(n=n, threshold=threshold))
    rng = SeededRandom(f"parameters {n} {threshold}")
    mh = bytes.fromhex(m.manifest_hash)
    return m, [generate_trustee(i, threshold, mh, rng)[1] for i in range(1, n + 1)]


def test_freeze_sorts_trustees_and_sums_the_key() -> None:
    m, publics = _ceremony(3, 2)
    params = freeze_parameters(m, list(reversed(publics)), 10, ROOT)
    assert [t.index for t in params.trustees] == [1, 2, 3]
    expected = publics[0].commitments[0] + publics[1].commitments[0] + publics[2].commitments[0]
    assert params.public_key == expected


@pytest.mark.parametrize(
    ("pick", "shown"),
    [(lambda p: p[:2], "[1, 2]"), (lambda p: [p[0], p[1], p[1]], "[1, 2, 2]")],
    ids=["a trustee missing", "a trustee twice"],
)
def test_freeze_wants_every_trustee_once(
    pick: Callable[[list[TrusteePublic]], list[TrusteePublic]], shown: str
) -> None:
    m, publics = _ceremony(3, 2)
    with pytest.raises(CeremonyError, match=re.escape(f"expected trustees 1 to 3, got {shown}")):
        freeze_parameters(m, pick(publics), 10, ROOT)


def test_freeze_refuses_an_empty_electorate() -> None:
    m, publics = _ceremony(3, 2)
    with pytest.raises(DecodeError, match="at least one voter"):
        freeze_parameters(m, publics, 0, ROOT)


def test_freeze_refuses_keys_that_cancel_out() -> None:
    m = parse_manifest(manifest_json(n=2, threshold=1))
    mh = bytes.fromhex(m.manifest_hash)
    rng = SeededRandom("cancel")
    a = Scalar(123456789)
    publics = []
    for i, secret in ((1, a), (2, -a)):
        C = Point.base_mul(secret)  # noqa: N806
        pok = prove_schnorr(secret, POK_TAG, (mh, i, C), rng)
        publics.append(TrusteePublic(i, (C,), pok))
    with pytest.raises(CeremonyError, match="identity"):
        freeze_parameters(m, publics, 1, ROOT)


def test_a_pok_made_for_another_manifest_is_refused() -> None:
    m, publics = _ceremony(3, 2)
    mh = bytes.fromhex(parse_manifest(manifest_json(n=3, threshold=2, slug="x")).manifest_hash)
    _, foreign = generate_trustee(2, 2, mh, SeededRandom("foreign"))
    with pytest.raises(CeremonyError, match="trustee 2's proof of knowledge"):
        freeze_parameters(m, [publics[0], foreign, publics[2]], 10, ROOT)
