"""Ballots (PROTOCOL.md §5): every honest ballot verifies and round-trips
through JSON with its tracker, and every single-field change to one is refused.

A changed field is caught by the signature anyway, so each change is also
tried *re-signed* by the voter (a voter's own device cheating): then the
refusal must come from the proof that covers the field, which shows that each
proof binds what it should and not only the signature.
"""

from __future__ import annotations

import json
from itertools import combinations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from istifta.crypto.group import G, L, Point, Scalar
from istifta.crypto.hashing import jcs, sha256
from istifta.crypto.rng import SeededRandom
from istifta.crypto.threshold import lagrange
from istifta.errors import DecodeError
from istifta.protocol.ballot import build_ballot, parse_ballot, verify_ballot
from istifta.testing import Election, make_election, manifest_json, question_json

from .ballot_json import (
    PROOF_CHECKS,
    Cast,
    Path,
    assert_caught_by_its_proof,
    draw_cast,
    forge,
    get_at,
    kind_of,
    leaves,
    rejection,
    resign,
    set_at,
    shapes_of,
    swap_answers,
    swap_choices,
)
from .strategies import (
    ballot_selections,
    hashes,
    noncanonical_point_hex,
    points,
    points_or_identity,
    scalars,
    seeds,
    unreduced_scalar_hex,
)


@pytest.fixture(scope="module")
def twins() -> Election:
    """Two questions of the same shape, so that swapping answers passes the shape check."""
    q = question_json(["a", "b", "c"], low=0, high=2)
    return make_election(SeededRandom("twins"), manifest_json([q, q]), voters=3)


# -- drawing replacements ----------------------------------------------------


def other_hex_point(data: st.DataObject, old: str, identity: bool) -> str:
    new = data.draw(points_or_identity() if identity else points(), label="new point").hex()
    assume(new != old)
    return new


def valid_replacement(
    data: st.DataObject, election: Election, cast: Cast, path: Path, old: str
) -> tuple[str, str | None]:
    """Another valid value for the field at ``path``, and the code of the voter
    who may re-sign the changed ballot (``None``: re-signing makes no sense)."""
    kind = kind_of(path)
    if kind == "scalar":
        new = data.draw(scalars(), label="new scalar").hex()
        assume(new != old)
        return new, None if path[0] == "signature" else election.codes[cast.voter]
    if kind in ("alpha", "beta"):
        return other_hex_point(data, old, kind == "beta"), election.codes[cast.voter]
    if kind == "credential":
        if data.draw(st.booleans(), label="another voter's credential"):
            others = [i for i in range(len(election.codes)) if i != cast.voter]
            thief = data.draw(st.sampled_from(others), label="other voter")
            return election.credentials[thief].hex(), election.codes[thief]
        outsider = data.draw(points(), label="non-eligible point")
        assume(not election.is_eligible(outsider))
        return outsider.hex(), None
    new_hash = data.draw(hashes(), label="new election hash")
    assume(new_hash != old)
    return new_hash, None


# -- the properties ----------------------------------------------------------------


@settings(max_examples=40)
@given(data=st.data())
def test_built_ballot_verifies_and_round_trips(mixed: Election, data: st.DataObject) -> None:
    cast = draw_cast(data, mixed)
    verify_ballot(mixed.params, cast.ballot, mixed.is_eligible)
    raw = cast.ballot.to_json()
    assert cast.ballot.tracker == sha256(jcs(raw)).hex()  # §5, by RFC 8785 itself

    parsed = parse_ballot(json.loads(json.dumps(raw)))
    assert parsed.tracker == cast.ballot.tracker
    assert parsed.to_json() == raw
    assert parsed == cast.ballot
    verify_ballot(mixed.params, parsed, mixed.is_eligible)


@settings(max_examples=30)
@given(data=st.data())
def test_built_ballot_encrypts_the_selections(mixed: Election, data: st.DataObject) -> None:
    """Decrypted with the joint secret, each carried choice is 1 exactly where chosen."""
    cast = draw_cast(data, mixed)
    params = mixed.params
    indices = list(range(1, params.manifest.threshold + 1))
    secret = Scalar(sum((lagrange(indices, j) * mixed.shares[j]).value for j in indices))
    for question, chosen, answer in zip(
        params.manifest.questions, cast.selections, cast.ballot.answers, strict=True
    ):
        expected = [int(o in chosen) for o in range(question.explicit_options)]
        got = []
        for ct in answer.choices:
            m = ct.beta - ct.alpha * secret
            assert m.is_identity or m == G, "a choice that decrypts to neither 0 nor 1"
            got.append(int(m == G))
        assert got == expected


