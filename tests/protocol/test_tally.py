"""The encrypted tally and its threshold decryption (PROTOCOL.md §7): the counts
come out right, implicit options included, or the failure is named."""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Sequence

import pytest

from istifta.crypto.group import G
from istifta.crypto.rng import SeededRandom
from istifta.errors import DecryptionError
from istifta.protocol.ballot import Ballot, build_ballot
from istifta.protocol.tally import (
    PartialDecryption,
    Share,
    Tally,
    combine,
    counted_ballots,
    parse_partial_decryption,
    partial_decrypt,
    tally,
)
from istifta.testing import Election

# per voter of the `mixed` fixture: yes/no, exactly one of 3, 0 to 2 of 4
SELECTIONS = [
    [[0], [2], [0, 3]],
    [[1], [0], []],
    [[0], [2], [3]],
    [[0], [1], [1, 3]],
    [[1], [2], [0]],
]


def expected_counts(
    option_counts: Sequence[int], selections: Sequence[Sequence[Sequence[int]]]
) -> list[list[int]]:
    counts = [[0] * k for k in option_counts]
    for voter in selections:
        for q, chosen in enumerate(voter):
            for o in chosen:
                counts[q][o] += 1
    return counts


def ballots_for(election: Election, selections: Sequence[Sequence[Sequence[int]]]) -> list[Ballot]:
    return [
        build_ballot(election.params, election.codes[i], s, SeededRandom(f"tally {i}"))
        for i, s in enumerate(selections)
    ]


def decrypt(election: Election, t: Tally, trustees: Sequence[int]) -> list[PartialDecryption]:
    return [
        partial_decrypt(election.params, t, j, election.shares[j], SeededRandom(f"trustee {j}"))
        for j in trustees
    ]


@pytest.fixture(scope="module")
def mixed_tally(mixed: Election) -> Tally:
    return tally(mixed.params, ballots_for(mixed, SELECTIONS))


@pytest.fixture(scope="module")
def partials(mixed: Election, mixed_tally: Tally) -> dict[int, PartialDecryption]:
    return {pd.trustee: pd for pd in decrypt(mixed, mixed_tally, [1, 2, 3])}


def test_the_counts_of_every_question_implicit_options_included(
    mixed: Election, mixed_tally: Tally, partials: dict[int, PartialDecryption]
) -> None:
    counts = combine(mixed.params, mixed_tally, [partials[1], partials[2]])
    assert counts == expected_counts([2, 3, 4], SELECTIONS)
    assert counts == [[3, 2], [1, 1, 3], [2, 1, 0, 3]]
    assert mixed_tally.counted == 5


@pytest.mark.parametrize("trustees", [(1, 3), (3, 2), (1, 2, 3), (3, 1, 2)])
def test_any_threshold_of_trustees_gives_the_same_counts(
    mixed: Election,
    mixed_tally: Tally,
    partials: dict[int, PartialDecryption],
    trustees: tuple[int, ...],
) -> None:
    counts = combine(mixed.params, mixed_tally, [partials[j] for j in trustees])
    assert counts == [[3, 2], [1, 1, 3], [2, 1, 0, 3]]


def test_the_tally_lists_only_the_carried_options(mixed: Election, mixed_tally: Tally) -> None:
    assert [len(row) for row in mixed_tally.ciphertexts] == [1, 2, 4]
    raw = mixed_tally.to_json()
    assert raw["type"] == "tally"
    assert raw["counted"] == 5
    assert [len(row) for row in raw["ciphertexts"]] == [1, 2, 4]


def test_partial_decryptions_survive_the_wire(
    mixed: Election, mixed_tally: Tally, partials: dict[int, PartialDecryption]
) -> None:
    parsed = [
        parse_partial_decryption(json.loads(json.dumps(partials[j].to_json())), mixed_tally) for j in (2, 3)
    ]
    assert parsed[0].trustee == 2
    assert combine(mixed.params, mixed_tally, parsed) == [[3, 2], [1, 1, 3], [2, 1, 0, 3]]


def test_only_the_last_ballot_of_a_credential_counts(yes_no: Election) -> None:
    def vote(voter: int, option: int, seed: str) -> Ballot:
        return build_ballot(yes_no.params, yes_no.codes[voter], [[option]], SeededRandom(seed))

    board = [
        vote(0, 0, "v0 yes"),
        vote(1, 1, "v1 no"),
        vote(0, 1, "v0 changes to no"),
        vote(2, 0, "v2 yes"),
        vote(1, 1, "v1 no again"),
        vote(0, 0, "v0 back to yes"),
    ]
    counted = counted_ballots(board)
    assert [b.tracker for b in counted] == [board[3].tracker, board[4].tracker, board[5].tracker]
    t = tally(yes_no.params, board)
    assert t.counted == 3
    counts = combine(yes_no.params, t, decrypt(yes_no, t, [2, 3]))
    assert counts == [[2, 1]]


