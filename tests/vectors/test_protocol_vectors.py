"""The published vectors: reproducible from their seeds, and consistent with
the protocol as a second implementation would check them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from istifta.crypto.credentials import credential_secret, normalise_code, public_credential
from istifta.crypto.group import Point, Scalar
from istifta.crypto.hashing import Hs, HsItem
from istifta.protocol.ballot import parse_ballot, verify_ballot
from istifta.protocol.electorate import electorate_root
from istifta.protocol.parameters import parse_parameters
from istifta.protocol.tally import Tally, combine, parse_partial_decryption, tally

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "tests" / "vectors" / "protocol-v1.json"


@pytest.fixture(scope="module")
def vectors() -> dict[str, Any]:
    return json.loads(VECTORS.read_text(encoding="utf-8"))


def test_the_generator_reproduces_the_file_byte_for_byte() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "make_vectors.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def _item(entry: dict[str, Any]) -> HsItem:
    kind, value = entry["type"], entry["value"]
    if kind == "point":
        return Point.from_hex(value, allow_identity=True)
    if kind == "scalar":
        return Scalar.from_hex(value)
    if kind == "bytes":
        return bytes.fromhex(value)
    if kind == "string":
        return str(value)
    return int(value)


def test_every_hs_example_recomputes(vectors: dict[str, Any]) -> None:
    tags = {case["tag"] for case in vectors["hs"]}
    assert tags == {
        "istifta/1/credential",
        "istifta/1/trustee-pok",
        "istifta/1/range",
        "istifta/1/ballot-sig",
        "istifta/1/decrypt",
    }
    for case in vectors["hs"]:
        items = [_item(i) for i in case["inputs"]]
        assert Hs(case["tag"], *items).hex() == case["output"]


def test_credentials_derive_from_codes_as_typed(vectors: dict[str, Any]) -> None:
    mh = bytes.fromhex(vectors["manifest_hash"])
    for c in vectors["credentials"]:
        assert normalise_code(c["as_typed"]) == c["code"]
        x = credential_secret(mh, c["as_typed"])
        assert x.hex() == c["x"]
        assert public_credential(x).hex() == c["P"]


def test_parameters_hash_and_keys(vectors: dict[str, Any]) -> None:
    params = parse_parameters(vectors["parameters"])
    assert params.manifest.manifest_hash == vectors["manifest_hash"]
    assert params.election_hash == vectors["election_hash"]
    ceremony = vectors["ceremony"]
    assert params.public_key.hex() == ceremony["public_key"]
    for j, share in ceremony["shares"].items():
        s_j = Scalar.from_hex(share)
        assert Point.base_mul(s_j).hex() == ceremony["verification_keys"][j]
        assert params.verification_key(int(j)).hex() == ceremony["verification_keys"][j]


def test_electorate_root_from_leaves(vectors: dict[str, Any]) -> None:
    leaves = [leaf.encode("utf-8") for leaf in vectors["electorate"]["leaves"]]
    assert electorate_root(leaves) == vectors["electorate"]["root"]
    assert vectors["parameters"]["electorate"]["root"] == vectors["electorate"]["root"]
    credentials = [json.loads(leaf)["credential"] for leaf in vectors["electorate"]["leaves"]]
    assert credentials == sorted(credentials)


def test_every_ballot_verifies_and_tracks(vectors: dict[str, Any]) -> None:
    params = parse_parameters(vectors["parameters"])
    eligible = {json.loads(leaf)["credential"] for leaf in vectors["electorate"]["leaves"]}
    for entry in vectors["ballots"]:
        ballot = parse_ballot(entry["ballot"])
        verify_ballot(params, ballot, lambda P: P.hex() in eligible)
        assert ballot.tracker == entry["tracker"]


def test_tally_decryptions_and_counts(vectors: dict[str, Any]) -> None:
    params = parse_parameters(vectors["parameters"])
    ballots = [parse_ballot(entry["ballot"]) for entry in vectors["ballots"]]
    t = tally(params, ballots)
    published = vectors["tally"]
    assert t.to_json() == {k: published[k] for k in ("type", "ciphertexts", "counted")}
    partials = [parse_partial_decryption(pd, t) for pd in published["partial_decryptions"]]
    assert combine(params, t, partials) == published["counts"]
    assert isinstance(t, Tally)
