"""The organiser's manifest (PROTOCOL.md §2), parsed once into checked values.

:func:`parse_manifest` names the first bad field by its JSON path. The
manifest is hashed exactly as given (``manifest_hash = jhash(manifest)``);
unknown keys are refused so that a typo cannot pass silently into the hash.
The rules where PROTOCOL.md is silent are in docs/protocol.md.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from istifta.crypto.hashing import jhash
from istifta.errors import DecodeError, ManifestError
from istifta.protocol.codec import expect_int, expect_list, expect_object

__all__ = [
    "MAX_OPTIONS",
    "MAX_QUESTIONS",
    "MAX_TRUSTEES",
    "Manifest",
    "Option",
    "Question",
    "SUM_CONTEXT",
    "VERSION",
    "manifest_problems",
    "parse_manifest",
    "parse_time",
]

VERSION = "istifta/1"
MAX_QUESTIONS = 20
MAX_OPTIONS = 64
MAX_TRUSTEES = 64
SUM_CONTEXT = 2**32 - 1
"""The option index ``o`` that the sum proof's context uses (PROTOCOL.md §5)."""

_SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")
_SLUG_RULE = "expected 1-64 lowercase letters, digits and inner hyphens, e.g. coalition-2024"
_LANG = re.compile(r"[a-z]{2,3}(?:-[A-Za-z0-9]{1,8})*")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?Z")
_KEYS = ("version", "slug", "title", "questions", "opens_at", "closes_at", "trustees")
_TEXT_LIMITS = {"title": 200, "text": 1000, "label": 200}

LocalText = dict[str, str]


@dataclass(frozen=True)
class Option:
    label: LocalText


@dataclass(frozen=True)
class Question:
    text: LocalText
    options: tuple[Option, ...]
    min: int
    max: int

    @property
    def exactly_one(self) -> bool:
        """``min = max = 1``: the last option is left implicit on the ballot."""
        return self.min == 1 and self.max == 1

    @property
    def explicit_options(self) -> int:
        """How many options the ballot carries a ciphertext for."""
        return len(self.options) - 1 if self.exactly_one else len(self.options)

    @property
    def sum_allowed(self) -> tuple[int, ...]:
        """The values the sum proof allows; empty when no sum proof is carried."""
        if self.exactly_one:
            return () if len(self.options) == 2 else (0, 1)
        return tuple(range(self.min, self.max + 1))


@dataclass(frozen=True)
class Manifest:
    raw: dict[str, Any] = field(repr=False)
    slug: str
    title: LocalText
    questions: tuple[Question, ...]
    opens_at: datetime
    closes_at: datetime
    n: int
    threshold: int

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self.title)

    @cached_property
    def manifest_hash(self) -> str:
        """``jhash(manifest)`` in hex."""
        return jhash(self.raw)


def parse_time(value: Any, path: str) -> datetime:
    """RFC 3339 in UTC with a ``Z``, e.g. ``2024-01-20T06:00:00Z``."""
    if not isinstance(value, str) or not _TIME.fullmatch(value):
        raise DecodeError(f"{path}: expected an RFC 3339 time in UTC such as 2024-01-20T06:00:00Z")
    try:
        return datetime.fromisoformat(value[:-1]).replace(tzinfo=UTC)
    except ValueError as exc:
        raise DecodeError(f"{path}: {exc}") from None


def parse_manifest(raw: Any) -> Manifest:
    """Check every field of a manifest; raise :class:`ManifestError` naming the first bad one."""
    try:
        return _parse(raw)
    except ManifestError:
        raise
    except DecodeError as exc:
        path, _, reason = str(exc).partition(": ")
        raise ManifestError(path.removeprefix("manifest."), reason) from None


def manifest_problems(raw: Any) -> list[ManifestError]:
    """Every bad field of a manifest, not only the first (for a form that shows
    each error next to its field); empty when :func:`parse_manifest` accepts it."""
    first = _first_problem(raw)
    if not first or not isinstance(raw, dict) or set(raw) != set(_KEYS):
        return first  # none, or the shape itself is wrong: nothing else can be told apart
    found: list[ManifestError] = []

    def check(step: Any) -> Any:
        try:
            return step()
        except ManifestError as exc:
            found.append(exc)
        except DecodeError as exc:
            path, _, reason = str(exc).partition(": ")
            found.append(ManifestError(path.removeprefix("manifest."), reason))
        return None

    def title() -> set[str]:
        return set(_local_text(raw["title"], "title", None))

    if raw["version"] != VERSION:
        found.append(ManifestError("version", f"expected {VERSION!r}, got {raw['version']!r}"))
    if not isinstance(raw["slug"], str) or not _SLUG.fullmatch(raw["slug"]):
        found.append(ManifestError("slug", _SLUG_RULE))
    languages = check(title) or set()
    questions = check(lambda: expect_list(raw["questions"], "questions")) or []
    if not 1 <= len(questions) <= MAX_QUESTIONS:
        found.append(
            ManifestError("questions", f"expected 1 to {MAX_QUESTIONS} questions, got {len(questions)}")
        )
    for i, q in enumerate(questions[:MAX_QUESTIONS]):
        _question_problems(q, f"questions[{i}]", languages, check)
    opens = check(lambda: parse_time(raw["opens_at"], "opens_at"))
    closes = check(lambda: parse_time(raw["closes_at"], "closes_at"))
    if opens and closes and closes <= opens:
        found.append(ManifestError("closes_at", "the referendum must close after it opens"))
    trustees = check(lambda: expect_object(raw["trustees"], "trustees", ("n", "threshold")))
    if trustees:
        n = check(lambda: expect_int(trustees["n"], "trustees.n", 1, MAX_TRUSTEES))
        check(lambda: expect_int(trustees["threshold"], "trustees.threshold", 1, n or MAX_TRUSTEES))
    return found or first


