"""The encrypted tally and its threshold decryption (PROTOCOL.md §7).

The counted set is the last ballot of each credential in board order; its
ciphertexts are summed per question and carried option. Each trustee ``j``
publishes ``D = s_j·A`` with a Chaum–Pedersen proof; any ``t`` of them give
``count·G = B − Σ_j λ_j·D_j`` and the count by baby-step giant-step.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from istifta.crypto.dlog import DlogTable
from istifta.crypto.elgamal import ZERO_CIPHERTEXT, Ciphertext
from istifta.crypto.group import IDENTITY, Point, RandomSource, Scalar
from istifta.crypto.proofs import Proof, prove_dleq, verify_dleq
from istifta.crypto.threshold import lagrange
from istifta.errors import DecodeError, DecryptionError
from istifta.protocol.ballot import Ballot
from istifta.protocol.codec import (
    ciphertext_from_json,
    ciphertext_to_json,
    expect_int,
    expect_list,
    expect_object,
    point_from_json,
    proof_from_json,
    proof_to_json,
)
from istifta.protocol.parameters import ElectionParameters

__all__ = [
    "PartialDecryption",
    "Share",
    "Tally",
    "combine",
    "counted_ballots",
    "parse_partial_decryption",
    "partial_decrypt",
    "parse_tally",
    "tally",
    "verify_partial_decryption",
]

DECRYPT_TAG = "istifta/1/decrypt"


@dataclass(frozen=True)
class Tally:
    """Component-wise sums per question and carried option, and how many ballots were counted."""

    ciphertexts: tuple[tuple[Ciphertext, ...], ...]
    counted: int

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "tally",
            "ciphertexts": [[ciphertext_to_json(ct) for ct in row] for row in self.ciphertexts],
            "counted": self.counted,
        }


@dataclass(frozen=True, slots=True)
class Share:
    """``D = s_j·A`` for one option, with its proof."""

    d: Point
    proof: Proof


@dataclass(frozen=True)
class PartialDecryption:
    trustee: int
    shares: tuple[tuple[Share, ...], ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "partial_decryption",
            "trustee": self.trustee,
            "shares": [
                [{"d": s.d.hex(), "proof": proof_to_json(s.proof)} for s in row] for row in self.shares
            ],
        }


def counted_ballots(ballots: Iterable[Ballot]) -> list[Ballot]:
    """The last ballot of each credential, in board order of those last ballots."""
    last: dict[bytes, Ballot] = {}
    for b in ballots:
        key = b.credential.to_bytes()
        last.pop(key, None)  # re-inserting moves it to the end: board order of last ballots
        last[key] = b
    return list(last.values())


def tally(params: ElectionParameters, ballots: Iterable[Ballot]) -> Tally:
    """Sum the counted ballots (already verified) per question and carried option."""
    shape = [q.explicit_options for q in params.manifest.questions]
    sums = [[ZERO_CIPHERTEXT] * k for k in shape]
    counted = counted_ballots(ballots)
    for b in counted:
        for row, answer in zip(sums, b.answers, strict=True):
            for o, ct in enumerate(answer.choices):
                row[o] = row[o] + ct
    return Tally(tuple(tuple(row) for row in sums), len(counted))


def _context(params: ElectionParameters, j: int) -> tuple[bytes, int]:
    return (params.election_hash_bytes, j)


def partial_decrypt(
    params: ElectionParameters, t: Tally, j: int, s_j: Scalar, rng: RandomSource
) -> PartialDecryption:
    """Trustee ``j``'s shares; draws one ``w`` per option, in order."""
    rows = []
    for row in t.ciphertexts:
        shares = []
        for ct in row:
            d, proof = prove_dleq(s_j, ct.alpha, DECRYPT_TAG, _context(params, j), rng)
            shares.append(Share(d, proof))
        rows.append(tuple(shares))
    return PartialDecryption(j, tuple(rows))


