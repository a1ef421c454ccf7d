"""The trustees' threshold key, Feldman VSS t of n (PROTOCOL.md §3)."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from typing import Any

import pytest

from istifta.crypto.group import IDENTITY, G, Point, Scalar
from istifta.crypto.rng import SeededRandom
from istifta.crypto.threshold import (
    TrusteePublic,
    check_share,
    combine_shares,
    generate_trustee,
    joint_key,
    lagrange,
    verification_key,
    verify_trustee,
)
from istifta.errors import CeremonyError
from istifta.testing import Election

MANIFEST_HASH = bytes(range(32))


def test_honest_shares_check(yes_no: Election) -> None:
    for secret, public in zip(yes_no.trustee_secrets, yes_no.params.trustees, strict=True):
        for j in (1, 2, 3):
            check_share(public, j, secret.share_for(j))


@pytest.mark.parametrize("wrong", ["plus one", "for another trustee", "zero"])
def test_a_wrong_share_stops_the_ceremony(yes_no: Election, wrong: str) -> None:
    secret, public = yes_no.trustee_secrets[0], yes_no.params.trustees[0]
    share = {
        "plus one": secret.share_for(2) + Scalar(1),
        "for another trustee": secret.share_for(3),
        "zero": Scalar(0),
    }[wrong]
    with pytest.raises(CeremonyError) as info:
        check_share(public, 2, share)
    message = str(info.value)
    assert "share from trustee 1 to trustee 2" in message
    assert "stop the ceremony" in message
    assert str(share.value) not in message


def test_share_for_evaluates_the_polynomial(yes_no: Election) -> None:
    secret = yes_no.trustee_secrets[1]
    a0, a1 = (a.value for a in secret.coefficients)
    for j in (1, 2, 3, 10):
        assert secret.share_for(j) == Scalar(a0 + a1 * j)
    assert secret.share_for(0) == secret.coefficients[0]


def test_commitments_are_the_coefficients_times_g(yes_no: Election) -> None:
    for secret, public in zip(yes_no.trustee_secrets, yes_no.params.trustees, strict=True):
        assert public.index == secret.index
        assert public.commitments == tuple(Point.base_mul(a) for a in secret.coefficients)


def test_a_trustees_secret_never_shows_in_its_repr(yes_no: Election) -> None:
    secret = yes_no.trustee_secrets[0]
    text = repr(secret)
    for a in secret.coefficients:
        assert str(a.value) not in text
        assert a.hex() not in text


# --- verify_trustee -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def honest() -> TrusteePublic:
    _, public = generate_trustee(2, 3, MANIFEST_HASH, SeededRandom("honest trustee"))
    return public


def test_an_honest_trustee_verifies(honest: TrusteePublic) -> None:
    assert len(honest.commitments) == 3
    verify_trustee(honest, 3, MANIFEST_HASH)


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (
            lambda p: {"pok": dataclasses.replace(p.pok, c=p.pok.c + Scalar(1))},
            "proof of knowledge",
        ),
        (
            lambda p: {"pok": dataclasses.replace(p.pok, z=p.pok.z - Scalar(1))},
            "proof of knowledge",
        ),
        (lambda p: {"index": 3}, "trustee 3's proof of knowledge"),
        (lambda p: {"commitments": (G, *p.commitments[1:])}, "trustee 2's proof of knowledge"),
        (lambda p: {"commitments": p.commitments[:2]}, "published 2 commitments"),
        (lambda p: {"commitments": (*p.commitments, G)}, "published 4 commitments"),
        (lambda p: {"commitments": (p.commitments[0], IDENTITY, p.commitments[2])}, "identity"),
    ],
    ids=["c", "z", "index", "C_0", "too few", "too many", "identity"],
)
def test_bad_key_material_is_refused(
    honest: TrusteePublic, change: Callable[[TrusteePublic], dict[str, Any]], complaint: str
) -> None:
    with pytest.raises(CeremonyError, match=complaint):
        verify_trustee(dataclasses.replace(honest, **change(honest)), 3, MANIFEST_HASH)


def test_a_proof_for_another_manifest_is_refused(honest: TrusteePublic) -> None:
    with pytest.raises(CeremonyError, match="proof of knowledge"):
        verify_trustee(honest, 3, bytes(32))


def test_a_zero_coefficient_is_drawn_again() -> None:
    seeded = SeededRandom("after the zero")
    calls = 0

    def rng(n: int) -> bytes:
        nonlocal calls
        calls += 1
        return bytes(n) if calls == 1 else seeded(n)

    secret, public = generate_trustee(1, 2, MANIFEST_HASH, rng)
    assert all(a.value for a in secret.coefficients)
    assert not any(c.is_identity for c in public.commitments)
    verify_trustee(public, 2, MANIFEST_HASH)


def test_a_threshold_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        generate_trustee(1, 0, MANIFEST_HASH, SeededRandom("t=0"))


# --- the joint key and verification keys --------------------------------------------------


def test_verification_keys_are_the_shares_times_g(yes_no: Election) -> None:
    publics = yes_no.params.trustees
    for j in (1, 2, 3):
        expected = Point.base_mul(yes_no.shares[j])
        assert verification_key(publics, j) == expected
        assert yes_no.params.verification_key(j) == expected


def test_each_share_is_the_sum_of_what_it_received(yes_no: Election) -> None:
    for j in (1, 2, 3):
        received = [s.share_for(j) for s in yes_no.trustee_secrets]
        assert combine_shares(received) == yes_no.shares[j]


def test_the_joint_key_is_the_sum_of_the_first_commitments(yes_no: Election) -> None:
    publics = yes_no.params.trustees
    K = joint_key(publics)  # noqa: N806
    assert K == yes_no.params.public_key
    secret = Scalar(sum(s.coefficients[0].value for s in yes_no.trustee_secrets))
    assert K == Point.base_mul(secret)


@pytest.mark.parametrize("subset", [(1, 2), (1, 3), (2, 3), (3, 1), (1, 2, 3)])
def test_lagrange_at_zero_recovers_the_joint_secret(yes_no: Election, subset: tuple[int, ...]) -> None:
    secret = Scalar(sum(s.coefficients[0].value for s in yes_no.trustee_secrets))
    recovered = Scalar(sum((lagrange(subset, j) * yes_no.shares[j]).value for j in subset))
    assert recovered == secret
    total = IDENTITY
    for j in subset:
        total = total + Point.base_mul(yes_no.shares[j]) * lagrange(subset, j)
    assert total == yes_no.params.public_key


def test_one_trustee_alone_is_not_enough(yes_no: Election) -> None:
    secret = Scalar(sum(s.coefficients[0].value for s in yes_no.trustee_secrets))
    for j in (1, 2, 3):
        assert lagrange([j], j) == Scalar(1)
        assert yes_no.shares[j] != secret


def test_lagrange_coefficients_by_hand() -> None:
    assert lagrange([1, 2], 1) == Scalar(2)  # 2 / (2 − 1)
    assert lagrange([1, 2], 2) == Scalar(-1)  # 1 / (1 − 2)
    assert lagrange([1, 2, 3], 2) == Scalar(-3)  # (1·3) / ((1 − 2)(3 − 2))
    assert lagrange([2, 5], 2) * Scalar(3) == Scalar(5)  # 5 / 3
    for subset in itertools.combinations(range(1, 7), 4):  # Σ λ_j = 1 (interpolating 1)
        assert Scalar(sum(lagrange(subset, j).value for j in subset)) == Scalar(1)
