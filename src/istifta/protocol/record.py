"""The bulletin board's entries and the result (PROTOCOL.md §6, §8), as pure values.

Each entry is a JSON object; its bytes on the board are ``jcs`` of it
(:func:`entry_bytes`). The board (``board/``) appends them; the verifier
(``protocol/verify.py``) reads them back. Both go through this module, so the
two cannot disagree on a byte.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from istifta.crypto.hashing import jcs, jcs_plain
from istifta.errors import UsageError
from istifta.protocol.ballot import Ballot
from istifta.protocol.parameters import ElectionParameters
from istifta.protocol.tally import PartialDecryption, Tally

__all__ = [
    "ENTRY_TYPES",
    "Record",
    "Turnout",
    "ballot_entry",
    "close_entry",
    "election_entry",
    "entry_bytes",
    "format_time",
    "partial_decryption_entry",
    "result_entry",
    "tally_entry",
    "turnout",
]

ENTRY_TYPES = ("election", "ballot", "close", "tally", "partial_decryption", "result")


@dataclass(frozen=True)
class Record:
    """The election record of PROTOCOL.md §8, as bytes and values (no files).

    ``board`` holds each entry's bytes (one line of ``board.jsonl``, without
    the newline), ``electorate`` each leaf (a line of ``electorate.jsonl``),
    ``tree_head`` the last signed tree head, ``board_key`` the 32-byte
    Ed25519 public key."""

    board: tuple[bytes, ...]
    electorate: tuple[bytes, ...]
    tree_head: dict[str, Any]
    board_key: bytes


def format_time(at: datetime) -> str:
    """RFC 3339 in UTC with milliseconds, e.g. ``2024-01-20T06:00:00.000Z``."""
    if at.tzinfo is None:
        raise UsageError("times on the board are timezone-aware (UTC)")
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def entry_bytes(entry: Mapping[str, Any]) -> bytes:
    """``jcs(entry)``: ballots by the fast path (hex, ASCII keys), the rest by RFC 8785."""
    if entry.get("type") == "ballot":
        return jcs_plain(entry)
    return jcs(entry)


def election_entry(params: ElectionParameters) -> dict[str, Any]:
    return {"type": "election", "parameters": params.to_json()}


def ballot_entry(ballot: Ballot, received_at: datetime) -> dict[str, Any]:
    return {"type": "ballot", "received_at": format_time(received_at), "ballot": ballot.to_json()}


def close_entry(at: datetime) -> dict[str, Any]:
    return {"type": "close", "at": format_time(at)}


def tally_entry(t: Tally) -> dict[str, Any]:
    return t.to_json()


def partial_decryption_entry(pd: PartialDecryption) -> dict[str, Any]:
    return pd.to_json()


@dataclass(frozen=True)
class Turnout:
    eligible: int
    voted: int
    by_region: dict[str, tuple[int, int]]
    """region → (eligible, voted); voters without a region are in no region's figures."""

    def to_json(self) -> dict[str, Any]:
        return {
            "eligible": self.eligible,
            "voted": self.voted,
            "by_region": {r: {"eligible": e, "voted": v} for r, (e, v) in sorted(self.by_region.items())},
        }


def turnout(regions: Iterable[tuple[bytes, str | None]], voted: Iterable[bytes]) -> Turnout:
    """Turnout from the electorate's ``(credential bytes, region)`` and the counted credentials."""
    counted = set(voted)
    eligible = 0
    seen = 0
    by_region: dict[str, list[int]] = {}
    for credential, region in regions:
        eligible += 1
        has_voted = credential in counted
        seen += has_voted
        if region is not None:
            figures = by_region.setdefault(region, [0, 0])
            figures[0] += 1
            figures[1] += has_voted
    if seen != len(counted):
        raise UsageError("a counted credential is not in the electorate")
    return Turnout(eligible, seen, {r: (e, v) for r, (e, v) in by_region.items()})


def result_entry(trustees: Sequence[int], counts: Sequence[Sequence[int]], t: Turnout) -> dict[str, Any]:
    return {
        "type": "result",
        "trustees": sorted(trustees),
        "counts": [list(row) for row in counts],
        "turnout": t.to_json(),
    }
