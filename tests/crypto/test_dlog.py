"""Baby-step giant-step (PROTOCOL.md §7): a tally's ``count·G`` back to the count."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from istifta.crypto.dlog import DlogTable
from istifta.crypto.group import IDENTITY, G, Point, Scalar

BOUND = 10**6


@pytest.fixture(scope="module")
def table() -> DlogTable:
    return DlogTable(BOUND)


def test_solves_zero_one_and_the_bound(table: DlogTable) -> None:
    assert table.solve(IDENTITY) == 0
    assert table.solve(G) == 1
    assert table.solve(Point.base_mul(Scalar(BOUND))) == BOUND
    assert table.solve(Point.base_mul(Scalar(BOUND - 1))) == BOUND - 1


@settings(max_examples=40)
@given(st.integers(0, BOUND))
def test_solves_any_count_up_to_the_bound(table: DlogTable, n: int) -> None:
    assert table.solve(Point.base_mul(Scalar(n))) == n


@pytest.mark.parametrize("n", [BOUND + 1, BOUND + 1000, 2 * BOUND, 10**9, -1, -BOUND])
def test_no_answer_above_the_bound_or_below_zero(table: DlogTable, n: int) -> None:
    assert table.solve(Point.base_mul(Scalar(n))) is None


def test_no_answer_for_a_random_point(table: DlogTable) -> None:
    for label in (b"not a small multiple", b"nor this one"):
        assert table.solve(Point.from_hash(hashlib.sha512(label).digest())) is None


@pytest.mark.parametrize("bound", range(0, 26))
def test_small_bounds_are_exact_at_both_ends(bound: int) -> None:
    small = DlogTable(bound)
    point = IDENTITY
    for n in range(bound + 5):
        assert small.solve(point) == (n if n <= bound else None), (bound, n)
        point = point + G


def test_a_negative_bound_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 0"):
        DlogTable(-1)
