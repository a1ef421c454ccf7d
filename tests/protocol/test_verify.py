"""The record verifier (PROTOCOL.md §8): a valid record verifies with the right
figures, and every tampering in the catalogue is caught and named.

A dishonest board holds its own signing key, so most tamperings are also
re-signed (``resign_record``): the failure must then come from the deeper
check, not from the root or the signature.

The record: 3 trustees (threshold 2), trustee 2 absent at decryption, 8
voters in two regions, 9 ballots (voters 0 and 2 vote again, voter 7
abstains). Board: 0 election, 1–9 ballots, 10 close, 11 tally, 12–13 partial
decryptions (trustees 1 and 3), 14 result.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import Any

import pytest
from nacl.signing import SigningKey

from istifta.crypto.elgamal import sum_ciphertexts
from istifta.crypto.group import Point, Scalar
from istifta.crypto.rng import SeededRandom
from istifta.errors import DecodeError
from istifta.protocol.ballot import build_ballot, parse_ballot
from istifta.protocol.electorate import Eligible, electorate_root
from istifta.protocol.entries import BallotBatch, check_ballot_chunk, parse_leaf
from istifta.protocol.manifest import parse_time
from istifta.protocol.parameters import ElectionParameters
from istifta.protocol.record import Record, ballot_entry, entry_bytes, tally_entry
from istifta.protocol.report import Report
from istifta.protocol.tally import Tally
from istifta.protocol.verify import verify_record
from istifta.testing import Election, make_election, make_record, resign_record

BOARD_KEY = SigningKey(bytes(range(32)))
VOTES = [
    (0, [[0]]),
    (1, [[1]]),
    (2, [[0]]),
    (0, [[1]]),
    (3, [[0]]),
    (4, [[1]]),
    (5, [[0]]),
    (2, [[1]]),
    (6, [[0]]),
]
CLOSE, TALLY, PARTIAL_1, PARTIAL_3, RESULT = 10, 11, 12, 13, 14


@pytest.fixture(scope="module")
def election() -> Election:
    return make_election(SeededRandom("verify election"), voters=8, regions=("Baghdad", "Basra"))


@pytest.fixture(scope="module")
def record(election: Election) -> Record:
    return make_record(
        election, VOTES, rng=SeededRandom("verify record"), board_key=BOARD_KEY, absent_trustees=(2,)
    )


def entry(record: Record, index: int) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(record.board[index])
    return parsed


def with_board(record: Record, board: Sequence[bytes], *, resign: bool = True) -> Record:
    changed = replace(record, board=tuple(board))
    return resign_record(changed, BOARD_KEY) if resign else changed


def edited(
    record: Record, index: int, edit: Callable[[dict[str, Any]], None], *, resign: bool = True
) -> Record:
    obj = entry(record, index)
    edit(obj)
    board = list(record.board)
    board[index] = entry_bytes(obj)
    return with_board(record, board, resign=resign)


def failed(report: Report, check: str, entry: int | None, *words: str) -> None:
    """The report fails first at ``check``, at board entry ``entry``, saying each of ``words``."""
    failure = report.failure
    assert failure is not None, "the tampering was not caught"
    assert (failure.name, failure.entry) == (check, entry), failure.message
    for word in words:
        assert word in (failure.message or ""), failure.message
    names = [c.name for c in report.checks]
    after = names[names.index(check) + 1 :]
    assert all(report[name].status == "not run" for name in after)
    assert all(report[name].ok for name in names[: names.index(check)])


def point(seed: int) -> str:
    """A valid point that no honest entry here contains."""
    return Point.base_mul(Scalar(1000 + seed)).hex()


# --- a valid record ---


def test_a_valid_record_verifies_with_its_figures(record: Record) -> None:
    report = verify_record(record)
    assert report.complete and report.ok and report.failure is None
    assert [c.name for c in report.checks] == [
        "tree_head", "order", "election", "ballots", "tally", "partial_decryptions", "result",
    ]  # fmt: skip
    assert report["tree_head"].figures["entries"] == 15
    assert report["order"].figures["entries"] == {
        "election": 1, "ballot": 9, "close": 1, "tally": 1, "partial_decryption": 2, "result": 1,
    }  # fmt: skip
    assert report["election"].figures | {"election_hash": None} == {
        "election_hash": None, "slug": "test-referendum", "questions": 1, "trustees": 3,
        "threshold": 2, "electorate": 8, "regions": 2,
    }  # fmt: skip
    assert report["ballots"].figures == {
        "ballots": 9, "valid": 9, "voters": 7, "closed_at": "2024-01-21T18:00:00.000Z",
    }  # fmt: skip
    assert report["tally"].figures == {"counted": 7, "revotes_replaced": 2}
    assert report["partial_decryptions"].figures == {"trustees": [1, 3]}
    result = report["result"].figures
    # counted: voter 0 no, 1 no, 2 no (their last ballots), 3 yes, 4 no, 5 yes, 6 yes
    assert result["trustees"] == [1, 3] and result["counts"] == [[3, 4]]
    assert result["turnout"] == {
        "eligible": 8,
        "voted": 7,
        "by_region": {"Baghdad": {"eligible": 4, "voted": 4}, "Basra": {"eligible": 4, "voted": 3}},
    }
    assert report.parameters is not None and report.tally is not None and report.tally.counted == 7


def test_a_trustee_checks_up_to_the_tally_before_decrypting(record: Record) -> None:
    up_to_tally = with_board(record, record.board[: TALLY + 1])
    report = verify_record(up_to_tally, stop_after="tally")
    assert report.ok and not report.complete
    assert [c.status for c in report.checks][-2:] == ["not run", "not run"]
    assert report.tally is not None and report.tally.counted == 7
    failed(verify_record(up_to_tally), "order", TALLY, "no result entry")
    failed(
        verify_record(with_board(record, record.board[:CLOSE]), stop_after="tally"),
        "order", CLOSE - 1, "no tally entry",
    )  # fmt: skip


def test_an_open_election_can_be_checked_so_far(record: Record) -> None:
    report = verify_record(with_board(record, record.board[:5]), stop_after="ballots")
    assert report.ok and report["ballots"].figures["closed_at"] is None


def test_progress_is_reported_for_the_ballots(record: Record) -> None:
    calls: list[tuple[str, int, int]] = []
    verify_record(record, progress=lambda *args: calls.append(args))
    assert calls and calls[-1] == ("ballots", 9, 9)


def one_by_one(
    params: ElectionParameters, entries: Sequence[tuple[int, bytes]], eligible: frozenset[bytes]
) -> Iterator[BallotBatch]:
    for item in entries:
        batch = check_ballot_chunk(params, [item], eligible)
        yield batch
        if batch.failure:
            return


def test_ballot_checking_is_pluggable_and_chunking_changes_nothing(record: Record) -> None:
    assert verify_record(record, verify_ballots=one_by_one) == verify_record(record)
    bad = edited(record, 4, lambda e: e["ballot"].update(election_hash="00" * 32))
    assert verify_record(bad, verify_ballots=one_by_one) == verify_record(bad)


def test_a_ballot_verifier_that_skips_ballots_is_caught(record: Record) -> None:
    def skipping(
        params: ElectionParameters, entries: Sequence[tuple[int, bytes]], eligible: frozenset[bytes]
    ) -> Iterator[BallotBatch]:
        yield check_ballot_chunk(params, entries[1:], eligible)

    failed(verify_record(record, verify_ballots=skipping), "ballots", None, "skipped")

    def short(
        params: ElectionParameters, entries: Sequence[tuple[int, bytes]], eligible: frozenset[bytes]
    ) -> Iterator[BallotBatch]:
        yield check_ballot_chunk(params, entries[:-1], eligible)

    failed(verify_record(record, verify_ballots=short), "ballots", None, "checked 8 of 9")


def test_stop_after_must_name_a_check(record: Record) -> None:
    with pytest.raises(ValueError, match="stop_after"):
        verify_record(record, stop_after="everything")


# --- the tampering catalogue ---


def test_any_change_without_a_new_signature_fails_the_tree_head(record: Record) -> None:
    changed = edited(record, RESULT, lambda e: e["counts"][0].reverse(), resign=False)
    failed(verify_record(changed), "tree_head", None, "Merkle root")
    dropped = with_board(record, record.board[:5] + record.board[6:], resign=False)
    failed(verify_record(dropped), "tree_head", None, "covers 15 entries; the board has 14")


def test_a_forged_tree_head_signature(record: Record) -> None:
    forged = resign_record(record, SigningKey(bytes(32)))
    assert forged.board_key != record.board_key
    failed(verify_record(replace(forged, board_key=record.board_key)), "tree_head", None, "signature")
    flipped = dict(record.tree_head, timestamp="2024-01-21T19:00:01.000Z")
    failed(verify_record(replace(record, tree_head=flipped)), "tree_head", None, "signature")


def test_a_changed_ballot(record: Record) -> None:
    other_beta = entry(record, 2)["ballot"]["answers"][0]["choices"][0]["beta"]
    changed = edited(record, 1, lambda e: e["ballot"]["answers"][0]["choices"][0].update(beta=other_beta))
    failed(verify_record(changed), "ballots", 1, "entry 1 (ballot): choice_proof in question 0, option 0")


def test_a_dropped_ballot(record: Record) -> None:
    dropped = with_board(record, record.board[:5] + record.board[6:])  # voter 3's only ballot
    failed(verify_record(dropped), "tally", TALLY - 1, "counted is 7; the board has 6 counted ballots")


def test_a_ballot_from_outside_the_electorate(election: Election, record: Record) -> None:
    outsider = make_election(SeededRandom("another electorate"), voters=1).codes[0]
    ballot = build_ballot(election.params, outsider, [[0]], SeededRandom("outsider"))
    received = entry(record, 5)["received_at"]
    line = entry_bytes(ballot_entry(ballot, parse_time(received, "received_at")))
    tampered = with_board(record, [*record.board[:5], line, *record.board[5:]])
    failed(verify_record(tampered), "ballots", 5, "credential", "not in the electorate")


def test_a_revote_counted_twice(election: Election, record: Record) -> None:
    ballots = [parse_ballot(entry(record, i)["ballot"]) for i in range(1, CLOSE)]
    counted = [b for i, b in enumerate(ballots) if i not in (3, 7)] + [ballots[0]]  # voter 0 twice
    total = sum_ciphertexts(b.answers[0].choices[0] for b in counted)
    line = entry_bytes(tally_entry(Tally(((total,),), len(counted))))
    board = list(record.board)
    board[TALLY] = line
    failed(verify_record(with_board(record, board)), "tally", TALLY, "counted is 8; the board has 7")


def test_a_ballot_after_the_close(record: Record) -> None:
    b = list(record.board)
    moved = with_board(record, [*b[:9], b[CLOSE], b[9], *b[CLOSE + 1 :]])
    failed(verify_record(moved), "order", CLOSE, "entry 10 (ballot): a ballot after the close (entry 9)")


def test_a_close_before_the_last_ballot(record: Record) -> None:
    early = edited(record, CLOSE, lambda e: e.update(at="2024-01-21T06:00:00.000Z"))
    failed(verify_record(early), "ballots", CLOSE, "the close is before the last ballot (entry 9)")


def test_a_changed_tally_ciphertext(record: Record) -> None:
    changed = edited(record, TALLY, lambda e: e["ciphertexts"][0][0].update(alpha=point(1)))
    failed(verify_record(changed), "tally", TALLY, "ciphertexts[0][0] is not the sum")


def test_a_wrong_partial_decryption(record: Record) -> None:
    changed = edited(record, PARTIAL_3, lambda e: e["shares"][0][0].update(d=point(2)))
    failed(
        verify_record(changed), "partial_decryptions", PARTIAL_3,
        "trustee 3's decryption share for question 0, option 0 does not verify",
    )  # fmt: skip


def test_wrong_counts(record: Record) -> None:
    changed = edited(record, RESULT, lambda e: e.update(counts=[[4, 3]]))
    failed(verify_record(changed), "result", RESULT, "counts[0][0] is 4; recomputed from the board: 3")
    changed = edited(record, RESULT, lambda e: e.update(counts=[[3, 4, 0]]))
    failed(verify_record(changed), "result", RESULT, "counts[0] should be a list of 2")


def test_wrong_turnout(record: Record) -> None:
    changed = edited(record, RESULT, lambda e: e["turnout"]["by_region"]["Basra"].update(voted=4))
    failed(verify_record(changed), "result", RESULT, "turnout.by_region.Basra.voted is 4; recomputed")
    changed = edited(record, RESULT, lambda e: e["turnout"]["by_region"].pop("Basra"))
    failed(verify_record(changed), "result", RESULT, "turnout.by_region.Basra is missing")
    changed = edited(record, RESULT, lambda e: e["turnout"].update(voted=True))
    failed(verify_record(changed), "result", RESULT, "turnout.voted is true")


def test_a_changed_electorate(record: Record) -> None:
    leaves = list(record.electorate)
    moved = json.loads(leaves[0])
    moved["region"] = "Basra" if moved["region"] == "Baghdad" else "Baghdad"
    leaves[0] = entry_bytes(moved)
    failed(verify_record(replace(record, electorate=tuple(leaves))), "election", None, "Merkle root")
    failed(
        verify_record(replace(record, electorate=record.electorate[1:])),
        "election", None, "the electorate has 7 voters; the parameters say 8",
    )  # fmt: skip
    doubled = (*record.electorate[:2], record.electorate[1], *record.electorate[3:])
    failed(verify_record(replace(record, electorate=doubled)), "election", None, "line 3", "repeats line 2")
    swapped = (record.electorate[1], record.electorate[0], *record.electorate[2:])
    failed(verify_record(replace(record, electorate=swapped)), "election", None, "line 2", "sorts before")


def test_a_new_electorate_breaks_every_ballot(record: Record) -> None:
    """Rewriting the parameters to match a changed electorate changes election_hash,
    to which every ballot is bound."""
    leaves = list(record.electorate)
    moved = json.loads(leaves[0])
    moved["region"] = "Mosul"
    leaves[0] = entry_bytes(moved)
    changed = edited(record, 0, lambda e: e["parameters"]["electorate"].update(root=electorate_root(leaves)))
    failed(verify_record(replace(changed, electorate=tuple(leaves))), "ballots", 1, "election_hash")


def test_reordered_ballots(record: Record) -> None:
    b = list(record.board)
    swapped = with_board(record, [*b[:3], b[4], b[3], *b[5:]])
    failed(verify_record(swapped), "ballots", 4, "is earlier than entry 3's", "never go back")


def test_reordered_entries(record: Record) -> None:
    b = list(record.board)
    failed(
        verify_record(with_board(record, [*b[:CLOSE], b[TALLY], b[CLOSE], *b[TALLY + 1 :]])),
        "order", CLOSE, "entry 10 (tally): the tally before the close",
    )  # fmt: skip
    failed(
        verify_record(with_board(record, [*b[:PARTIAL_3], b[RESULT], b[PARTIAL_3]])),
        "order", RESULT, "an entry after the result (entry 13)",
    )  # fmt: skip
    failed(
        verify_record(with_board(record, [b[1], b[0], *b[2:]])),
        "order", 0, "the board must start with the election entry",
    )  # fmt: skip


# --- the board's grammar and entry encodings ---


def test_entries_out_of_grammar(record: Record) -> None:
    b = list(record.board)
    unknown = entry_bytes({"type": "comment", "text": "hello"})
    failed(verify_record(with_board(record, [*b[:3], unknown, *b[3:]])), "order", 3, "unknown entry type")
    failed(verify_record(with_board(record, [*b[:3], b[0], *b[3:]])), "order", 3, "a second election")
    failed(verify_record(with_board(record, [*b, b[CLOSE]])), "order", 15, "after the result (entry 14)")
    failed(verify_record(with_board(record, [*b[:11], b[CLOSE], *b[11:]])), "order", 11, "a second close")
    failed(verify_record(with_board(record, [*b[:3], b"{oops", *b[3:]])), "order", 3, "not JSON")
    failed(verify_record(with_board(record, [])), "order", None, "the board is empty")


def test_a_result_before_enough_partial_decryptions(record: Record) -> None:
    b = list(record.board)
    failed(
        verify_record(with_board(record, [*b[:PARTIAL_3], b[RESULT]])),
        "result", PARTIAL_3, "after 1 partial decryption(s); at least 2 trustees must decrypt",
    )  # fmt: skip


def test_result_trustees(record: Record) -> None:
    failed(
        verify_record(edited(record, RESULT, lambda e: e.update(trustees=[1]))),
        "result",
        RESULT,
        "at least 2",
    )
    failed(
        verify_record(edited(record, RESULT, lambda e: e.update(trustees=[1, 2]))),
        "result", RESULT, "trustee 2 has no partial decryption",
    )  # fmt: skip
    failed(
        verify_record(edited(record, RESULT, lambda e: e.update(trustees=[3, 1]))),
        "result", RESULT, "increasing order",
    )  # fmt: skip


def test_a_trustee_twice_or_unknown(record: Record) -> None:
    b = list(record.board)
    twice = with_board(record, [*b[:PARTIAL_3], b[PARTIAL_1], *b[PARTIAL_3:]])
    failed(verify_record(twice), "partial_decryptions", PARTIAL_3, "already published", "entry 12")
    unknown = edited(record, PARTIAL_3, lambda e: e.update(trustee=4))
    failed(verify_record(unknown), "partial_decryptions", PARTIAL_3, "there is no trustee 4")


def test_a_non_canonical_entry(record: Record) -> None:
    b = list(record.board)
    spaced = b[3].replace(b'{"ballot":', b'{ "ballot":', 1)
    failed(verify_record(with_board(record, [*b[:3], spaced, *b[4:]])), "ballots", 3, "canonical")
    type_first = b'{"type":"tally",' + b[TALLY][1:].replace(b',"type":"tally"}', b"}")
    assert json.loads(type_first) == json.loads(b[TALLY])
    failed(
        verify_record(with_board(record, [*b[:TALLY], type_first, *b[TALLY + 1 :]])),
        "tally", TALLY, "entry 11 (tally): not in canonical form",
    )  # fmt: skip


def test_a_ballot_received_outside_the_schedule(record: Record) -> None:
    late = edited(record, 9, lambda e: e.update(received_at="2024-01-21T18:00:00.001Z"))
    failed(verify_record(late), "ballots", 9, "outside the schedule")
    early = edited(record, 1, lambda e: e.update(received_at="2024-01-20T05:59:59.999Z"))
    failed(verify_record(early), "ballots", 1, "outside the schedule")


def test_a_bad_board_key(record: Record) -> None:
    failed(verify_record(replace(record, board_key=b"short")), "tree_head", None, "32-byte")


def test_an_election_with_no_ballots(election: Election) -> None:
    empty = make_record(election, [], rng=SeededRandom("empty"), board_key=BOARD_KEY)
    report = verify_record(empty)
    assert report.complete, report.failure
    assert report["tally"].figures == {"counted": 0, "revotes_replaced": 0}
    assert report["result"].figures["counts"] == [[0, 0]]
    assert report["result"].figures["turnout"]["voted"] == 0


def test_electorate_leaves_are_read_in_canonical_form_only() -> None:
    P = Point.base_mul(Scalar(7))  # noqa: N806
    for region in (None, "Basra", "دهوك", 'Ba"sra', "tab\there"):
        voter = Eligible(P, region)
        assert parse_leaf(voter.leaf()) == voter
    refused = {
        b'{"credential":"%s","region":"\\u0042asra"}': "canonical",  # an escape jcs does not make
        b'{"region":"Basra","credential":"%s"}': "canonical",
        b'{"credential":"%s","region":""}': "1 to 64 characters",
        b'{"credential":"%s","region":"   "}': "1 to 64 characters",
        b'{"credential":"%s","region":"\\ud800"}': "canonical",  # a lone surrogate
        b'{"credential":"%s","region":"\xed\xa0\x80"}': "canonical",  # the same, as bytes
        b'{"credential":"%s","region":7}': "1 to 64 characters",
        b'{"credential":"%s","extra":1}': "unexpected key",
    }
    for template, message in refused.items():
        with pytest.raises(DecodeError, match=message):
            parse_leaf(template.replace(b"%s", P.hex().encode()))
    with pytest.raises(DecodeError, match="identity"):
        parse_leaf(Eligible(P).leaf().replace(P.hex().encode(), b"00" * 32))
