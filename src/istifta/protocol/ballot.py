"""Ballots (PROTOCOL.md §5): build on the voter's side, parse, verify, track.

:func:`build_ballot` encrypts the voter's selections and proves them valid;
:func:`parse_ballot` turns JSON from outside into a :class:`Ballot` or raises
:class:`DecodeError`; :func:`verify_ballot` raises :class:`InvalidBallot`
naming the check, question and option that fail.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from istifta.crypto.credentials import credential_secret, public_credential
from istifta.crypto.elgamal import Ciphertext, encrypt, sum_ciphertexts
from istifta.crypto.group import Point, RandomSource, Scalar, random_scalar
from istifta.crypto.hashing import jcs_plain, sha256
from istifta.crypto.proofs import (
    Proof,
    RangeProof,
    prove_range,
    prove_schnorr,
    verify_range,
    verify_schnorr,
)
from istifta.errors import InvalidBallot, SelectionError
from istifta.protocol.codec import (
    ciphertext_from_json,
    ciphertext_to_json,
    expect_list,
    expect_object,
    hash_from_json,
    point_from_json,
    proof_from_json,
    proof_to_json,
)
from istifta.protocol.manifest import SUM_CONTEXT, Question
from istifta.protocol.parameters import ElectionParameters

__all__ = ["Answer", "Ballot", "build_ballot", "parse_ballot", "verify_ballot"]

SIGNATURE_TAG = "istifta/1/ballot-sig"
CHOICE = (0, 1)


@dataclass(frozen=True, slots=True)
class Answer:
    """One question's part of a ballot."""

    choices: tuple[Ciphertext, ...]
    choice_proofs: tuple[RangeProof, ...]
    sum_proof: RangeProof

    def sum(self) -> Ciphertext:
        return sum_ciphertexts(self.choices)

    def to_json(self) -> dict[str, Any]:
        return {
            "choices": [ciphertext_to_json(ct) for ct in self.choices],
            "choice_proofs": [[proof_to_json(p) for p in rp] for rp in self.choice_proofs],
            "sum_proof": [proof_to_json(p) for p in self.sum_proof],
        }


@dataclass(frozen=True)
class Ballot:
    election_hash: str
    credential: Point
    answers: tuple[Answer, ...]
    signature: Proof

    def body_json(self) -> dict[str, Any]:
        """The ballot without ``signature``: what the signature signs."""
        return {
            "election_hash": self.election_hash,
            "credential": self.credential.hex(),
            "answers": [a.to_json() for a in self.answers],
        }

    def to_json(self) -> dict[str, Any]:
        return {**self.body_json(), "signature": proof_to_json(self.signature)}

    @cached_property
    def body_bytes(self) -> bytes:
        return jcs_plain(self.body_json())

    @cached_property
    def canonical_bytes(self) -> bytes:
        """``jcs(ballot)``. ``signature`` sorts last, so it closes the body's bytes."""
        sig = jcs_plain(proof_to_json(self.signature))
        return self.body_bytes[:-1] + b',"signature":' + sig + b"}"

    @property
    def tracker(self) -> str:
        """``sha256(jcs(ballot))`` in hex, shown to the voter."""
        return sha256(self.canonical_bytes).hex()


def _signature_context(election_hash: bytes, P: Point, body: bytes) -> tuple[bytes, Point, bytes]:  # noqa: N803
    return (election_hash, P, sha256(body))


def _range_context(eh: bytes, P: Point, q: int, o: int) -> tuple[bytes, Point, int, int]:  # noqa: N803
    return (eh, P, q, o)


def _vector(question: Question, chosen: Sequence[int], q: int) -> list[int]:
    """The 0/1 vector over the options the ballot carries, checked against the question."""
    k = len(question.options)
    picked = set(chosen)
    if len(picked) != len(chosen):
        raise SelectionError(f"question {q}: the same option is chosen twice")
    if not all(isinstance(o, int) and 0 <= o < k for o in picked):
        raise SelectionError(f"question {q}: options are numbered 0 to {k - 1}")
    if not question.min <= len(picked) <= question.max:
        raise SelectionError(
            f"question {q}: choose from {question.min} to {question.max} options, got {len(picked)}"
        )
    return [int(o in picked) for o in range(question.explicit_options)]


def build_ballot(
    params: ElectionParameters,
    code: str,
    selections: Sequence[Sequence[int]],
    rng: RandomSource,
) -> Ballot:
    """Encrypt ``selections`` (chosen option indices per question) and prove them.

    Draws from ``rng``, per question in order: for each carried option ``r``
    then its range proof; then the sum proof; after every question, the
    signature's ``w``.
    """
    manifest = params.manifest
    if len(selections) != len(manifest.questions):
        raise SelectionError(
            f"the referendum has {len(manifest.questions)} questions; got selections for {len(selections)}"
        )
    x = credential_secret(bytes.fromhex(manifest.manifest_hash), code)
    P = public_credential(x)  # noqa: N806
    K, eh = params.public_key, params.election_hash_bytes  # noqa: N806
    vectors = [
        _vector(question, chosen, q)
        for q, (question, chosen) in enumerate(zip(manifest.questions, selections, strict=True))
    ]
    answers = []
    for q, (question, vector) in enumerate(zip(manifest.questions, vectors, strict=True)):
        choices, proofs, rs = [], [], []
        for o, v in enumerate(vector):
            r = random_scalar(rng)
            ct = encrypt(K, v, r)
            choices.append(ct)
            proofs.append(prove_range(K, ct, r, v, CHOICE, _range_context(eh, P, q, o), rng))
            rs.append(r)
        sum_proof: RangeProof = ()
        if question.sum_allowed:
            total = sum_ciphertexts(choices)
            r_sum = Scalar(sum(r.value for r in rs))
            sum_proof = prove_range(
                K,
                total,
                r_sum,
                sum(vector),
                question.sum_allowed,
                _range_context(eh, P, q, SUM_CONTEXT),
                rng,
            )
        answers.append(Answer(tuple(choices), tuple(proofs), sum_proof))
    unsigned = Ballot(params.election_hash, P, tuple(answers), Proof(Scalar(0), Scalar(0)))
    signature = prove_schnorr(x, SIGNATURE_TAG, _signature_context(eh, P, unsigned.body_bytes), rng)
    return Ballot(params.election_hash, P, tuple(answers), signature)


