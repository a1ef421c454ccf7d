"""Small discrete logarithms by baby-step giant-step (PROTOCOL.md §7).

A tally decrypts to ``count·G``; the count lies in ``[0, counted]``.
:class:`DlogTable` holds ``m ≈ √bound`` baby steps and answers each look-up
in at most ``m`` giant steps; one table serves every option of an election.
Measured by ``bench/crypto.py`` for a bound of 50 million.
"""

from __future__ import annotations

from math import isqrt

from istifta.crypto.group import IDENTITY, G, Point, Scalar
from istifta.errors import UsageError

__all__ = ["DlogTable"]


class DlogTable:
    """Solves ``Y = n·G`` for ``0 ≤ n ≤ bound``."""

    def __init__(self, bound: int) -> None:
        if bound < 0:
            raise UsageError("the bound of a discrete logarithm is at least 0")
        self.bound = bound
        self.m = isqrt(bound) + 1
        baby: dict[bytes, int] = {}
        point = IDENTITY
        for j in range(self.m):
            baby[point.to_bytes()] = j
            point = point + G
        self._baby = baby
        self._giant = Point.base_mul(Scalar(self.m))

    def solve(self, Y: Point) -> int | None:  # noqa: N803
        """``n`` with ``Y = n·G`` and ``0 ≤ n ≤ bound``, or ``None`` if there is none."""
        for i in range(self.bound // self.m + 1):
            j = self._baby.get(Y.to_bytes())
            if j is not None:
                n = i * self.m + j
                return n if n <= self.bound else None
            Y = Y - self._giant  # noqa: N806
        return None