def _first_problem(raw: Any) -> list[ManifestError]:
    try:
        parse_manifest(raw)
    except ManifestError as exc:
        return [exc]
    return []


def _question_problems(raw: Any, path: str, languages: set[str], check: Any) -> None:
    q = check(lambda: expect_object(raw, path, ("text", "options", "min", "max")))
    if not q:
        return
    check(lambda: _local_text(q["text"], f"{path}.text", languages or None))
    options = check(lambda: expect_list(q["options"], f"{path}.options")) or []
    if not 2 <= len(options) <= MAX_OPTIONS:
        check(lambda: _question(raw, path, languages))
    for i, o in enumerate(options[:MAX_OPTIONS]):
        where = f"{path}.options[{i}]"
        check(
            lambda o=o, where=where: _local_text(
                expect_object(o, where, ("label",))["label"], f"{where}.label", languages or None
            )
        )
    low = check(lambda: expect_int(q["min"], f"{path}.min", 0, len(options)))
    high = check(lambda: expect_int(q["max"], f"{path}.max", 1, max(1, len(options))))
    if low is not None and high is not None and low > high:
        check(lambda: _question(raw, path, languages))


def _parse(raw: Any) -> Manifest:
    m = expect_object(raw, "manifest", _KEYS)
    if m["version"] != VERSION:
        raise ManifestError("version", f"expected {VERSION!r}, got {m['version']!r}")
    slug = m["slug"]
    if not isinstance(slug, str) or not _SLUG.fullmatch(slug):
        raise ManifestError("slug", _SLUG_RULE)
    title = _local_text(m["title"], "title", None)
    languages = set(title)
    questions = expect_list(m["questions"], "questions")
    if not 1 <= len(questions) <= MAX_QUESTIONS:
        raise ManifestError("questions", f"expected 1 to {MAX_QUESTIONS} questions, got {len(questions)}")
    parsed = tuple(_question(q, f"questions[{i}]", languages) for i, q in enumerate(questions))
    opens_at = parse_time(m["opens_at"], "opens_at")
    closes_at = parse_time(m["closes_at"], "closes_at")
    if closes_at <= opens_at:
        raise ManifestError("closes_at", "the referendum must close after it opens")
    t = expect_object(m["trustees"], "trustees", ("n", "threshold"))
    n = expect_int(t["n"], "trustees.n", 1, MAX_TRUSTEES)
    threshold = expect_int(t["threshold"], "trustees.threshold", 1, n)
    # A deep copy: the hash must not change if the caller's dict does later.
    return Manifest(copy.deepcopy(raw), slug, title, parsed, opens_at, closes_at, n, threshold)


def _question(raw: Any, path: str, languages: set[str]) -> Question:
    q = expect_object(raw, path, ("text", "options", "min", "max"))
    text = _local_text(q["text"], f"{path}.text", languages)
    options = expect_list(q["options"], f"{path}.options")
    if not 2 <= len(options) <= MAX_OPTIONS:
        raise ManifestError(f"{path}.options", f"expected 2 to {MAX_OPTIONS} options, got {len(options)}")
    parsed = tuple(
        Option(
            _local_text(
                expect_object(o, f"{path}.options[{i}]", ("label",))["label"],
                f"{path}.options[{i}].label",
                languages,
            )
        )
        for i, o in enumerate(options)
    )
    low = expect_int(q["min"], f"{path}.min", 0, len(parsed))
    high = expect_int(q["max"], f"{path}.max", 1, len(parsed))
    if low > high:
        raise ManifestError(f"{path}.min", f"min ({low}) is more than max ({high})")
    return Question(text, parsed, low, high)


def _local_text(raw: Any, path: str, languages: set[str] | None) -> LocalText:
    obj = expect_object(raw, path, (), raw.keys() if isinstance(raw, dict) else ())
    if not obj:
        raise ManifestError(path, 'expected at least one language, e.g. {"ar": "…"}')
    limit = _TEXT_LIMITS[path.rsplit(".", 1)[-1]]
    for lang, text in obj.items():
        if not _LANG.fullmatch(lang):
            raise ManifestError(path, f"{lang!r} is not a language code such as ar, ckb or en")
        if not isinstance(text, str) or not text.strip():
            raise ManifestError(f"{path}.{lang}", "expected non-empty text")
        if len(text) > limit:
            raise ManifestError(f"{path}.{lang}", f"longer than {limit} characters")
    if languages is not None and set(obj) != languages:
        missing = sorted(languages - set(obj))
        if missing:
            raise ManifestError(path, f"missing {', '.join(missing)}, which the title has")
        extra = sorted(set(obj) - languages)
        raise ManifestError(path, f"has {', '.join(extra)}, which the title does not")
    return dict(obj)
