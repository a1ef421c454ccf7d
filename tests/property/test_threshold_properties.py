"""Threshold decryption (PROTOCOL.md §3, §7): any ``t`` of the ``n`` trustees,
or more, decrypt the tally to the same counts, those of the ballots cast;
fewer than ``t`` are refused, and ``t − 1`` shares interpolate to nothing useful."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from itertools import combinations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from istifta.crypto.group import IDENTITY, Point, Scalar
from istifta.crypto.rng import SeededRandom
from istifta.crypto.threshold import lagrange
from istifta.errors import DecryptionError
from istifta.protocol.ballot import build_ballot, verify_ballot
from istifta.protocol.manifest import Manifest
from istifta.protocol.tally import PartialDecryption, Tally, combine, partial_decrypt, tally
from istifta.testing import Election, make_election, manifest_json, question_json

from .strategies import ballot_selections, seeds

QUESTIONS = [
    question_json(["yes", "no"]),
    question_json(["a", "b", "c"]),
    question_json(["w", "x", "y"], low=0, high=2),
]
VOTERS = 4


@dataclass(frozen=True)
class Decrypted:
    election: Election
    tally: Tally
    partials: dict[int, PartialDecryption]
    expected: list[list[int]]


def expected_counts(manifest: Manifest, counted: list[list[list[int]]]) -> list[list[int]]:
    """Every option's count, implicit ones included, straight from the selections."""
    result = []
    for q, question in enumerate(manifest.questions):
        per_option = Counter(o for chosen in counted for o in chosen[q])
        result.append([per_option[o] for o in range(len(question.options))])
    return result


@st.composite
def decrypted_elections(draw: st.DrawFn, min_ballots: int = 0, min_t: int = 1) -> Decrypted:
    """An election with ``min_t ≤ t ≤ n ≤ 5``, ballots (re-votes included) from
    known selections, its tally and every trustee's partial decryption."""
    n = draw(st.integers(min_t, 5), label="n")
    t = draw(st.integers(min_t, n), label="t")
    seed = draw(seeds(), label="seed")
    rng = SeededRandom(seed)
    election = make_election(rng, manifest_json(QUESTIONS, n=n, threshold=t), voters=VOTERS)
    params = election.params
    cast = draw(
        st.lists(
            st.tuples(st.integers(0, VOTERS - 1), ballot_selections(params.manifest)),
            min_size=min_ballots,
            max_size=5,
        ),
        label="ballots (voter, selections)",
    )
    ballots = []
    for voter, chosen in cast:
        ballot = build_ballot(params, election.codes[voter], chosen, rng)
        verify_ballot(params, ballot, election.is_eligible)
        ballots.append(ballot)
    last = {voter: chosen for voter, chosen in cast}  # the last ballot of each voter counts
    tl = tally(params, ballots)
    assert tl.counted == len(last)
    partials = {j: partial_decrypt(params, tl, j, election.shares[j], rng) for j in range(1, n + 1)}
    return Decrypted(election, tl, partials, expected_counts(params.manifest, list(last.values())))


def subsets(n: int, sizes: range) -> list[tuple[int, ...]]:
    return [s for k in sizes for s in combinations(range(1, n + 1), k)]


@settings(max_examples=30)
@given(case=decrypted_elections(), data=st.data())
def test_every_set_of_at_least_t_trustees_gives_the_cast_counts(case: Decrypted, data: st.DataObject) -> None:
    params = case.election.params
    n, t = params.manifest.n, params.manifest.threshold
    for chosen in subsets(n, range(t, n + 1)):
        order = data.draw(st.permutations(chosen), label="order of partials")
        counts = combine(params, case.tally, [case.partials[j] for j in order])
        assert counts == case.expected, f"trustees {order}"


