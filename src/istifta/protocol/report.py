"""The verifier's report (PROTOCOL.md §8): each check named, with its figures.

STYLE.md habit 5: the verifier returns a report, not a bool. A failed check
carries the message and, when the failure is in a board entry, its index
(0-based, as in receipts; line ``index + 1`` of ``board.jsonl``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from istifta.protocol.parameters import ElectionParameters
from istifta.protocol.tally import Tally

__all__ = ["CHECKS", "Check", "Report", "Status"]

Status = Literal["ok", "failed", "not run"]

CHECKS: tuple[tuple[str, str], ...] = (
    ("tree_head", "the board key signs the tree head; its size and Merkle root are the board's"),
    ("order", "entries in order: election, ballots, close, tally, partial decryptions, result"),
    ("election", "parameters, trustees' proofs, K = Σ C_i,0, the electorate's size and root"),
    ("ballots", "every ballot valid (§5), received while open and in time order; the close"),
    ("tally", "the tally sums the last ballot of each credential and counts them"),
    ("partial_decryptions", "each trustee's shares prove D = s_j·A against V_j"),
    ("result", "counts from at least t trustees' shares, and the turnout, as published"),
)
"""Every check, in the order the verifier runs them: ``(name, what it proves)``."""


@dataclass(frozen=True)
class Check:
    name: str
    description: str
    status: Status
    figures: dict[str, Any] = field(default_factory=dict)
    """What the check counted (JSON values), also when it failed part-way."""
    message: str | None = None
    """Why it failed, e.g. ``entry 17 (ballot): choice_proof in question 0, option 0: …``."""
    entry: int | None = None
    """The index of the board entry that failed, when there is one."""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True)
class Report:
    """Every check, in order; the run stops at the first failure (the rest are ``not run``)."""

    checks: tuple[Check, ...]
    parameters: ElectionParameters | None = field(default=None, repr=False, compare=False)
    """The election's parameters once they parsed (for labels), else ``None``."""
    tally: Tally | None = field(default=None, repr=False, compare=False)
    """The tally once it verified, else ``None`` (what a trustee decrypts after
    ``verify_record(record, stop_after="tally")``)."""

    @property
    def ok(self) -> bool:
        """No check failed (checks left out by ``stop_after`` are not failures)."""
        return self.failure is None

    @property
    def complete(self) -> bool:
        """Every check ran and passed: the whole election verifies."""
        return all(c.ok for c in self.checks)

    @property
    def failure(self) -> Check | None:
        return next((c for c in self.checks if c.status == "failed"), None)

    def __getitem__(self, name: str) -> Check:
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "complete": self.complete,
            "checks": [
                {
                    "name": c.name,
                    "status": c.status,
                    "figures": c.figures,
                    "message": c.message,
                    "entry": c.entry,
                }
                for c in self.checks
            ],
        }
