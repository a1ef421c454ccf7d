"""Ballots (PROTOCOL.md §5, docs/protocol.md §5): built, parsed, tracked, and
refused with the name of the check, question and option that fail."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any

import pytest
import rfc8785

from istifta.crypto.credentials import new_code
from istifta.crypto.group import L, Point, Scalar
from istifta.crypto.proofs import Proof
from istifta.crypto.rng import SeededRandom
from istifta.errors import CredentialError, DecodeError, InvalidBallot, SelectionError
from istifta.protocol.ballot import Answer, Ballot, build_ballot, parse_ballot, verify_ballot
from istifta.testing import Election

NON_CANONICAL = "f3" + "ff" * 30 + "7f"  # RFC 9496 A.2: a field element ≥ p


def build(election: Election, voter: int, selections: Sequence[Sequence[int]], seed: str) -> Ballot:
    return build_ballot(election.params, election.codes[voter], selections, SeededRandom(seed))


def verify(election: Election, ballot: Ballot) -> None:
    verify_ballot(election.params, ballot, election.is_eligible)


@pytest.fixture(scope="module")
def yes(yes_no: Election) -> Ballot:
    return build(yes_no, 0, [[0]], "yes")


@pytest.fixture(scope="module")
def a(mixed: Election) -> Ballot:
    """Voter 0: yes; option 0 of 3; options 0 and 1 of 4."""
    return build(mixed, 0, [[0], [0], [0, 1]], "ballot a")


@pytest.fixture(scope="module")
def b(mixed: Election) -> Ballot:
    """Voter 0 again: no; option 1 of 3; options 2 and 3 of 4."""
    return build(mixed, 0, [[1], [1], [2, 3]], "ballot b")


# --- honest ballots -----------------------------------------------------------------------


def test_honest_ballots_verify(yes_no: Election, mixed: Election, yes: Ballot, a: Ballot) -> None:
    verify(yes_no, yes)
    verify(yes_no, build(yes_no, 5, [[1]], "no"))
    verify(mixed, a)
    verify(mixed, build(mixed, 4, [[1], [2], []], "implicit and none"))
    verify(mixed, build(mixed, 3, [[0], [1], [3]], "one of four"))


def test_a_ballot_carries_the_voters_credential_and_the_election(mixed: Election, a: Ballot) -> None:
    assert a.credential == mixed.credentials[0]
    assert a.election_hash == mixed.params.election_hash
    assert [len(ans.choices) for ans in a.answers] == [1, 2, 4]
    assert [len(ans.sum_proof) for ans in a.answers] == [0, 2, 3]
    assert all(len(p) == 2 for ans in a.answers for p in ans.choice_proofs)


def test_parse_gives_back_the_same_ballot_and_tracker(mixed: Election, a: Ballot) -> None:
    parsed = parse_ballot(json.loads(json.dumps(a.to_json())))
    assert parsed.tracker == a.tracker
    assert parsed.to_json() == a.to_json()
    verify(mixed, parsed)


def test_the_tracker_is_sha256_of_the_rfc8785_ballot(yes: Ballot, a: Ballot) -> None:
    for ballot in (yes, a):
        canonical = rfc8785.dumps(ballot.to_json())
        assert ballot.canonical_bytes == canonical
        assert ballot.tracker == hashlib.sha256(canonical).hexdigest()


def test_the_tracker_does_not_depend_on_how_the_json_was_written(a: Ballot) -> None:
    def reverse_keys(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: reverse_keys(value[k]) for k in reversed(list(value))}
        if isinstance(value, list):
            return [reverse_keys(v) for v in value]
        return value

    text = json.dumps(reverse_keys(a.to_json()), indent=2)
    assert parse_ballot(json.loads(text)).tracker == a.tracker


def test_seeded_ballots_reproduce_and_fresh_randomness_changes_them(mixed: Election) -> None:
    first = build(mixed, 1, [[0], [0], [0]], "same seed")
    again = build(mixed, 1, [[0], [0], [0]], "same seed")
    other = build(mixed, 1, [[0], [0], [0]], "other seed")
    assert first.to_json() == again.to_json()
    assert first.tracker != other.tracker
    assert first.answers[0].choices != other.answers[0].choices


def test_the_yes_no_ballot_is_small_and_has_no_sum_proof(yes: Ballot) -> None:
    raw = yes.to_json()
    assert raw["answers"][0]["sum_proof"] == []
    assert len(raw["answers"][0]["choices"]) == 1
    assert len(rfc8785.dumps(raw)) <= 850


# --- selections the question does not allow -------------------------------------------------


@pytest.mark.parametrize(
    ("selections", "complaint"),
    [
        ([[0, 1], [0], []], "question 0: choose from 1 to 1 options, got 2"),
        ([[0], [], []], "question 1: choose from 1 to 1 options, got 0"),
        ([[0], [0], [0, 1, 2]], "question 2: choose from 0 to 2 options, got 3"),
        ([[0], [0], [1, 1]], "question 2: the same option is chosen twice"),
        ([[0], [3], []], "question 1: options are numbered 0 to 2"),
        ([[0], [0], [-1]], "question 2: options are numbered 0 to 3"),
        ([[2], [0], []], "question 0: options are numbered 0 to 1"),
        ([[0], [0]], "3 questions; got selections for 2"),
        ([[0], [0], [], []], "3 questions; got selections for 4"),
    ],
)
def test_selections_the_manifest_does_not_allow(
    mixed: Election, selections: list[list[int]], complaint: str
) -> None:
    with pytest.raises(SelectionError) as info:
        build(mixed, 0, selections, "refused")
    assert complaint in str(info.value)


def test_a_bad_code_cannot_build_a_ballot(yes_no: Election) -> None:
    with pytest.raises(CredentialError):
        build_ballot(yes_no.params, "U" * 26, [[0]], SeededRandom("bad code"))


# --- checks that fail, by name --------------------------------------------------------------


def _answer(ballot: Ballot, q: int, **changes: Any) -> Ballot:
    answers = list(ballot.answers)
    answers[q] = dataclasses.replace(answers[q], **changes)
    return dataclasses.replace(ballot, answers=tuple(answers))


def _rejected(election: Election, ballot: Ballot) -> InvalidBallot:
    with pytest.raises(InvalidBallot) as info:
        verify(election, ballot)
    return info.value


def test_a_ballot_for_another_election(mixed: Election, yes: Ballot) -> None:
    error = _rejected(mixed, yes)
    assert error.check == "election_hash"
    assert (error.question, error.option) == (None, None)


def test_a_credential_outside_the_electorate(yes_no: Election) -> None:
    outsider = new_code(SeededRandom("not registered"))
    ballot = build_ballot(yes_no.params, outsider, [[0]], SeededRandom("outsider"))
    assert _rejected(yes_no, ballot).check == "credential"


def test_a_missing_answer_is_a_shape_error(mixed: Election, a: Ballot) -> None:
    error = _rejected(mixed, dataclasses.replace(a, answers=a.answers[:2]))
    assert (error.check, error.question, error.option) == ("shape", None, None)
    assert "expected 3 answers, got 2" in str(error)


ShapeEdit = Callable[[Ballot, Ballot], Ballot]

SHAPE_ERRORS: list[tuple[str, ShapeEdit, int, int | None, str]] = [
    (
        "an extra choice",
        lambda a, b: _answer(
            a,
            2,
            choices=(*a.answers[2].choices, b.answers[2].choices[0]),
            choice_proofs=(*a.answers[2].choice_proofs, b.answers[2].choice_proofs[0]),
        ),
        2,
        None,
        "expected 4 choices, got 5",
    ),
    (
        "the implicit option carried",
        lambda a, b: _answer(
            a,
            0,
            choices=(*a.answers[0].choices, b.answers[0].choices[0]),
            choice_proofs=(*a.answers[0].choice_proofs, b.answers[0].choice_proofs[0]),
        ),
        0,
        None,
        "expected 1 choices, got 2",
    ),
    (
        "a choice proof missing",
        lambda a, b: _answer(a, 1, choice_proofs=a.answers[1].choice_proofs[:1]),
        1,
        None,
        "expected 2 choice proofs, got 1",
    ),
    (
        "three branches for a 0/1 choice",
        lambda a, b: _answer(
            a,
            2,
            choice_proofs=(
                a.answers[2].choice_proofs[0],
                (*a.answers[2].choice_proofs[1], b.signature),
                *a.answers[2].choice_proofs[2:],
            ),
        ),
        2,
        1,
        "expected a 2-branch proof, got 3",
    ),
    (
        "no sum proof for exactly one of three",
        lambda a, b: _answer(a, 1, sum_proof=()),
        1,
        None,
        "expected a 2-branch sum proof, got 0",
    ),
    (
        "a sum proof for yes/no",
        lambda a, b: _answer(a, 0, sum_proof=b.answers[1].sum_proof),
        0,
        None,
        "expected a 0-branch sum proof, got 2",
    ),
    (
        "a short sum proof for 0 to 2 of 4",
        lambda a, b: _answer(a, 2, sum_proof=a.answers[2].sum_proof[:2]),
        2,
        None,
        "expected a 3-branch sum proof, got 2",
    ),
]


@pytest.mark.parametrize(
    ("edit", "question", "option", "complaint"),
    [s[1:] for s in SHAPE_ERRORS],
    ids=[s[0] for s in SHAPE_ERRORS],
)
def test_shape_errors_name_the_question(
    mixed: Election,
    a: Ballot,
    b: Ballot,
    edit: ShapeEdit,
    question: int,
    option: int | None,
    complaint: str,
) -> None:
    error = _rejected(mixed, edit(a, b))
    assert (error.check, error.question, error.option) == ("shape", question, option)
    assert complaint in str(error)


def test_a_signature_from_another_ballot(mixed: Election, a: Ballot, b: Ballot) -> None:
    error = _rejected(mixed, dataclasses.replace(a, signature=b.signature))
    assert (error.check, error.question, error.option) == ("signature", None, None)


def test_the_signature_covers_the_body(mixed: Election, a: Ballot, b: Ballot) -> None:
    # every proof still checks, but the body is not the one that was signed
    mixed_up = _answer(a, 0, choices=b.answers[0].choices, choice_proofs=b.answers[0].choice_proofs)
    assert _rejected(mixed, mixed_up).check == "signature"


def test_a_choice_proof_moved_to_another_option(mixed: Election, a: Ballot) -> None:
    proofs = a.answers[2].choice_proofs
    swapped = _answer(a, 2, choice_proofs=(proofs[0], proofs[2], proofs[1], proofs[3]))
    error = _rejected(mixed, swapped)
    assert (error.check, error.question, error.option) == ("choice_proof", 2, 1)


def test_a_choice_proof_for_another_ciphertext(mixed: Election, a: Ballot, b: Ballot) -> None:
    tampered = _answer(a, 1, choices=(a.answers[1].choices[0], b.answers[1].choices[1]))
    error = _rejected(mixed, tampered)
    assert (error.check, error.question, error.option) == ("choice_proof", 1, 1)


def test_a_ballot_replayed_under_another_credential(mixed: Election, a: Ballot) -> None:
    error = _rejected(mixed, dataclasses.replace(a, credential=mixed.credentials[1]))
    assert (error.check, error.question, error.option) == ("choice_proof", 0, 0)


def test_two_options_of_exactly_one_stitched_from_two_ballots(mixed: Election, a: Ballot, b: Ballot) -> None:
    """Each choice is a genuine 0/1 with a valid proof, but together they say 2."""
    stitched = _answer(
        a,
        1,
        choices=(a.answers[1].choices[0], b.answers[1].choices[1]),
        choice_proofs=(a.answers[1].choice_proofs[0], b.answers[1].choice_proofs[1]),
    )
    error = _rejected(mixed, stitched)
    assert (error.check, error.question, error.option) == ("sum_proof", 1, None)


def test_four_of_at_most_two_stitched_from_two_ballots(mixed: Election, a: Ballot, b: Ballot) -> None:
    ans_a, ans_b = a.answers[2], b.answers[2]
    stitched = _answer(
        a,
        2,
        choices=(*ans_a.choices[:2], *ans_b.choices[2:]),
        choice_proofs=(*ans_a.choice_proofs[:2], *ans_b.choice_proofs[2:]),
    )
    error = _rejected(mixed, stitched)
    assert (error.check, error.question, error.option) == ("sum_proof", 2, None)
    assert "0 to 2 options" in str(error)


def test_a_sum_proof_from_another_question(mixed: Election, a: Ballot) -> None:
    moved = _answer(a, 1, sum_proof=a.answers[2].sum_proof[:2])
    error = _rejected(mixed, moved)
    assert (error.check, error.question) == ("sum_proof", 1)


# --- bytes that do not decode ---------------------------------------------------------------

JsonEdit = Callable[[dict[str, Any]], None]


def _set(path: Sequence[str | int], value: Any) -> JsonEdit:
    def edit(raw: dict[str, Any]) -> None:
        target: Any = raw
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value

    return edit


def _del(path: Sequence[str | int]) -> JsonEdit:
    def edit(raw: dict[str, Any]) -> None:
        target: Any = raw
        for step in path[:-1]:
            target = target[step]
        del target[path[-1]]

    return edit


def _upper(path: Sequence[str | int]) -> JsonEdit:
    def edit(raw: dict[str, Any]) -> None:
        target: Any = raw
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = target[path[-1]].upper()

    return edit


ANS = ("answers", 1)
DECODE_ERRORS: list[tuple[str, JsonEdit, str]] = [
    ("extra key", _set(["note"], "hello"), "ballot.note: unexpected key"),
    ("extra key in an answer", _set([*ANS, "x"], 1), "ballot.answers[1].x: unexpected key"),
    (
        "extra key in a ciphertext",
        _set([*ANS, "choices", 0, "gamma"], "00" * 32),
        "ballot.answers[1].choices[0].gamma: unexpected key",
    ),
    (
        "extra key in a proof",
        _set(["signature", "R"], "00" * 32),
        "ballot.signature.R: unexpected key",
    ),
    ("missing signature", _del(["signature"]), "ballot.signature: missing"),
    ("missing sum_proof", _del([*ANS, "sum_proof"]), "ballot.answers[1].sum_proof: missing"),
    (
        "missing z",
        _del([*ANS, "choice_proofs", 1, 0, "z"]),
        "ballot.answers[1].choice_proofs[1][0].z: missing",
    ),
    (
        "identity alpha",
        _set([*ANS, "choices", 1, "alpha"], "00" * 32),
        "ballot.answers[1].choices[1].alpha: the identity element is not allowed",
    ),
    (
        "identity credential",
        _set(["credential"], "00" * 32),
        "ballot.credential: the identity element is not allowed",
    ),
    (
        "upper-case beta",
        _upper([*ANS, "choices", 0, "beta"]),
        "ballot.answers[1].choices[0].beta: expected lowercase hex",
    ),
    (
        "upper-case election hash",
        _upper(["election_hash"]),
        "ballot.election_hash: expected a SHA-256 hash as 64 lowercase hex",
    ),
    (
        "upper-case scalar",
        _upper(["signature", "c"]),
        "ballot.signature.c: expected lowercase hex",
    ),
    (
        "non-canonical credential",
        _set(["credential"], NON_CANONICAL),
        "ballot.credential: not a canonical ristretto255 encoding",
    ),
    (
        "non-canonical alpha",
        _set([*ANS, "choices", 0, "alpha"], NON_CANONICAL),
        "ballot.answers[1].choices[0].alpha: not a canonical",
    ),
    (
        "scalar equal to l",
        _set(["signature", "z"], L.to_bytes(32, "little").hex()),
        "ballot.signature.z: not reduced modulo the group order",
    ),
    (
        "scalar above l in a sum proof",
        _set([*ANS, "sum_proof", 1, "c"], "ff" * 32),
        "ballot.answers[1].sum_proof[1].c: not reduced",
    ),
    (
        "short hex",
        _set([*ANS, "choice_proofs", 0, 1, "c"], "ab"),
        "ballot.answers[1].choice_proofs[0][1].c: expected 64 hex characters, got 2",
    ),
    ("answers not a list", _set(["answers"], {}), "ballot.answers: expected a list"),
    ("a number for a point", _set(["credential"], 7), "ballot.credential: expected a string"),
]


@pytest.mark.parametrize(
    ("edit", "complaint"), [d[1:] for d in DECODE_ERRORS], ids=[d[0] for d in DECODE_ERRORS]
)
def test_parse_refuses_bad_json_naming_its_path(a: Ballot, edit: JsonEdit, complaint: str) -> None:
    raw = copy.deepcopy(a.to_json())
    edit(raw)
    with pytest.raises(DecodeError) as info:
        parse_ballot(raw)
    assert complaint in str(info.value)


@pytest.mark.parametrize("raw", [None, [], "ballot", 1])
def test_parse_refuses_a_ballot_that_is_not_an_object(raw: Any) -> None:
    with pytest.raises(DecodeError, match="^ballot: expected an object"):
        parse_ballot(raw)


def test_parse_accepts_an_identity_beta_but_never_an_identity_alpha(a: Ballot) -> None:
    raw = copy.deepcopy(a.to_json())
    raw["answers"][0]["choices"][0]["beta"] = "00" * 32
    assert parse_ballot(raw).answers[0].choices[0].beta.is_identity


def test_a_parsed_but_forged_ballot_still_fails_verification(mixed: Election, a: Ballot) -> None:
    raw = copy.deepcopy(a.to_json())
    forged = Point.base_mul(Scalar(1)).hex()
    raw["answers"][2]["choices"][3]["beta"] = forged
    error = _rejected(mixed, parse_ballot(raw))
    assert (error.check, error.question, error.option) == ("choice_proof", 2, 3)


def test_answer_and_proof_types_round_trip(a: Ballot) -> None:
    parsed = parse_ballot(a.to_json())
    assert parsed.answers == a.answers
    assert parsed.signature == a.signature
    assert isinstance(parsed.answers[0], Answer)
    assert isinstance(parsed.signature, Proof)