def parse_ballot(raw: Any) -> Ballot:
    """JSON → :class:`Ballot`, or :class:`DecodeError` naming the bad field.

    Shape against the manifest (how many answers and choices) is
    :func:`verify_ballot`'s business; here every field is decoded and every
    ``α`` is refused if it is the identity.
    """
    obj = expect_object(raw, "ballot", ("election_hash", "credential", "answers", "signature"))
    answers = []
    for q, a in enumerate(expect_list(obj["answers"], "ballot.answers")):
        path = f"ballot.answers[{q}]"
        ao = expect_object(a, path, ("choices", "choice_proofs", "sum_proof"))
        choices = tuple(
            ciphertext_from_json(ct, f"{path}.choices[{o}]")
            for o, ct in enumerate(expect_list(ao["choices"], f"{path}.choices"))
        )
        choice_proofs = tuple(
            _range_proof(rp, f"{path}.choice_proofs[{o}]")
            for o, rp in enumerate(expect_list(ao["choice_proofs"], f"{path}.choice_proofs"))
        )
        answers.append(Answer(choices, choice_proofs, _range_proof(ao["sum_proof"], f"{path}.sum_proof")))
    return Ballot(
        hash_from_json(obj["election_hash"], "ballot.election_hash"),
        point_from_json(obj["credential"], "ballot.credential"),
        tuple(answers),
        proof_from_json(obj["signature"], "ballot.signature"),
    )


def _range_proof(raw: Any, path: str) -> RangeProof:
    return tuple(proof_from_json(p, f"{path}[{i}]") for i, p in enumerate(expect_list(raw, path)))


def verify_ballot(params: ElectionParameters, ballot: Ballot, is_eligible: Callable[[Point], bool]) -> None:
    """Every check of PROTOCOL.md §5 but the time of receipt (the board's).

    Raises :class:`InvalidBallot` on the first failure."""
    if ballot.election_hash != params.election_hash:
        raise InvalidBallot("election_hash", "this ballot was made for another election")
    P = ballot.credential  # noqa: N806
    if not is_eligible(P):
        raise InvalidBallot("credential", "this credential is not in the electorate")
    questions = params.manifest.questions
    if len(ballot.answers) != len(questions):
        raise InvalidBallot("shape", f"expected {len(questions)} answers, got {len(ballot.answers)}")
    K, eh = params.public_key, params.election_hash_bytes  # noqa: N806
    for q, (question, answer) in enumerate(zip(questions, ballot.answers, strict=True)):
        _check_shape(question, answer, q)
        for o, (ct, proof) in enumerate(zip(answer.choices, answer.choice_proofs, strict=True)):
            if not verify_range(K, ct, CHOICE, _range_context(eh, P, q, o), proof):
                raise InvalidBallot(
                    "choice_proof",
                    "the proof that the choice is 0 or 1 fails",
                    question=q,
                    option=o,
                )
        if question.sum_allowed and not verify_range(
            K,
            answer.sum(),
            question.sum_allowed,
            _range_context(eh, P, q, SUM_CONTEXT),
            answer.sum_proof,
        ):
            raise InvalidBallot(
                "sum_proof",
                f"the proof that {question.min} to {question.max} options are chosen fails",
                question=q,
            )
    if not verify_schnorr(P, SIGNATURE_TAG, _signature_context(eh, P, ballot.body_bytes), ballot.signature):
        raise InvalidBallot("signature", "the credential's signature does not verify")


def _check_shape(question: Question, answer: Answer, q: int) -> None:
    k = question.explicit_options
    if len(answer.choices) != k:
        raise InvalidBallot("shape", f"expected {k} choices, got {len(answer.choices)}", question=q)
    if len(answer.choice_proofs) != k:
        raise InvalidBallot(
            "shape", f"expected {k} choice proofs, got {len(answer.choice_proofs)}", question=q
        )
    for o, proof in enumerate(answer.choice_proofs):
        if len(proof) != len(CHOICE):
            raise InvalidBallot("shape", f"expected a 2-branch proof, got {len(proof)}", question=q, option=o)
    expected = len(question.sum_allowed)
    if len(answer.sum_proof) != expected:
        raise InvalidBallot(
            "shape",
            f"expected a {expected}-branch sum proof, got {len(answer.sum_proof)}",
            question=q,
        )