def test_no_ballots_counts_zero_and_every_d_is_the_identity(mixed: Election) -> None:
    t = tally(mixed.params, [])
    assert t.counted == 0
    assert all(ct.alpha.is_identity and ct.beta.is_identity for row in t.ciphertexts for ct in row)
    pds = decrypt(mixed, t, [1, 2, 3])
    assert all(s.d.is_identity for pd in pds for row in pd.shares for s in row)
    assert combine(mixed.params, t, pds[:2]) == [[0, 0], [0, 0, 0], [0, 0, 0, 0]]
    parsed = parse_partial_decryption(json.loads(json.dumps(pds[0].to_json())), t)
    assert combine(mixed.params, t, [parsed, pds[2]]) == [[0, 0], [0, 0, 0], [0, 0, 0, 0]]


def test_fewer_than_threshold_trustees_cannot_decrypt(
    mixed: Election, mixed_tally: Tally, partials: dict[int, PartialDecryption]
) -> None:
    with pytest.raises(DecryptionError, match="1 trustees decrypted; at least 2 are needed"):
        combine(mixed.params, mixed_tally, [partials[3]])
    with pytest.raises(DecryptionError, match="at least 2"):
        combine(mixed.params, mixed_tally, [])


def test_the_same_trustee_twice_is_refused(
    mixed: Election, mixed_tally: Tally, partials: dict[int, PartialDecryption]
) -> None:
    with pytest.raises(DecryptionError, match="given twice"):
        combine(mixed.params, mixed_tally, [partials[2], partials[2]])
    with pytest.raises(DecryptionError, match="given twice"):
        combine(mixed.params, mixed_tally, [partials[1], partials[2], partials[1]])


def _with_share(pd: PartialDecryption, q: int, o: int, share: Share) -> PartialDecryption:
    rows = [list(row) for row in pd.shares]
    rows[q][o] = share
    return dataclasses.replace(pd, shares=tuple(tuple(row) for row in rows))


@pytest.mark.parametrize(("q", "o"), [(0, 0), (1, 1), (2, 3)])
def test_a_tampered_share_names_trustee_question_and_option(
    mixed: Election,
    mixed_tally: Tally,
    partials: dict[int, PartialDecryption],
    q: int,
    o: int,
) -> None:
    honest = partials[2].shares[q][o]
    tampered = _with_share(partials[2], q, o, Share(honest.d + G, honest.proof))
    with pytest.raises(DecryptionError) as info:
        combine(mixed.params, mixed_tally, [partials[1], tampered])
    assert f"trustee 2's decryption share for question {q}, option {o} does not verify" in str(info.value)


def test_a_share_computed_with_the_wrong_secret_is_refused(
    mixed: Election, mixed_tally: Tally, partials: dict[int, PartialDecryption]
) -> None:
    # trustee 3 decrypts with trustee 1's share, and proves it honestly for that share
    wrong = partial_decrypt(mixed.params, mixed_tally, 3, mixed.shares[1], SeededRandom("wrong"))
    with pytest.raises(DecryptionError, match="trustee 3's decryption share for question 0"):
        combine(mixed.params, mixed_tally, [partials[1], wrong])


def test_shares_moved_between_options_are_refused(
    mixed: Election, mixed_tally: Tally, partials: dict[int, PartialDecryption]
) -> None:
    row = partials[1].shares[2]
    moved = _with_share(partials[1], 2, 0, row[1])
    with pytest.raises(DecryptionError, match="trustee 1's .* question 2, option 0"):
        combine(mixed.params, mixed_tally, [moved, partials[3]])


def test_shares_for_another_tally_are_refused(
    mixed: Election, mixed_tally: Tally, partials: dict[int, PartialDecryption]
) -> None:
    fewer = tally(mixed.params, ballots_for(mixed, SELECTIONS[:3]))
    with pytest.raises(DecryptionError, match="does not verify"):
        combine(mixed.params, fewer, [partials[1], partials[2]])


def test_every_pair_of_trustees_and_every_order_agree(
    yes_no: Election,
) -> None:
    selections = [[[0]], [[1]], [[0]], [[0]], [[1]], [[0]]]
    t = tally(yes_no.params, ballots_for(yes_no, selections))
    pds = {pd.trustee: pd for pd in decrypt(yes_no, t, [1, 2, 3])}
    for pair in itertools.permutations([1, 2, 3], 2):
        assert combine(yes_no.params, t, [pds[j] for j in pair]) == [[4, 2]]
