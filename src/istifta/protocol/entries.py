"""Board entries and electorate leaves read back from their bytes (PROTOCOL.md §6, §8).

The verifier's parsers: each takes the exact bytes of one line and returns
checked values or raises a :class:`~istifta.errors.IstiftaError` saying what
is wrong (the caller adds the entry's index). An entry is accepted only in
its canonical form, ``entry_bytes(json.loads(line)) == line``, so that one
board has one byte string and one Merkle root.

:func:`check_ballot_chunk` is the unit of ballot work that
``protocol/verify.py`` hands out, in-process or to worker processes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from istifta.crypto.elgamal import Ciphertext
from istifta.crypto.group import Point
from istifta.errors import DecodeError, IstiftaError
from istifta.protocol.ballot import parse_ballot, verify_ballot
from istifta.protocol.codec import expect_object
from istifta.protocol.electorate import MAX_REGION, Eligible
from istifta.protocol.manifest import parse_time
from istifta.protocol.parameters import ElectionParameters
from istifta.protocol.record import entry_bytes

__all__ = [
    "BallotBatch",
    "CheckedBallot",
    "EntryFailure",
    "check_ballot_chunk",
    "load_entry",
    "load_json",
    "parse_leaf",
    "sniff_type",
]

# In jcs, "type" sorts after every other key of every entry, so a canonical
# entry ends with it. A line this misreads is not canonical, and the check that
# then parses it in full refuses it.
_TYPE_AT_END = re.compile(rb'"type":"([a-z_]{1,32})"}\Z')


@dataclass(frozen=True, slots=True)
class EntryFailure:
    """The first entry of a batch that fails, and why."""

    index: int
    kind: str
    message: str


@dataclass(frozen=True, slots=True)
class CheckedBallot:
    """What the rest of the verification needs from a valid ballot entry."""

    index: int
    credential: bytes
    received_at: datetime
    choices: tuple[tuple[Ciphertext, ...], ...]
    """Per question, the carried options' ciphertexts."""


@dataclass(frozen=True, slots=True)
class BallotBatch:
    """Consecutive ballot entries checked in board order: ``checked`` then,
    if one failed, ``failure`` (the batch stops there)."""

    checked: tuple[CheckedBallot, ...]
    failure: EntryFailure | None = None


def sniff_type(line: bytes) -> str | None:
    """The ``type`` of an entry without parsing it, or ``None`` if the line
    does not end the way a canonical entry does."""
    found = _TYPE_AT_END.search(line)
    return found.group(1).decode("ascii") if found else None


def load_json(line: bytes) -> Any:
    try:
        return json.loads(line)
    except (ValueError, RecursionError):
        raise DecodeError("not JSON") from None


def load_entry(line: bytes, kind: str) -> dict[str, Any]:
    """The entry as JSON, refused unless it is a canonical object of type ``kind``."""
    obj = load_json(line)
    if not isinstance(obj, dict) or obj.get("type") != kind:
        raise DecodeError(f"not a {kind} entry")
    try:
        canonical = entry_bytes(obj)
    except (ValueError, TypeError, RecursionError):
        canonical = b""
    if canonical != line:
        raise DecodeError("not in canonical form: an entry's bytes must be jcs of its JSON")
    return obj


# A canonical leaf whose region needs no escape: the common case, read without
# a JSON round trip. Anything else takes the general path, which decides.
_PLAIN_LEAF = re.compile(rb'\{"credential":"([0-9a-f]{64})"(?:,"region":"([^"\\\x00-\x1f]*)")?\}\Z')


def parse_leaf(line: bytes) -> Eligible:
    """An electorate leaf, ``jcs({"credential": P, "region": …})``, in canonical form."""
    plain = _PLAIN_LEAF.match(line)
    if plain:
        try:
            region = None if plain.group(2) is None else plain.group(2).decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            return Eligible(Point.from_hex(plain.group(1).decode(), "leaf.credential"), _region(region))
    obj = expect_object(load_json(line), "leaf", ("credential",), ("region",))
    voter = Eligible(Point.from_hex(obj["credential"], "leaf.credential"), _region(obj.get("region")))
    try:
        canonical = voter.leaf()
    except ValueError:
        canonical = b""
    if canonical != line:
        raise DecodeError("not in canonical form: a leaf's bytes must be jcs of its JSON")
    return voter


def _region(region: Any) -> str | None:
    if region is not None and not (
        isinstance(region, str) and 0 < len(region) <= MAX_REGION and region.strip()
    ):
        raise DecodeError(f"leaf.region: expected 1 to {MAX_REGION} characters")
    return region


def _check_ballot_entry(
    params: ElectionParameters, index: int, line: bytes, is_eligible: Callable[[Point], bool]
) -> CheckedBallot:
    entry = expect_object(load_entry(line, "ballot"), "entry", ("type", "received_at", "ballot"))
    at = parse_time(entry["received_at"], "received_at")
    manifest = params.manifest
    if not manifest.opens_at <= at <= manifest.closes_at:
        raise DecodeError(
            f"received_at {entry['received_at']} is outside the schedule "
            f"({manifest.raw['opens_at']} to {manifest.raw['closes_at']})"
        )
    ballot = parse_ballot(entry["ballot"])
    verify_ballot(params, ballot, is_eligible)
    choices = tuple(answer.choices for answer in ballot.answers)
    return CheckedBallot(index, ballot.credential.to_bytes(), at, choices)


def check_ballot_chunk(
    params: ElectionParameters, chunk: Sequence[tuple[int, bytes]], eligible: frozenset[bytes]
) -> BallotBatch:
    """Check ballot entries in order (§5, and the schedule); stop at the first failure."""

    def is_eligible(P: Point) -> bool:  # noqa: N803
        return P.to_bytes() in eligible

    checked = []
    for index, line in chunk:
        try:
            checked.append(_check_ballot_entry(params, index, line, is_eligible))
        except IstiftaError as exc:
            message = str(exc).removeprefix("ballot rejected: ")
            return BallotBatch(tuple(checked), EntryFailure(index, "ballot", message))
    return BallotBatch(tuple(checked))
