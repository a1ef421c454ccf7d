"""Ballots of another shape than the manifest's (PROTOCOL.md §5: "its shape
matches the manifest") are refused, even when every proof in them holds."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from istifta.testing import Election

from .ballot_json import Shape, forge, rejection, shapes_of
from .strategies import seeds


@st.composite
def wrong_shapes(draw: st.DrawFn, right: list[Shape]) -> tuple[list[Shape], int | None, bool]:
    """A shape unlike ``right`` in one way, the question where it differs (``None``
    for the number of answers), and whether only the sum proof's branches differ."""
    shapes = list(right)
    how = draw(st.sampled_from(["drop answer", "add answer", "choices", "sum branches"]), label="how")
    if how == "drop answer":
        del shapes[draw(st.integers(0, len(shapes) - 1), label="dropped")]
        return shapes, None, False
    if how == "add answer":
        shapes.append(draw(st.sampled_from(right), label="extra"))
        return shapes, None, False
    q = draw(st.integers(0, len(shapes) - 1), label="question")
    old = shapes[q]
    if how == "choices":
        delta = draw(st.sampled_from([-1, 1] if old.choices > 1 else [1]), label="Δ choices")
        shapes[q] = Shape(old.choices + delta, old.sum_allowed)
        return shapes, q, False
    fewer: bool = draw(st.booleans(), label="fewer branches")
    if old.sum_allowed and fewer:
        shapes[q] = Shape(old.choices, old.sum_allowed[:-1])
    else:
        top = max(old.sum_allowed, default=0)
        shapes[q] = Shape(old.choices, (*old.sum_allowed, top + 1) if old.sum_allowed else (0, 1))
    return shapes, q, True


@settings(max_examples=30)
@given(data=st.data())
def test_a_ballot_of_another_shape_is_rejected_even_with_honest_proofs(
    mixed: Election, data: st.DataObject
) -> None:
    """A device that read another manifest (one answer too few or too many, a
    choice missing or added, a sum proof over other values) makes proofs that
    all hold, but the ballot does not fit the manifest: refused as ``shape``.
    A choice left out would otherwise drop out of the tally unseen."""
    shapes, q, sum_only = data.draw(wrong_shapes(shapes_of(mixed)), label="shape")
    voter = data.draw(st.integers(0, len(mixed.codes) - 1), label="voter")
    raw = forge(mixed, mixed.codes[voter], shapes, data.draw(seeds(), label="seed"))
    exc = rejection(mixed, raw)
    if sum_only:
        assert exc.check in ("shape", "sum_proof") and exc.question == q, exc
    else:
        assert (exc.check, exc.question) == ("shape", q), exc
