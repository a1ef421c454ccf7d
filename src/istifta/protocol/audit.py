"""The cast-as-intended check (Benaloh): docs/protocol.md §"Encryption checks".

Before casting, a voter may ask the ballot page to open one encrypted ballot:
the page reveals every randomness ``r`` it used, and anyone can then compute
what each ciphertext holds, since ``α = r·G`` and ``β − r·K`` is ``0·G`` or
``1·G``. Such a ballot is never cast (its secrecy is gone); the page encrypts
afresh for casting. The check file::

    {"type": "istifta/1/audit", "election_hash", "ballot",
     "randomness": [["r", …] per question], "selections": [[option, …] per question]}

``selections`` is what the voter's device said it encrypted; :func:`check_audit`
recomputes the selections from the ciphertexts and compares.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from istifta.crypto.group import IDENTITY, G, Point, Scalar
from istifta.errors import AuditError, DecodeError, InvalidBallot
from istifta.protocol.ballot import Ballot, parse_ballot, verify_ballot
from istifta.protocol.codec import expect_int, expect_list, expect_object, hash_from_json, scalar_from_json
from istifta.protocol.manifest import Question
from istifta.protocol.parameters import ElectionParameters

__all__ = ["AUDIT_TYPE", "Audit", "check_audit", "parse_audit"]

AUDIT_TYPE = "istifta/1/audit"
Selections = tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class Audit:
    election_hash: str
    ballot: Ballot
    randomness: tuple[tuple[Scalar, ...], ...]
    selections: Selections


def parse_audit(raw: Any) -> Audit:
    """Decode a check file, or raise :class:`DecodeError` naming the bad field."""
    obj = expect_object(raw, "audit", ("type", "election_hash", "ballot", "randomness", "selections"))
    if obj["type"] != AUDIT_TYPE:
        raise DecodeError(f"audit.type: expected {AUDIT_TYPE!r}")
    randomness = tuple(
        tuple(scalar_from_json(r, f"audit.randomness[{q}][{o}]") for o, r in enumerate(expect_list(rs, "")))
        for q, rs in enumerate(expect_list(obj["randomness"], "audit.randomness"))
    )
    selections = tuple(
        tuple(
            expect_int(i, f"audit.selections[{q}]", 0, 1000) for i in expect_list(s, f"audit.selections[{q}]")
        )
        for q, s in enumerate(expect_list(obj["selections"], "audit.selections"))
    )
    return Audit(
        hash_from_json(obj["election_hash"], "audit.election_hash"),
        parse_ballot(obj["ballot"]),
        randomness,
        selections,
    )


def check_audit(params: ElectionParameters, audit: Audit) -> Selections:
    """The selections the audited ballot holds, as any verifier computes them.

    Raises :class:`InvalidBallot` if the ballot itself fails (another election,
    a bad proof) and :class:`AuditError` if the randomness does not open the
    ciphertexts or they hold other choices than claimed. Eligibility is not
    checked: an audited ballot is never cast."""
    if audit.election_hash != params.election_hash:
        raise InvalidBallot("election_hash", "this check file was made for another election")
    verify_ballot(params, audit.ballot, lambda _P: True)
    questions = params.manifest.questions
    if len(audit.randomness) != len(questions):
        raise AuditError("mismatch", f"expected randomness for {len(questions)} questions")
    found = tuple(
        _opened(q, question, answer.choices, rs, params.public_key)
        for q, (question, answer, rs) in enumerate(
            zip(questions, audit.ballot.answers, audit.randomness, strict=True)
        )
    )
    claimed = tuple(tuple(sorted(s)) for s in audit.selections)
    if claimed != found:
        raise AuditError("claim", "the ballot holds other choices than the device showed")
    return found


def _opened(q: int, question: Question, choices: Any, rs: tuple[Scalar, ...], K: Point) -> tuple[int, ...]:  # noqa: N803
    if len(rs) != len(choices):
        raise AuditError("mismatch", f"expected {len(choices)} randomness values", question=q)
    chosen = []
    for o, (ct, r) in enumerate(zip(choices, rs, strict=True)):
        m = ct.beta - K * r
        if ct.alpha != Point.base_mul(r) or m not in (IDENTITY, G):
            raise AuditError(
                "mismatch", f"question {q}, option {o}: the randomness does not open it", question=q, option=o
            )
        if m == G:
            chosen.append(o)
    if question.exactly_one and not chosen:
        chosen.append(len(question.options) - 1)  # the implicit last option
    return tuple(chosen)
