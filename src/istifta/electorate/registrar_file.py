"""The registrar's file: a CSV of voters, its columns and its cells (docs/electorate.md).

UTF-8 with or without a BOM; line 1 names the columns, in English, Arabic or
Sorani (:data:`HEADER_NAMES`, compared as :func:`istifta.electorate.regions.fold` reads
them), or as the caller maps them. Only the phone column is required; other
columns (names, ids) are ignored and never stored. :class:`Lines` feeds the
file to :mod:`csv` a line at a time, counting bytes for a progress bar.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from istifta.electorate.phones import normalise_phone
from istifta.electorate.regions import RegionList, fold
from istifta.errors import DecodeError
from istifta.protocol.electorate import MAX_REGION

__all__ = [
    "HEADER_NAMES",
    "LANGUAGE_NAMES",
    "DELIMITERS",
    "Columns",
    "Lines",
    "RowReader",
    "Source",
    "find_columns",
    "language_code",
    "open_binary",
    "read_header",
    "read_region",
]

DELIMITERS = (",", ";", "\t")
"""What may separate cells: the one line 1 holds most of (a comma when none)."""
Source = BinaryIO | Path | str
"""A file opened in binary mode, or its path."""

HEADER_NAMES: dict[str, tuple[str, ...]] = {
    "phone": (
        *("phone", "phone number", "mobile", "mobile number", "msisdn", "number", "telephone", "cell"),
        *("هاتف", "الهاتف", "رقم الهاتف", "موبايل", "الموبايل", "رقم الموبايل", "جوال", "رقم الجوال", "رقم"),
        *("مۆبایل", "ژمارەی مۆبایل", "ژمارەی تەلەفۆن", "تەلەفۆن", "ژمارە"),
    ),
    "region": (
        *("region", "governorate", "province"),
        *("المحافظة", "محافظة", "المنطقة", "منطقة", "پارێزگا", "ناوچە"),
    ),
    "language": ("language", "lang", "اللغة", "لغة", "زمان", "زمانی"),
}
"""The names each column may have in line 1."""

LANGUAGE_NAMES: dict[str, tuple[str, ...]] = {
    "ar": ("ar", "arabic", "عربي", "العربية", "عەرەبی"),
    "ckb": ("ckb", "ku", "kurdish", "sorani", "کوردی", "كردي", "الكردية", "سۆرانی"),
    "en": ("en", "english", "انكليزي", "الانكليزية", "انجليزي", "الإنجليزية", "ئینگلیزی"),
}
"""The languages invitations are sent in, and the names a file may give them."""

_FIELDS = {fold(name): f for f, names in HEADER_NAMES.items() for name in names}
_LANGUAGES = {fold(name): code for code, names in LANGUAGE_NAMES.items() for name in names}


# --- cells ---


def language_code(text: str) -> str:
    """``ar``, ``ckb`` or ``en`` for a code or a name of the language (:data:`LANGUAGE_NAMES`)."""
    code = _LANGUAGES.get(fold(text))
    if code is None:
        raise DecodeError(f"{text.strip()[:32]!r} is not a language istifta sends in: use ar, ckb or en")
    return code


def read_region(text: str, regions: RegionList | None) -> str | None:
    """The region a cell names: canonical in ``regions`` (required then), or with
    ``None`` any label up to MAX_REGION characters (an empty cell: no region)."""
    label = " ".join(text.split())
    if regions is not None:
        name = regions.canonical(label)
        if name is None:
            given = f"{label[:32]!r} is not" if label else "no region: each row needs"
            raise DecodeError(f"{given} one of {regions.description} (or import with --any-region)")
        return name
    if len(label) > MAX_REGION:
        raise DecodeError(f"a region has at most {MAX_REGION} characters; this one has {len(label)}")
    return label or None


class RowReader:
    """Reads a row's cells: its phone in E.164, its region and its language, or
    :class:`DecodeError` saying what is wrong. Regions and languages repeat from
    row to row: each spelling is read once (up to :data:`CACHED` of them)."""

    def __init__(self, columns: Columns, regions: RegionList | None, default: str, country: str) -> None:
        self.columns, self.regions, self.default, self.country = columns, regions, default, country
        self._regions: dict[str, str | None] = {}
        self._languages: dict[str, str] = {"": default}

    def __call__(self, cells: list[str]) -> tuple[str, str | None, str]:
        c = self.columns
        if len(cells) != c.width:
            raise DecodeError(f"{len(cells)} cell{'s' * (len(cells) != 1)} where line 1 has {c.width}")
        phone = normalise_phone(cells[c.phone], self.country)
        region = self._region(cells[c.region]) if c.region is not None else None
        language = self._language(cells[c.language]) if c.language is not None else self.default
        return phone, region, language

    def _region(self, text: str) -> str | None:
        if text not in self._regions:
            if len(self._regions) > CACHED:
                self._regions.clear()
            self._regions[text] = read_region(text, self.regions)
        return self._regions[text]

    def _language(self, text: str) -> str:
        if text not in self._languages:
            if len(self._languages) > CACHED:
                self._languages = {"": self.default}
            self._languages[text] = language_code(text) if text.strip() else self.default
        return self._languages[text]


CACHED = 1_000


# --- the header ---


@dataclass(frozen=True)
class Columns:
    """Where each field is in a row (0-based), how many cells a row has, and the header's names."""

    phone: int
    region: int | None
    language: int | None
    width: int
    names: dict[str, str]
    """Each field found, and its name in line 1."""