@settings(max_examples=50)
@given(data=st.data())
def test_any_field_changed_to_a_valid_value_is_rejected(mixed: Election, data: st.DataObject) -> None:
    cast = draw_cast(data, mixed)
    raw = cast.ballot.to_json()
    path = data.draw(st.sampled_from(list(leaves(raw))), label="field")
    old = get_at(raw, path)
    new, signer = valid_replacement(data, mixed, cast, path, old)
    changed = set_at(raw, path, new)

    rejection(mixed, changed)
    if signer is None:
        return
    exc = rejection(mixed, resign(mixed, changed, signer))
    if path == ("credential",):  # another voter re-signs a stolen ballot: P is in every proof
        assert exc.check in PROOF_CHECKS, exc
    else:
        assert_caught_by_its_proof(exc, path)


@settings(max_examples=30)
@given(data=st.data())
def test_any_field_with_a_malformed_encoding_is_a_decode_error(mixed: Election, data: st.DataObject) -> None:
    """Points off the curve or not canonical, scalars not reduced mod ℓ, an
    identity ``α`` or credential, and hex in upper case never parse (§1, §5)."""
    cast = draw_cast(data, mixed)
    raw = cast.ballot.to_json()
    path = data.draw(st.sampled_from(list(leaves(raw))), label="field")
    old = get_at(raw, path)
    kind = kind_of(path)
    candidates = [old.upper(), old[:-1], old + "0", "g" + old[1:]]
    if kind == "scalar":
        candidates.append(data.draw(unreduced_scalar_hex(), label="unreduced scalar"))
    elif kind in ("alpha", "beta", "credential"):
        candidates.append(data.draw(noncanonical_point_hex(), label="non-canonical point"))
        if kind != "beta":
            candidates.append("00" * 32)
    bad = data.draw(st.sampled_from(candidates), label="malformed value")
    assume(bad != old)
    with pytest.raises(DecodeError):
        parse_ballot(set_at(raw, path, bad))


@settings(max_examples=30)
@given(data=st.data())
def test_swapping_two_answers_is_rejected(twins: Election, data: st.DataObject) -> None:
    """Each answer's proofs bind its question index ``q``: swapped answers fail
    even when the shapes match and the voter re-signs."""
    cast = draw_cast(data, twins)
    raw = swap_answers(cast.ballot.to_json(), 0, 1)
    rejection(twins, raw)
    exc = rejection(twins, resign(twins, raw, twins.codes[cast.voter]))
    assert exc.check in PROOF_CHECKS and exc.question in (0, 1), exc


@settings(max_examples=40)
@given(data=st.data())
def test_swapping_two_choices_is_rejected(mixed: Election, data: st.DataObject) -> None:
    """Swapping two choices (alone, or with their proofs) of one answer is
    refused, re-signed or not: each choice's proof binds its option index ``o``."""
    cast = draw_cast(data, mixed)
    raw = cast.ballot.to_json()
    q = data.draw(
        st.sampled_from([q for q, a in enumerate(raw["answers"]) if len(a["choices"]) >= 2]),
        label="question",
    )
    o1, o2 = data.draw(
        st.sampled_from(list(combinations(range(len(raw["answers"][q]["choices"])), 2))),
        label="options",
    )
    with_proofs = data.draw(st.booleans(), label="with proofs")
    changed = swap_choices(raw, q, o1, o2, with_proofs)
    rejection(mixed, changed)
    exc = rejection(mixed, resign(mixed, changed, mixed.codes[cast.voter]))
    assert (exc.check, exc.question) == ("choice_proof", q) and exc.option in (o1, o2), exc


@settings(max_examples=30)
@given(data=st.data())
def test_splicing_in_an_answer_of_the_voters_other_ballot_is_rejected(
    mixed: Election, data: st.DataObject
) -> None:
    """An answer of the same voter's other ballot carries proofs that hold for
    ``(P, q)``; only the signature over the whole body stops the splice."""
    first = draw_cast(data, mixed)
    chosen = data.draw(ballot_selections(mixed.params.manifest), label="other selections")
    seed = data.draw(seeds(), label="other seed")
    code = mixed.codes[first.voter]
    other = build_ballot(mixed.params, code, chosen, SeededRandom(seed + "/other"))
    q = data.draw(st.integers(0, len(other.answers) - 1), label="question")
    raw = first.ballot.to_json()
    raw["answers"][q] = other.to_json()["answers"][q]
    assert rejection(mixed, raw).check == "signature"


