"""The organiser's manifest (PROTOCOL.md §2, docs/protocol.md §2): every field
checked, the first bad one named by its JSON path."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import rfc8785

from istifta.crypto.hashing import jhash
from istifta.errors import DecodeError, ManifestError
from istifta.protocol.manifest import Question, parse_manifest
from istifta.testing import manifest_json, question_json

Mutation = Callable[[dict[str, Any]], None]


def good() -> dict[str, Any]:
    return manifest_json([question_json(["yes", "no"]), question_json(["a", "b", "c", "d"], low=0, high=2)])


def test_a_valid_manifest_parses() -> None:
    m = parse_manifest(good())
    assert m.slug == "test-referendum"
    assert m.languages == ("ar", "ckb", "en")
    assert m.title["ar"] == "استفتاء تجريبي"
    assert len(m.questions) == 2
    assert [len(q.options) for q in m.questions] == [2, 4]
    assert m.questions[1].options[3].label == {"ar": "d", "ckb": "d", "en": "d"}
    assert (m.questions[1].min, m.questions[1].max) == (0, 2)
    assert m.opens_at == datetime(2024, 1, 20, 6, 0, tzinfo=UTC)
    assert m.closes_at == datetime(2024, 1, 21, 18, 0, tzinfo=UTC)
    assert (m.n, m.threshold) == (3, 2)


def test_the_limits_themselves_are_allowed() -> None:
    raw = manifest_json([question_json([f"o{i}" for i in range(64)], low=0, high=64)] * 20, n=64)
    raw["trustees"]["threshold"] = 64
    raw["slug"] = "a" * 64
    raw["title"] = {"ar": "ع" * 200, "zh-Hant": "t"}
    for q in raw["questions"]:
        q["text"] = {"ar": "س" * 1000, "zh-Hant": "q"}
        for o in q["options"]:
            o["label"] = {"ar": "ل" * 200, "zh-Hant": "o"}
    raw["opens_at"] = "2024-01-20T06:00:00.123456Z"
    m = parse_manifest(raw)
    assert len(m.questions) == 20
    assert m.opens_at.microsecond == 123456
    assert parse_manifest(manifest_json(slug="x")).slug == "x"


def _set(path: str, value: Any) -> Mutation:
    """A mutation setting ``a.b[0].c`` to ``value``."""

    def mutate(m: dict[str, Any]) -> None:
        *parents, last = _steps(path)
        target: Any = m
        for step in parents:
            target = target[step]
        target[last] = value

    return mutate


def _delete(path: str) -> Mutation:
    def mutate(m: dict[str, Any]) -> None:
        *parents, last = _steps(path)
        target: Any = m
        for step in parents:
            target = target[step]
        del target[last]

    return mutate


def _steps(path: str) -> list[str | int]:
    steps: list[str | int] = []
    for part in path.replace("]", "").replace("[", ".").split("."):
        steps.append(int(part) if part.isdigit() else part)
    return steps


def _questions(count: int) -> Mutation:
    return _set("questions", [question_json(["yes", "no"])] * count)


def _options(count: int) -> Mutation:
    return _set("questions[0]", question_json([f"o{i}" for i in range(count)], low=1, high=1))


MALFORMED: list[tuple[str, Mutation, str]] = [
    ("not the protocol version", _set("version", "istifta/2"), "version"),
    ("version as a number", _set("version", 1), "version"),
    ("slug with a space", _set("slug", "coalition 2024"), "slug"),
    ("slug in upper case", _set("slug", "Coalition"), "slug"),
    ("slug ending in a hyphen", _set("slug", "coalition-"), "slug"),
    ("slug starting with a hyphen", _set("slug", "-coalition"), "slug"),
    ("slug too long", _set("slug", "a" * 65), "slug"),
    ("empty slug", _set("slug", ""), "slug"),
    ("slug not a string", _set("slug", 2024), "slug"),
    ("title with no language", _set("title", {}), "title"),
    ("title not an object", _set("title", "Referendum"), "title"),
    ("empty title text", _set("title.en", ""), "title.en"),
    ("blank title text", _set("title.ar", "   "), "title.ar"),
    ("title text not a string", _set("title.en", 5), "title.en"),
    ("title too long", _set("title.en", "t" * 201), "title.en"),
    ("language code in upper case", _set("title", {"AR": "x"}), "title"),
    ("language name, not code", _set("title", {"arabic": "x"}), "title"),
    ("question text missing a language", _delete("questions[0].text.ckb"), "questions[0].text"),
    ("question text extra language", _set("questions[1].text.fr", "x"), "questions[1].text"),
    ("question text empty", _set("questions[1].text.ar", ""), "questions[1].text.ar"),
    ("question text too long", _set("questions[0].text.en", "q" * 1001), "questions[0].text.en"),
    (
        "label missing a language",
        _delete("questions[1].options[2].label.en"),
        "questions[1].options[2].label",
    ),
    (
        "label too long",
        _set("questions[0].options[1].label.ar", "l" * 201),
        "questions[0].options[1].label.ar",
    ),
    ("option not an object", _set("questions[0].options[0]", "yes"), "questions[0].options[0]"),
    ("no questions", _questions(0), "questions"),
    ("too many questions", _questions(21), "questions"),
    ("questions not a list", _set("questions", {"0": {}}), "questions"),
    ("question not an object", _set("questions[1]", "which?"), "questions[1]"),
    ("one option", _options(1), "questions[0].options"),
    ("too many options", _options(65), "questions[0].options"),
    ("min above max", _set("questions[1].min", 3), "questions[1].min"),
    ("max above the options", _set("questions[1].max", 5), "questions[1].max"),
    ("max zero", _set("questions[1].max", 0), "questions[1].max"),
    ("min negative", _set("questions[1].min", -1), "questions[1].min"),
    ("min a boolean", _set("questions[0].min", True), "questions[0].min"),
    ("max a float", _set("questions[0].max", 1.0), "questions[0].max"),
    ("max a string", _set("questions[0].max", "1"), "questions[0].max"),
    ("n a float", _set("trustees.n", 3.0), "trustees.n"),
    ("threshold a boolean", _set("trustees.threshold", True), "trustees.threshold"),
    ("opens_at without Z", _set("opens_at", "2024-01-20T06:00:00"), "opens_at"),
    ("opens_at with an offset", _set("opens_at", "2024-01-20T09:00:00+03:00"), "opens_at"),
    ("opens_at with a space", _set("opens_at", "2024-01-20 06:00:00Z"), "opens_at"),
    ("opens_at a date only", _set("opens_at", "2024-01-20"), "opens_at"),
    ("opens_at a number", _set("opens_at", 1705730400), "opens_at"),
    ("closes_at not a day", _set("closes_at", "2024-02-30T06:00:00Z"), "closes_at"),
    ("closes_at in Arabic digits", _set("closes_at", "٢٠٢٤-01-21T18:00:00Z"), "closes_at"),
    ("closes before it opens", _set("closes_at", "2024-01-19T06:00:00Z"), "closes_at"),
    ("closes as it opens", _set("closes_at", "2024-01-20T06:00:00Z"), "closes_at"),
    ("no trustees", _set("trustees.n", 0), "trustees.n"),
    ("too many trustees", _set("trustees.n", 65), "trustees.n"),
    ("threshold zero", _set("trustees.threshold", 0), "trustees.threshold"),
    ("threshold above n", _set("trustees.threshold", 4), "trustees.threshold"),
    ("trustees not an object", _set("trustees", [3, 2]), "trustees"),
]


@pytest.mark.parametrize(
    ("mutate", "field"), [(m, f) for _, m, f in MALFORMED], ids=[n for n, _, _ in MALFORMED]
)
def test_a_malformed_field_is_named(mutate: Mutation, field: str) -> None:
    raw = good()
    mutate(raw)
    with pytest.raises(ManifestError) as info:
        parse_manifest(raw)
    assert info.value.field == field
    assert str(info.value).startswith(f"manifest field {field}: ")
    assert info.value.reason
    assert isinstance(info.value, DecodeError)


MISSING_OR_UNKNOWN: list[tuple[str, Mutation, str]] = [
    *[(f"missing {key}", _delete(key), key) for key in manifest_json()],
    ("unknown key", _set("colour", "green"), "colour"),
    ("missing trustees.n", _delete("trustees.n"), "trustees.n"),
    ("unknown trustees key", _set("trustees.quorum", 2), "trustees.quorum"),
    ("missing question max", _delete("questions[0].max"), "questions[0].max"),
    ("unknown question key", _set("questions[0].help", {}), "questions[0].help"),
    ("missing label", _delete("questions[0].options[1].label"), "questions[0].options[1].label"),
]


@pytest.mark.parametrize(
    ("mutate", "field"),
    [(m, f) for _, m, f in MISSING_OR_UNKNOWN],
    ids=[n for n, _, _ in MISSING_OR_UNKNOWN],
)
def test_a_missing_or_unknown_key_is_named_by_its_own_path(mutate: Mutation, field: str) -> None:
    """docs/protocol.md §2: "refused, naming the field by its JSON path". The path of a
    missing or unknown key is the key's own, never the enclosing object's."""
    raw = good()
    mutate(raw)
    with pytest.raises(ManifestError) as info:
        parse_manifest(raw)
    assert info.value.field == field
    assert field.rsplit(".", 1)[-1] in str(info.value)


@pytest.mark.parametrize("raw", [None, [], "manifest", 3])
def test_a_manifest_that_is_not_an_object_is_refused(raw: Any) -> None:
    with pytest.raises(ManifestError, match="expected an object"):
        parse_manifest(raw)


# --- the hash -----------------------------------------------------------------------------


def test_manifest_hash_is_jhash_of_the_raw_dict() -> None:
    raw = good()
    m = parse_manifest(raw)
    assert m.manifest_hash == jhash(raw)
    assert m.manifest_hash == hashlib.sha256(rfc8785.dumps(raw)).hexdigest()


def test_manifest_hash_ignores_key_order_but_not_content() -> None:
    raw = good()
    reordered = dict(reversed(list(copy.deepcopy(raw).items())))
    assert parse_manifest(reordered).manifest_hash == parse_manifest(raw).manifest_hash
    changed = copy.deepcopy(raw)
    changed["title"]["en"] = "Test referendum!"
    assert parse_manifest(changed).manifest_hash != parse_manifest(raw).manifest_hash


def test_manifest_hash_does_not_follow_later_edits_of_the_callers_dict() -> None:
    raw = good()
    m = parse_manifest(raw)
    before = jhash(raw)
    raw["title"]["en"] = "edited afterwards"
    assert m.manifest_hash == before


# --- the question helpers -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "low", "high", "exactly_one", "explicit", "sum_allowed"),
    [
        (["yes", "no"], 1, 1, True, 1, ()),
        (["a", "b", "c"], 1, 1, True, 2, (0, 1)),
        (["w", "x", "y", "z"], 0, 2, False, 4, (0, 1, 2)),
        (["a", "b", "c"], 2, 3, False, 3, (2, 3)),
        (["a", "b"], 0, 1, False, 2, (0, 1)),
    ],
)
def test_question_helpers(
    options: list[str],
    low: int,
    high: int,
    exactly_one: bool,
    explicit: int,
    sum_allowed: tuple[int, ...],
) -> None:
    q = parse_manifest(manifest_json([question_json(options, low=low, high=high)])).questions[0]
    assert isinstance(q, Question)
    assert q.exactly_one is exactly_one
    assert q.explicit_options == explicit
    assert q.sum_allowed == sum_allowed