def parse_tally(raw: Any, params: ElectionParameters, path: str = "tally") -> Tally:
    """A ``tally`` entry → :class:`Tally`, shaped as the manifest's carried options
    (a sum may be the identity: nothing may have been counted)."""
    obj = expect_object(raw, path, ("type", "ciphertexts", "counted"))
    if obj["type"] != "tally":
        raise DecodeError(f"{path}.type: expected 'tally'")
    questions = params.manifest.questions
    rows = expect_list(obj["ciphertexts"], f"{path}.ciphertexts", len(questions))
    parsed = []
    for q, (row, question) in enumerate(zip(rows, questions, strict=True)):
        items = expect_list(row, f"{path}.ciphertexts[{q}]", question.explicit_options)
        parsed.append(
            tuple(
                ciphertext_from_json(ct, f"{path}.ciphertexts[{q}][{o}]", allow_identity_alpha=True)
                for o, ct in enumerate(items)
            )
        )
    counted = expect_int(obj["counted"], f"{path}.counted", 0, params.electorate_size)
    return Tally(tuple(parsed), counted)


def parse_partial_decryption(raw: Any, t: Tally, path: str = "partial_decryption") -> PartialDecryption:
    obj = expect_object(raw, path, ("type", "trustee", "shares"))
    rows = expect_list(obj["shares"], f"{path}.shares", len(t.ciphertexts))
    shares = []
    for q, (row, expected) in enumerate(zip(rows, t.ciphertexts, strict=True)):
        items = expect_list(row, f"{path}.shares[{q}]", len(expected))
        parsed = []
        for o, item in enumerate(items):
            p = f"{path}.shares[{q}][{o}]"
            s = expect_object(item, p, ("d", "proof"))
            parsed.append(
                Share(
                    point_from_json(s["d"], f"{p}.d", allow_identity=True),
                    proof_from_json(s["proof"], f"{p}.proof"),
                )
            )
        shares.append(tuple(parsed))
    return PartialDecryption(expect_int(obj["trustee"], f"{path}.trustee", 1, 2**32), tuple(shares))


def verify_partial_decryption(params: ElectionParameters, t: Tally, pd: PartialDecryption) -> None:
    """Raise :class:`DecryptionError` naming the first share whose proof fails."""
    V = params.verification_key(pd.trustee)  # noqa: N806
    for q, (row, shares) in enumerate(zip(t.ciphertexts, pd.shares, strict=True)):
        for o, (ct, share) in enumerate(zip(row, shares, strict=True)):
            if not verify_dleq(V, ct.alpha, share.d, DECRYPT_TAG, _context(params, pd.trustee), share.proof):
                raise DecryptionError(
                    f"trustee {pd.trustee}'s decryption share for question {q}, option {o} does not verify"
                )


def combine(params: ElectionParameters, t: Tally, partials: Sequence[PartialDecryption]) -> list[list[int]]:
    """Counts for every option, implicit ones included, from at least ``t`` partials,
    each verified first."""
    indices = [pd.trustee for pd in partials]
    if len(set(indices)) != len(indices):
        raise DecryptionError(f"a trustee's shares are given twice: {sorted(indices)}")
    threshold = params.manifest.threshold
    if len(indices) < threshold:
        raise DecryptionError(f"{len(indices)} trustees decrypted; at least {threshold} are needed")
    n = params.manifest.n
    unknown = sorted(j for j in indices if not 1 <= j <= n)
    if unknown:
        raise DecryptionError(f"there is no trustee {unknown[0]}: trustees are 1 to {n}")
    for pd in partials:
        verify_partial_decryption(params, t, pd)
    lambdas = [lagrange(indices, j) for j in indices]
    table = DlogTable(t.counted)
    counts = []
    for q, (question, row) in enumerate(zip(params.manifest.questions, t.ciphertexts, strict=True)):
        qcounts = []
        for o, ct in enumerate(row):
            combined = IDENTITY
            for lam, pd in zip(lambdas, partials, strict=True):
                combined = combined + pd.shares[q][o].d * lam
            count = table.solve(ct.beta - combined)
            if count is None:
                raise DecryptionError(
                    f"question {q}, option {o}: the shares give no count from 0 to {t.counted}"
                )
            qcounts.append(count)
        if question.exactly_one:
            implicit = t.counted - sum(qcounts)
            if implicit < 0:
                raise DecryptionError(f"question {q}: the carried options count more than the ballots")
            qcounts.append(implicit)
        counts.append(qcounts)
    return counts