def test_every_field_of_one_ballot_is_covered(mixed: Election) -> None:
    """Walks every leaf of one ballot and every swap, so that no field is ever
    missed by chance; the count of leaves is checked against the manifest."""
    params = mixed.params
    voter = 1
    ballot = build_ballot(params, mixed.codes[voter], [[1], [2], [0, 3]], SeededRandom("walk"))
    verify_ballot(params, ballot, mixed.is_eligible)
    raw = ballot.to_json()
    code = mixed.codes[voter]

    expected = 2 + 2  # election_hash, credential; signature c, z
    for question in params.manifest.questions:
        k = question.explicit_options
        expected += 2 * k + 2 * 2 * k + 2 * len(question.sum_allowed)
    paths = list(leaves(raw))
    assert len(paths) == expected == 4 + (2 + 4) + (4 + 8 + 4) + (8 + 16 + 6)

    outside = Point.base_mul(Scalar(7))
    assert not mixed.is_eligible(outside)
    for path in paths:
        old = get_at(raw, path)
        kind = kind_of(path)
        if kind == "hash":
            flipped = old[:-1] + ("0" if old[-1] != "0" else "1")
            assert rejection(mixed, set_at(raw, path, flipped)).check == "election_hash"
        elif kind == "credential":
            assert rejection(mixed, set_at(raw, path, outside.hex())).check == "credential"
            for thief, P in enumerate(mixed.credentials):  # noqa: N806
                if thief == voter:
                    continue
                stolen = set_at(raw, path, P.hex())
                rejection(mixed, stolen)
                exc = rejection(mixed, resign(mixed, stolen, mixed.codes[thief]))
                assert exc.check in PROOF_CHECKS, exc
        elif kind == "scalar":
            new = Scalar.from_hex(old) + Scalar(1)
            changed = set_at(raw, path, new.hex())
            exc = rejection(mixed, changed)
            if path[0] == "signature":
                assert exc.check == "signature"
            else:
                assert_caught_by_its_proof(rejection(mixed, resign(mixed, changed, code)), path)
        else:
            new_point = Point.from_hex(old) + G
            assert not new_point.is_identity
            changed = set_at(raw, path, new_point.hex())
            rejection(mixed, changed)
            assert_caught_by_its_proof(rejection(mixed, resign(mixed, changed, code)), path)

    swaps = 0
    for q1, q2 in combinations(range(len(raw["answers"])), 2):
        rejection(mixed, swap_answers(raw, q1, q2))
        swaps += 1
    for q, answer in enumerate(raw["answers"]):
        for o1, o2 in combinations(range(len(answer["choices"])), 2):
            for with_proofs in (False, True):
                changed = swap_choices(raw, q, o1, o2, with_proofs)
                rejection(mixed, changed)
                exc = rejection(mixed, resign(mixed, changed, code))
                assert (exc.check, exc.question) == ("choice_proof", q), exc
                assert exc.option in (o1, o2), exc
                swaps += 1
    assert swaps == 3 + 2 * (1 + 6)


def test_every_field_of_one_ballot_refuses_malformed_encodings(mixed: Election) -> None:
    """Walks every leaf: upper-case hex, a scalar ``≥ ℓ``, a point that is not
    canonical never parse; the identity is refused as ``α`` and as the
    credential, and parses as a ``β`` (an encryption of 0 with ``r = 0`` has
    one) only to fail the proofs."""
    ballot = build_ballot(mixed.params, mixed.codes[2], [[0], [0], [1, 2]], SeededRandom("enc"))
    raw = ballot.to_json()
    unreduced = L.to_bytes(32, "little").hex()
    for path in leaves(raw):
        old = get_at(raw, path)
        kind = kind_of(path)
        bad = [old.upper(), old[:-2], "g" + old[1:]]
        if kind == "scalar":
            bad.append(unreduced)
        elif kind != "hash":
            bad.append(f"{int(old[:2], 16) | 1:02x}" + old[2:])  # an odd, "negative" s
            if kind == "beta":
                rejection(mixed, set_at(raw, path, "00" * 32))
            else:
                bad.append("00" * 32)
        for value in bad:
            if value != old:
                with pytest.raises(DecodeError):
                    parse_ballot(set_at(raw, path, value))


def test_the_helpers_make_valid_ballots(mixed: Election) -> None:
    """Re-signing follows §5 exactly (an honest ballot re-signed still verifies),
    and so does the forger at the manifest's own shape: so the refusals above
    and below are due to the change made, not to the helpers."""
    ballot = build_ballot(mixed.params, mixed.codes[0], [[0], [1], []], SeededRandom("re"))
    again = parse_ballot(resign(mixed, ballot.to_json(), mixed.codes[0]))
    verify_ballot(mixed.params, again, mixed.is_eligible)
    assert again.tracker != ballot.tracker
    forged = parse_ballot(forge(mixed, mixed.codes[0], shapes_of(mixed), "forge"))
    verify_ballot(mixed.params, forged, mixed.is_eligible)