def find_columns(header: Sequence[str], column_map: Mapping[str, str] | None = None) -> Columns:
    """The columns of ``header`` (line 1), found by :data:`HEADER_NAMES` or, for a field
    in ``column_map``, by the name given there. Raises :class:`DecodeError`."""
    column_map = column_map or {}
    for f in column_map:
        if f not in HEADER_NAMES:
            raise DecodeError(
                f"--column {f}=…: there is no field {f!r}; the fields are phone, region, language"
            )
    keys = [fold(h) for h in header]
    found: dict[str, int] = {}
    for f in HEADER_NAMES:
        if f in column_map:
            hits = [i for i, k in enumerate(keys) if k == fold(column_map[f])]
            if not hits:
                raise DecodeError(
                    f"line 1: no column is called {column_map[f]!r} (the columns: {_list(header)})"
                )
        else:
            hits = [i for i, k in enumerate(keys) if _FIELDS.get(k) == f]
        if len(hits) > 1:
            raise DecodeError(
                f"line 1: columns {_list([header[i] for i in hits])} could each be the {f}: "
                f"choose one with --column {f}=HEADER"
            )
        if hits and hits[0] in found.values():
            raise DecodeError(f"line 1: column {header[hits[0]]!r} cannot be two fields")
        if hits:
            found[f] = hits[0]
    if "phone" not in found:
        raise DecodeError(
            "the first line must name the columns, one of them the phone (phone, mobile, رقم الهاتف, "
            f"ژمارەی مۆبایل…; or --column phone=HEADER); it has {_list(header) or 'nothing'}"
        )
    names = {f: header[i].strip() for f, i in found.items()}
    return Columns(found["phone"], found.get("region"), found.get("language"), len(header), names)


def _list(names: Sequence[str]) -> str:
    return ", ".join(repr(n.strip()[:32]) for n in names[:12]) + (", …" if len(names) > 12 else "")


# --- the file ---


class Lines:
    """A binary file's lines as text, for :func:`csv.reader`, counting the bytes read.
    A BOM is dropped; a line that is not UTF-8 is noted in ``not_utf8`` and read as blank."""

    def __init__(self, f: BinaryIO) -> None:
        self.f = f
        self.bytes_read = 0
        self.not_utf8: list[int] = []
        self._number = 0

    def __iter__(self) -> Iterator[str]:
        for raw in self.f:
            self._number += 1
            self.bytes_read += len(raw)
            try:
                yield raw.decode("utf-8-sig" if self._number == 1 else "utf-8")
            except UnicodeDecodeError:
                self.not_utf8.append(self._number)
                yield "\n"

    def reader(self) -> tuple[Any, list[str]]:
        """A :func:`csv.reader` of the lines, and line 1's cells (``[]`` when the file is
        empty). Cells are separated by commas, or by semicolons or tabs when line 1
        has more of those (as spreadsheets save CSV in some locales)."""
        lines = iter(self)
        first = next(lines, "")
        if self.not_utf8[:1] == [1]:
            raise DecodeError("line 1: not UTF-8 text (save the file as CSV UTF-8)")
        delimiter = max(DELIMITERS, key=first.count)
        reader = csv.reader(itertools.chain([first], lines), delimiter=delimiter)
        try:
            header: list[str] = next(reader, [])
        except csv.Error as exc:
            raise DecodeError(f"line 1: not CSV ({exc})") from None
        return reader, header


@contextmanager
def open_binary(source: Source) -> Iterator[BinaryIO]:
    """``source`` itself when it is a file, else the file at that path (closed after)."""
    if not isinstance(source, str | Path):
        yield source
        return
    try:
        f = open(source, "rb")  # noqa: SIM115 - closed by the with below
    except OSError as exc:
        raise DecodeError(f"cannot read {source}: {exc.strerror}") from None
    with f:
        yield f


def read_header(source: Source) -> list[str]:
    """The cells of line 1; ``[]`` for an empty file. Raises :class:`DecodeError`."""
    with open_binary(source) as f:
        return Lines(f).reader()[1]
