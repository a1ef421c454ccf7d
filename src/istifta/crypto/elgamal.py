"""Exponential ElGamal over ristretto255 (PROTOCOL.md §1): ``Enc_K(m; r) = (r·G, m·G + r·K)``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from istifta.crypto.group import IDENTITY, Point, Scalar

__all__ = ["Ciphertext", "ZERO_CIPHERTEXT", "encrypt", "sum_ciphertexts"]


@dataclass(frozen=True, slots=True)
class Ciphertext:
    """``(α, β)``: α = r·G, β = m·G + r·K."""

    alpha: Point
    beta: Point

    def __add__(self, other: Ciphertext) -> Ciphertext:
        """Component-wise sum: encrypts the sum of the plaintexts."""
        return Ciphertext(self.alpha + other.alpha, self.beta + other.beta)


ZERO_CIPHERTEXT = Ciphertext(IDENTITY, IDENTITY)
"""The empty sum: both components the identity."""


def encrypt(K: Point, m: int, r: Scalar) -> Ciphertext:  # noqa: N803 - K as in PROTOCOL.md
    """``Enc_K(m; r)``; ``m = 0`` gives ``(r·G, r·K)`` without asking libsodium for ``0·G``."""
    alpha = Point.base_mul(r)
    beta = K * r
    if m:
        beta = beta + Point.base_mul(Scalar(m))
    return Ciphertext(alpha, beta)


def sum_ciphertexts(ciphertexts: Iterable[Ciphertext]) -> Ciphertext:
    total = ZERO_CIPHERTEXT
    for ct in ciphertexts:
        total = total + ct
    return total