@settings(max_examples=30)
@given(case=decrypted_elections())
def test_fewer_than_t_trustees_are_refused(case: Decrypted) -> None:
    params = case.election.params
    n, t = params.manifest.n, params.manifest.threshold
    for chosen in subsets(n, range(0, t)):
        with pytest.raises(DecryptionError):
            combine(params, case.tally, [case.partials[j] for j in chosen])
    j = n  # a trustee's shares given twice never stand for a second trustee
    with pytest.raises(DecryptionError):
        combine(params, case.tally, [case.partials[j]] * max(t, 2))


@settings(max_examples=30)
@given(case=decrypted_elections(min_ballots=1))
def test_lagrange_over_any_t_shares_recovers_the_key_and_the_counts(case: Decrypted) -> None:
    """By hand (§7): ``Σ λ_j·s_j`` is the secret behind ``K``, ``Σ λ_j·V_j = K``,
    and ``B − Σ λ_j·D_j = count·G``."""
    election = case.election
    params = election.params
    n, t = params.manifest.n, params.manifest.threshold
    for chosen in combinations(range(1, n + 1), t):
        lambdas = {j: lagrange(chosen, j) for j in chosen}
        secret = Scalar(sum((lambdas[j] * election.shares[j]).value for j in chosen))
        assert Point.base_mul(secret) == params.public_key
        key = IDENTITY
        for j in chosen:
            key = key + params.verification_key(j) * lambdas[j]
        assert key == params.public_key
        assert interpolated_points(case, lambdas) == [
            [Point.base_mul(Scalar(count)) for count in row] for row in carried(case)
        ]


@settings(max_examples=30)
@given(case=decrypted_elections(min_ballots=1, min_t=2))
def test_t_minus_1_shares_do_not_decrypt(case: Decrypted) -> None:
    """With one share too few, the same interpolation by hand misses the key and
    every count: for each set of ``t − 1`` trustees, no option comes out right."""
    election = case.election
    params = election.params
    n, t = params.manifest.n, params.manifest.threshold
    want = carried(case)
    for chosen in combinations(range(1, n + 1), t - 1):
        lambdas = {j: lagrange(chosen, j) for j in chosen}
        secret = Scalar(sum((lambdas[j] * election.shares[j]).value for j in chosen))
        assert Point.base_mul(secret) != params.public_key, f"trustees {chosen}"
        got = interpolated_points(case, lambdas)
        for q, row in enumerate(want):
            for o, count in enumerate(row):
                assert got[q][o] != Point.base_mul(Scalar(count)), (chosen, q, o)


def interpolated_points(case: Decrypted, lambdas: dict[int, Scalar]) -> list[list[Point]]:
    """``B − Σ_j λ_j·D_j`` for every carried option."""
    rows = []
    for q, row in enumerate(case.tally.ciphertexts):
        points = []
        for o, ct in enumerate(row):
            combined = IDENTITY
            for j, lam in lambdas.items():
                combined = combined + case.partials[j].shares[q][o].d * lam
            points.append(ct.beta - combined)
        rows.append(points)
    return rows


def carried(case: Decrypted) -> list[list[int]]:
    """The expected counts of the options ballots carry (the implicit last one dropped)."""
    questions = case.election.params.manifest.questions
    return [row[: q.explicit_options] for q, row in zip(questions, case.expected, strict=True)]


@settings(max_examples=20)
@given(case=decrypted_elections(min_ballots=1), data=st.data())
def test_a_partial_decryption_made_with_a_wrong_share_is_refused(
    case: Decrypted, data: st.DataObject
) -> None:
    """A trustee who decrypts with anything but its ``s_j`` cannot prove it
    against ``V_j`` (§7), and ``combine`` refuses the set that includes it."""
    election = case.election
    params = election.params
    n = params.manifest.n
    j = data.draw(st.integers(1, n), label="cheating trustee")
    wrong = election.shares[j] + Scalar(data.draw(st.integers(1, 2**64), label="δ"))
    bad = partial_decrypt(params, case.tally, j, wrong, SeededRandom("cheat"))
    partials = [bad if i == j else case.partials[i] for i in range(1, n + 1)]
    with pytest.raises(DecryptionError):
        combine(params, case.tally, partials)
