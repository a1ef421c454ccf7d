"""Ballot JSON for the property tests: walk and change its fields, re-sign it
as a cheating voter's device would, and build ballots of any shape from the
protocol's primitives (PROTOCOL.md §5), independently of ``build_ballot``."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import strategies as st

from istifta.crypto.credentials import credential_secret
from istifta.crypto.elgamal import encrypt, sum_ciphertexts
from istifta.crypto.group import Point, Scalar, random_scalar
from istifta.crypto.hashing import jcs, sha256
from istifta.crypto.proofs import Proof, RangeProof, prove_range, prove_schnorr
from istifta.crypto.rng import SeededRandom
from istifta.errors import InvalidBallot
from istifta.protocol.ballot import Ballot, build_ballot, parse_ballot, verify_ballot
from istifta.testing import Election

from .strategies import ballot_selections, seeds

Path = tuple[str | int, ...]
PROOF_CHECKS = ("choice_proof", "sum_proof")
SUM_CONTEXT = 2**32 - 1


# -- reading and changing a ballot's JSON -------------------------------------


def kind_of(path: Path) -> str:
    """What the field at ``path`` holds, from its key; an unknown key fails the test,
    so that a field added to ballots cannot escape these properties."""
    key = path[-1]
    kinds = {
        "election_hash": "hash",
        "credential": "credential",
        "alpha": "alpha",
        "beta": "beta",
        "c": "scalar",
        "z": "scalar",
    }
    assert key in kinds, f"ballot field {path} is unknown to the mutation tests"
    return kinds[key]


def leaves(obj: Any, path: Path = ()) -> Iterator[Path]:
    """The path of every leaf of a ballot's JSON, walked generically."""
    if isinstance(obj, dict):
        for key in sorted(obj):
            yield from leaves(obj[key], (*path, key))
    elif isinstance(obj, list):
        for i, item in enumerate(obj):
            yield from leaves(item, (*path, i))
    else:
        assert isinstance(obj, str), f"ballot field {path} is not a string: {obj!r}"
        kind_of(path)
        yield path


def get_at(obj: Any, path: Path) -> Any:
    for key in path:
        obj = obj[key]
    return obj


def set_at(raw: dict[str, Any], path: Path, value: str) -> dict[str, Any]:
    out = copy.deepcopy(raw)
    parent = get_at(out, path[:-1])
    parent[path[-1]] = value
    return out


def swap_answers(raw: dict[str, Any], q1: int, q2: int) -> dict[str, Any]:
    out = copy.deepcopy(raw)
    a = out["answers"]
    a[q1], a[q2] = a[q2], a[q1]
    return out


def swap_choices(raw: dict[str, Any], q: int, o1: int, o2: int, with_proofs: bool) -> dict[str, Any]:
    out = copy.deepcopy(raw)
    keys = ("choices", "choice_proofs") if with_proofs else ("choices",)
    for key in keys:
        items = out["answers"][q][key]
        items[o1], items[o2] = items[o2], items[o1]
    return out


def resign(election: Election, raw: dict[str, Any], code: str) -> dict[str, Any]:
    """Sign ``raw``'s body anew with the credential ``code`` derives, exactly as
    §5 says (``jcs`` by RFC 8785), and put that credential in the ballot."""
    params = election.params
    x = credential_secret(bytes.fromhex(params.manifest.manifest_hash), code)
    P = Point.base_mul(x)  # noqa: N806
    body = {k: v for k, v in raw.items() if k != "signature"}
    body["credential"] = P.hex()
    context = (params.election_hash_bytes, P, sha256(jcs(body)))
    sig = prove_schnorr(x, "istifta/1/ballot-sig", context, SeededRandom("re-sign"))
    return {**body, "signature": {"c": sig.c.hex(), "z": sig.z.hex()}}


def rejection(election: Election, raw: dict[str, Any]) -> InvalidBallot:
    """Parse ``raw`` (it must parse) and return the :class:`InvalidBallot` that verifying raises."""
    ballot = parse_ballot(raw)
    with pytest.raises(InvalidBallot) as info:
        verify_ballot(election.params, ballot, election.is_eligible)
    return info.value


def assert_caught_by_its_proof(exc: InvalidBallot, path: Path) -> None:
    """A re-signed change inside answer ``q`` is refused by a proof of answer ``q``:
    the changed proof itself, or, for a changed ciphertext, a proof covering it."""
    assert path[0] == "answers", path
    q, part = path[1], path[2]
    if part == "sum_proof":
        assert (exc.check, exc.question) == ("sum_proof", q), exc
    elif part == "choice_proofs":
        assert (exc.check, exc.question, exc.option) == ("choice_proof", q, path[3]), exc
    else:
        assert part == "choices", path
        assert exc.check in PROOF_CHECKS and exc.question == q, exc
        if exc.check == "choice_proof":
            assert exc.option == path[3], exc


# -- drawing ballots -------------------------------------------------------------


@dataclass(frozen=True)
class Cast:
    voter: int
    selections: list[list[int]]
    ballot: Ballot


def draw_cast(data: st.DataObject, election: Election) -> Cast:
    voter = data.draw(st.integers(0, len(election.codes) - 1), label="voter")
    chosen = data.draw(ballot_selections(election.params.manifest), label="selections")
    seed = data.draw(seeds(), label="seed")
    ballot = build_ballot(election.params, election.codes[voter], chosen, SeededRandom(seed))
    return Cast(voter, chosen, ballot)


# -- ballots of any shape --------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    """What one answer carries: how many choices, and the sum proof's allowed values."""

    choices: int
    sum_allowed: tuple[int, ...]


def shapes_of(election: Election) -> list[Shape]:
    return [Shape(q.explicit_options, q.sum_allowed) for q in election.params.manifest.questions]


def forge(election: Election, code: str, shapes: Sequence[Shape], seed: str) -> dict[str, Any]:
    """A ballot of the given shape whose every proof is honest and which is
    signed by ``code``: §5 step by step, with the fewest choices its sums allow."""
    params = election.params
    K, eh = params.public_key, params.election_hash_bytes  # noqa: N806
    x = credential_secret(bytes.fromhex(params.manifest.manifest_hash), code)
    P = Point.base_mul(x)  # noqa: N806
    rng = SeededRandom(seed)
    answers = []
    for q, shape in enumerate(shapes):
        ones = min(shape.sum_allowed, default=0)
        vector = [int(o < ones) for o in range(shape.choices)]
        cts, proofs, rs = [], [], []
        for o, v in enumerate(vector):
            r = random_scalar(rng)
            cts.append(encrypt(K, v, r))
            rs.append(r)
            proofs.append(prove_range(K, cts[-1], r, v, (0, 1), (eh, P, q, o), rng))
        sum_proof: RangeProof = ()
        if shape.sum_allowed:
            r_sum = Scalar(sum(r.value for r in rs))
            context = (eh, P, q, SUM_CONTEXT)
            total = sum_ciphertexts(cts)
            sum_proof = prove_range(K, total, r_sum, ones, shape.sum_allowed, context, rng)
        answers.append(
            {
                "choices": [{"alpha": ct.alpha.hex(), "beta": ct.beta.hex()} for ct in cts],
                "choice_proofs": [[_proof(p) for p in rp] for rp in proofs],
                "sum_proof": [_proof(p) for p in sum_proof],
            }
        )
    body = {"election_hash": params.election_hash, "credential": P.hex(), "answers": answers}
    return resign(election, body, code)


def _proof(p: Proof) -> dict[str, str]:
    return {"c": p.c.hex(), "z": p.z.hex()}
