"""Files of public credentials: the electorate as a registrar who issues codes
themselves hands it over (docs/electorate.md).

A CSV, UTF-8, whose line 1 names the columns ``credential`` (64 hex
characters, a ristretto255 point other than the identity) and, optionally,
``region``. :func:`credential_rows` reads it for
:meth:`~istifta.store.referendums.Referendums.import_electorate` (the first bad row
stops it); :func:`check_credentials` reads the whole file, as a dry run, and
names every bad row. A file of phones is read by :mod:`istifta.electorate.importer`
instead: :func:`holds_credentials` tells them apart by line 1.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

from istifta.crypto.group import Point
from istifta.errors import DecodeError, ImportProblems
from istifta.protocol.electorate import MAX_REGION, Eligible

__all__ = ["MAX_PROBLEMS", "check_credentials", "credential_rows", "holds_credentials"]

MAX_PROBLEMS = 100
"""How many bad rows :func:`check_credentials` names (it counts them all)."""


def holds_credentials(header: Sequence[str]) -> bool:
    """Whether line 1 (its cells) is that of a file of public credentials."""
    return "credential" in (h.strip().lower() for h in header)


def credential_rows(path: Path, name: str | None = None) -> Iterator[Eligible]:
    """The voters of the file at ``path``, one by one; :class:`DecodeError` at the
    first bad row, naming the file (``name``, else its path) and the line."""
    name = name or str(path)
    for line, voter in _rows(path, name):
        if isinstance(voter, str):
            raise DecodeError(f"{name}, line {line}: {voter}")
        yield voter


def check_credentials(path: Path, name: str | None = None) -> dict[str | None, int]:
    """Read the whole file and count its voters by region, or raise
    :class:`ImportProblems` naming its bad rows (a credential repeated in the file
    included). Whether a credential is already in the electorate is known only
    when the file is imported."""
    name = name or str(path)
    problems: list[tuple[int, str]] = []
    bad = 0
    first: dict[bytes, int] = {}
    by_region: Counter[str | None] = Counter()
    for line, voter in _rows(path, name):
        if not isinstance(voter, str):
            key = voter.credential.to_bytes()
            if key in first:
                voter = f"this credential appears twice in the file: lines {first[key]:,} and {line:,}"
            else:
                first[key] = line
                by_region[voter.region] += 1
                continue
        bad += 1
        if len(problems) < MAX_PROBLEMS:
            problems.append((line, voter))
    if bad:
        raise ImportProblems(problems, bad)
    return dict(by_region)


def _rows(path: Path, name: str) -> Iterator[tuple[int, Eligible | str]]:
    """Each row's line and its voter, or what is wrong with it; :class:`DecodeError`
    when the file itself cannot be read (missing, not UTF-8, no header)."""
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise DecodeError(f"cannot read {name}: {exc.strerror}") from None
    with handle:
        reader = csv.DictReader(handle)
        try:  # the first read decodes the header and what follows it: a bad byte may be there
            if reader.fieldnames is None or "credential" not in reader.fieldnames:
                raise DecodeError(f"{name}: the first line must name the columns: credential[,region]")
            for row in reader:
                yield reader.line_num, _voter(row)
        except UnicodeDecodeError:
            raise DecodeError(f"{name}: not UTF-8 text") from None


def _voter(row: dict[str | None, str | None]) -> Eligible | str:
    region = (row.get("region") or "").strip() or None
    if region is not None and len(region) > MAX_REGION:
        return f"a region has at most {MAX_REGION} characters"
    try:
        return Eligible(Point.from_hex((row.get("credential") or "").strip(), "credential"), region)
    except DecodeError as exc:
        return str(exc)
