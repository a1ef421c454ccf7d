"""The election record's verifier (PROTOCOL.md §8), pure: a record in, a report out.

:func:`verify_record` runs the checks of :data:`~istifta.protocol.report.CHECKS`
in order and stops at the first failure. Ballot checking, the bulk of the
work, goes through a :data:`BallotVerifier`, so that an edge (the CLI) can
spread it over processes; the default runs here, in this process. The rules
where PROTOCOL.md is silent are in docs/record.md and docs/protocol.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from istifta.board.merkle import tree_hash
from istifta.crypto.elgamal import ZERO_CIPHERTEXT
from istifta.errors import CheckFailed, DecodeError, IstiftaError, UsageError
from istifta.protocol.entries import (
    BallotBatch,
    CheckedBallot,
    check_ballot_chunk,
    load_entry,
)
from istifta.protocol.manifest import parse_time
from istifta.protocol.parameters import ElectionParameters, parse_parameters
from istifta.protocol.record import ENTRY_TYPES, Record, turnout
from istifta.protocol.report import CHECKS, Check, Report
from istifta.protocol.tally import PartialDecryption, Tally, combine, parse_tally
from istifta.protocol.verify_parts import (
    check_electorate,
    check_tree_head,
    entry_kinds,
    json_difference,
    parse_partial,
    result_trustees,
)

__all__ = ["BallotVerifier", "Progress", "verify_ballots_in_process", "verify_record"]

Progress = Callable[[str, int, int], None]
"""``progress(check, done, total)``, called as ballots are checked."""

BallotVerifier = Callable[
    [ElectionParameters, Sequence[tuple[int, bytes]], frozenset[bytes]], Iterable[BallotBatch]
]
"""Checks ``(index, entry bytes)`` ballot entries against the parameters and the
electorate's credentials; yields :class:`BallotBatch` es covering them in board
order, and may stop after a batch that has a failure."""

CHUNK = 64


def verify_ballots_in_process(
    params: ElectionParameters, entries: Sequence[tuple[int, bytes]], eligible: frozenset[bytes]
) -> Iterator[BallotBatch]:
    """The default :data:`BallotVerifier`: chunk by chunk, in this process."""
    for start in range(0, len(entries), CHUNK):
        batch = check_ballot_chunk(params, entries[start : start + CHUNK], eligible)
        yield batch
        if batch.failure is not None:
            return


def _fail_at(index: int, kind: str, message: str) -> CheckFailed:
    return CheckFailed(f"entry {index} ({kind}): {message}", index)


class _Entry:
    """``with _Entry(i, kind):`` turns an :class:`IstiftaError` into a failure at entry ``i``."""

    def __init__(self, index: int, kind: str) -> None:
        self.index, self.kind = index, kind

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: object, tb: object) -> None:
        if isinstance(exc, IstiftaError) and not isinstance(exc, CheckFailed):
            raise _fail_at(self.index, self.kind, str(exc)) from None


@dataclass
class _State:
    record: Record
    stop_after: str | None
    verify_ballots: BallotVerifier
    progress: Progress
    kinds: list[str] = field(default_factory=list)
    first: dict[str, int] = field(default_factory=dict)
    _params: ElectionParameters | None = None
    eligible: frozenset[bytes] = frozenset()
    regions: list[tuple[bytes, str | None]] = field(default_factory=list)
    ballots: list[CheckedBallot] = field(default_factory=list)
    counted: list[bytes] = field(default_factory=list)
    _tally: Tally | None = None
    partials: dict[int, PartialDecryption] = field(default_factory=dict)

    @property
    def params(self) -> ElectionParameters:
        assert self._params is not None, "the election check runs first"
        return self._params

    @property
    def tally(self) -> Tally:
        assert self._tally is not None, "the tally check runs first"
        return self._tally

    def indices(self, kind: str) -> list[int]:
        return [i for i, k in enumerate(self.kinds) if k == kind]

    def entry(self, index: int) -> dict[str, Any]:
        with _Entry(index, self.kinds[index]):
            return load_entry(self.record.board[index], self.kinds[index])


def _tree_head(s: _State, figures: dict[str, Any]) -> None:
    try:
        check_tree_head(s.record.tree_head, s.record.board_key, figures)
    except IstiftaError as exc:
        raise CheckFailed(str(exc)) from None
    board = s.record.board
    if figures["entries"] != len(board):
        raise CheckFailed(f"the tree head covers {figures['entries']} entries; the board has {len(board)}")
    root = tree_hash(board).hex()
    if root != figures["root"]:
        raise CheckFailed(f"the Merkle root of the board is {root}; the tree head says {figures['root']}")


def _order(s: _State, figures: dict[str, Any]) -> None:
    figures["entries"] = counts = dict.fromkeys(ENTRY_TYPES, 0)
    for kind in entry_kinds(s.record.board, s.kinds, s.first):
        counts[kind] += 1
    needed = {None: "result", "result": "result", "tally": "tally"}.get(s.stop_after, "election")
    needed = "tally" if s.stop_after == "partial_decryptions" else needed
    if not s.kinds:
        raise CheckFailed("the board is empty")
    if needed not in s.first:
        last = len(s.kinds) - 1
        raise CheckFailed(f"the board ends at entry {last} with no {needed} entry", last)


def _election(s: _State, figures: dict[str, Any]) -> None:
    with _Entry(0, "election"):
        entry = load_entry(s.record.board[0], "election")
        if set(entry) != {"type", "parameters"}:
            raise DecodeError('expected exactly the keys "type" and "parameters"')
        params = parse_parameters(entry["parameters"])
    s._params = params
    m = params.manifest
    figures.update(
        election_hash=params.election_hash,
        slug=m.slug,
        questions=len(m.questions),
        trustees=m.n,
        threshold=m.threshold,
    )
    s.regions = check_electorate(s.record.electorate, params, figures)
    s.eligible = frozenset(credential for credential, _ in s.regions)


def _ballots(s: _State, figures: dict[str, Any]) -> None:
    entries = [(i, s.record.board[i]) for i in s.indices("ballot")]
    figures.update(ballots=len(entries), valid=0)
    expected = iter(i for i, _ in entries)
    batches = iter(s.verify_ballots(s.params, entries, s.eligible))
    try:
        for batch in batches:
            for ballot in batch.checked:
                if ballot.index != next(expected, None):
                    raise CheckFailed(f"the ballot verifier skipped a ballot before entry {ballot.index}")
                _in_time_order(s.ballots, ballot)
                s.ballots.append(ballot)
            figures["valid"] = len(s.ballots)
            s.progress("ballots", len(s.ballots), len(entries))
            if batch.failure is not None:
                f = batch.failure
                raise _fail_at(f.index, f.kind, f.message)
    finally:
        getattr(batches, "close", lambda: None)()
    if len(s.ballots) != len(entries):
        raise CheckFailed(f"the ballot verifier checked {len(s.ballots)} of {len(entries)} ballots")
    figures["voters"] = len({b.credential for b in s.ballots})
    _close(s, figures)


def _in_time_order(previous: list[CheckedBallot], ballot: CheckedBallot) -> None:
    if previous and ballot.received_at < previous[-1].received_at:
        before = previous[-1]
        raise _fail_at(
            ballot.index,
            "ballot",
            f"received_at {_shown(ballot.received_at)} is earlier than entry "
            f"{before.index}'s ({_shown(before.received_at)}): times on the board never go back",
        )


def _shown(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def _close(s: _State, figures: dict[str, Any]) -> None:
    index = s.first.get("close")
    if index is None:
        figures["closed_at"] = None  # an open election, checked so far (stop_after)
        return
    entry = s.entry(index)
    with _Entry(index, "close"):
        if set(entry) != {"type", "at"}:
            raise DecodeError('expected exactly the keys "type" and "at"')
        at = parse_time(entry["at"], "at")
    figures["closed_at"] = entry["at"]
    if at < s.params.manifest.opens_at:
        raise _fail_at(index, "close", "the close is before the election opens")
    if s.ballots and at < s.ballots[-1].received_at:
        last = s.ballots[-1].index
        raise _fail_at(index, "close", f"the close is before the last ballot (entry {last})")


def _tally(s: _State, figures: dict[str, Any]) -> None:
    last: dict[bytes, CheckedBallot] = {}
    for ballot in s.ballots:
        last[ballot.credential] = ballot
    shape = [q.explicit_options for q in s.params.manifest.questions]
    sums = [[ZERO_CIPHERTEXT] * k for k in shape]
    for ballot in last.values():
        for row, choices in zip(sums, ballot.choices, strict=True):
            for o, ct in enumerate(choices):
                row[o] = row[o] + ct
    s.counted = list(last)
    figures.update(counted=len(last), revotes_replaced=len(s.ballots) - len(last))
    index = s.first["tally"]
    with _Entry(index, "tally"):
        t = parse_tally(s.entry(index), s.params)
    if t.counted != len(last):
        raise _fail_at(
            index,
            "tally",
            f"counted is {t.counted}; the board has {len(last)} counted ballots "
            "(the last ballot of each credential)",
        )
    for q, (row, published) in enumerate(zip(sums, t.ciphertexts, strict=True)):
        for o, (ct, claimed) in enumerate(zip(row, published, strict=True)):
            if ct != claimed:
                raise _fail_at(
                    index,
                    "tally",
                    f"ciphertexts[{q}][{o}] is not the sum of the counted ballots' "
                    f"choices for question {q}, option {o}",
                )
    s._tally = t


def _partial_decryptions(s: _State, figures: dict[str, Any]) -> None:
    seen: dict[int, int] = {}
    figures["trustees"] = []
    for index in s.indices("partial_decryption"):
        with _Entry(index, "partial_decryption"):
            pd = parse_partial(s.entry(index), s.params, s.tally, seen)
        seen[pd.trustee] = index
        s.partials[pd.trustee] = pd
        figures["trustees"] = sorted(seen)


def _result(s: _State, figures: dict[str, Any]) -> None:
    index = s.first["result"]
    entry = s.entry(index)
    with _Entry(index, "result"):
        if set(entry) != {"type", "trustees", "counts", "turnout"}:
            raise DecodeError('expected exactly the keys "type", "trustees", "counts", "turnout"')
        trustees = result_trustees(entry["trustees"], s.partials, s.params.manifest.threshold)
        figures["trustees"] = trustees
        counts = combine(s.params, s.tally, [s.partials[j] for j in trustees])
    figures["counts"] = counts
    expected = turnout(s.regions, s.counted).to_json()
    figures["turnout"] = expected
    for name, published, recomputed in (
        ("counts", entry["counts"], counts),
        ("turnout", entry["turnout"], expected),
    ):
        difference = json_difference(published, recomputed, name)
        if difference:
            raise _fail_at(index, "result", difference)


_STEPS: dict[str, Callable[[_State, dict[str, Any]], None]] = {
    "tree_head": _tree_head,
    "order": _order,
    "election": _election,
    "ballots": _ballots,
    "tally": _tally,
    "partial_decryptions": _partial_decryptions,
    "result": _result,
}


def verify_record(
    record: Record,
    *,
    progress: Progress | None = None,
    verify_ballots: BallotVerifier | None = None,
    stop_after: str | None = None,
) -> Report:
    """Every check of PROTOCOL.md §8, in order, up to the first failure.

    ``stop_after`` names the last check to run (e.g. ``"tally"``: a trustee
    checks everything up to the tally before decrypting); the record then
    needs the board only up to what that check reads.
    """
    if stop_after is not None and stop_after not in _STEPS:
        raise UsageError(f"stop_after: expected one of {', '.join(_STEPS)}, got {stop_after!r}")
    s = _State(
        record,
        stop_after,
        verify_ballots or verify_ballots_in_process,
        progress or (lambda check, done, total: None),
    )
    checks: list[Check] = []
    running = True
    for name, description in CHECKS:
        if not running:
            checks.append(Check(name, description, "not run"))
            continue
        figures: dict[str, Any] = {}
        try:
            _STEPS[name](s, figures)
        except CheckFailed as failure:
            checks.append(Check(name, description, "failed", figures, failure.message, failure.entry))
            running = False
            continue
        checks.append(Check(name, description, "ok", figures))
        running = name != stop_after
    return Report(tuple(checks), s._params, s._tally)
