"""Importing the electorate with phone numbers, and issuing their credentials.

A registrar's CSV (:mod:`istifta.electorate.registrar_file`) becomes, for each row,
a fresh credential (:mod:`istifta.electorate.issuing`): its public ``P`` joins the
electorate, and a private :class:`~istifta.store.models.Registration` keeps
the phone in E.164, the region, the language and the code sealed with the
data directory's key. ``docs/electorate.md`` tells the registrar how.

All or nothing: the file is one transaction, and one bad row (each named by
its line) leaves the store as it was. It streams: rows are checked and
written :data:`BATCH` at a time, and a repeated phone is found by asking the
table, which sees the transaction's own rows, so memory does not grow with
the file. Only a draft referendum takes an import: once open, its electorate
is frozen.
"""

from __future__ import annotations

import csv
import os
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from istifta.crypto.group import RandomSource
from istifta.electorate.issuing import Issuer
from istifta.electorate.phones import check_country, normalise_phone
from istifta.electorate.regions import IRAQ, RegionList
from istifta.electorate.registrar_file import (
    Lines,
    RowReader,
    Source,
    find_columns,
    language_code,
    open_binary,
)
from istifta.electorate.sealing import CodeBox
from istifta.errors import DecodeError, ImportProblems, WrongState
from istifta.store.models import Election, Registration, Voter
from istifta.store.referendums import Referendums

__all__ = ["BATCH", "ImportReport", "Progress", "import_registrations", "normalise_phone"]

BATCH = 5_000
MAX_PROBLEMS = 100
SQLITE_CACHE_KIB = 131_072
"""SQLite's page cache during an import (128 MiB, then back as it was): the
credentials' indexes take rows in random order, and with the default 2 MB a
million-row import took 40% longer."""

Progress = Callable[[int, int], None]
"""Called after each batch with the bytes and the rows read so far."""


@dataclass(frozen=True)
class ImportReport:
    """What an import did (or, in a dry run, would do)."""

    imported: int
    by_region: dict[str | None, int]
    by_language: dict[str, int]
    dry_run: bool
    columns: dict[str, str] = field(default_factory=dict)
    """Each field and the name of its column in line 1."""


def import_registrations(
    refs: Referendums,
    slug: str,
    rows_source: Source,
    box: CodeBox,
    *,
    dry_run: bool,
    default_language: str = "ar",
    regions: RegionList | None = IRAQ,
    column_map: Mapping[str, str] | None = None,
    progress: Progress | None = None,
    country: str = "IQ",
    rng: RandomSource = os.urandom,
    workers: int | None = None,
) -> ImportReport:
    """Import a CSV of voters' phones into ``slug`` (a draft) and issue each a credential:
    every row or, when one is bad, none (:class:`ImportProblems` names the bad rows by
    line). ``regions=None`` takes any region label; ``country`` reads numbers without
    a ``+``. A dry run checks everything, issues nothing and changes nothing.
    ``rng`` is the OS's CSPRNG except in tests; ``workers`` processes derive
    credentials ahead (default: one per core; 0: none)."""
    default = language_code(default_language)
    check_country(country)
    with open_binary(rows_source) as f, refs.store.write_session() as session:
        election = _draft(refs, session, slug)
        lines = Lines(f)
        reader, header = lines.reader()
        columns = find_columns(header, column_map)
        issuer = Issuer(bytes.fromhex(election.manifest_hash), box, rng, workers)
        run = _Import(session, election.id, RowReader(columns, regions, default, country), issuer, dry_run)
        with closing(issuer), _sqlite_cache(session, refs.store.is_sqlite):
            _read(reader, lines, run, progress)
        if run.problems:
            raise ImportProblems(run.problems, run.bad_rows)
        if not dry_run:
            assert run.issuing  # so every row has its real credential and sealed code
            session.commit()
    return ImportReport(run.imported, dict(run.by_region), dict(run.by_language), dry_run, columns.names)


def _draft(refs: Referendums, session: Session, slug: str) -> Election:
    """The referendum's row, locked (PostgreSQL: one import at a time); a draft, or :class:`WrongState`."""
    election = refs.row(session, slug)
    session.refresh(election, with_for_update=True)
    if election.state != "draft":
        raise WrongState(f"{slug} is {election.state}: this is done before it opens", election.state)
    return election


@contextmanager
def _sqlite_cache(session: Session, is_sqlite: bool) -> Iterator[None]:
    """SQLite's page cache at :data:`SQLITE_CACHE_KIB` while the rows are written, then as it
    was, before the transaction ends, so that the connection goes back to the pool as it came
    (one whose import failed midway is discarded)."""
    if not is_sqlite:
        yield
        return
    connection = session.connection()
    previous = connection.exec_driver_sql("PRAGMA cache_size").scalar_one()
    connection.exec_driver_sql(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    try:
        yield
    except BaseException:
        connection.invalidate()
        raise
    connection.exec_driver_sql(f"PRAGMA cache_size={int(previous)}")


def _read(reader: Any, lines: Lines, run: _Import, progress: Progress | None) -> None:
    """Feed the rows to ``run`` with their lines (a row's first), flushing each full batch."""
    start = reader.line_num + 1
    while True:
        try:
            cells = next(reader, None)
        except csv.Error as exc:  # an unclosed quote running past the field limit: stop here
            run.bad(start, f"not CSV ({exc}): is a quote left open?")
            break
        for line in lines.not_utf8:
            run.bad(line, "not UTF-8 text (save the file as CSV UTF-8)")
        lines.not_utf8.clear()
        if cells is None:
            break
        line, start = start, reader.line_num + 1
        if any(cells):  # blank lines (and rows of empty cells) are skipped
            run.row(line, cells)
        if run.full:
            run.flush()
            if progress:
                progress(lines.bytes_read, run.rows)
    run.flush()
    if progress:
        progress(lines.bytes_read, run.rows)


_Row = tuple[int, str, str | None, str]
"""A checked row: line, phone (E.164), region, language."""
_PLACEHOLDER = bytes(32)
"""The credential of rows that will not be committed (a dry run, a file with a bad row)."""


class _Import:
    """One import's running state: the batch, the numbering, the problems and the counts."""

    def __init__(
        self, session: Session, election_id: int, cells: RowReader, issuer: Issuer, dry_run: bool
    ) -> None:
        self.session, self.election_id, self.cells = session, election_id, cells
        self.issuer, self.dry_run = issuer, dry_run
        self.base: int = session.execute(
            select(func.coalesce(func.max(Registration.number), 0)).where(
                Registration.election_id == election_id
            )
        ).scalar_one()
        self.number = self.base
        self.rows = 0
        self.batch: list[_Row] = []
        self.problems: list[tuple[int, str]] = []
        self._pending: list[tuple[int, str]] = []
        self.bad_rows = 0
        self.by_region: Counter[str | None] = Counter()
        self.by_language: Counter[str] = Counter()

    @property
    def full(self) -> bool:
        """Whether the batch (its good rows and its bad) is due to be flushed."""
        return len(self.batch) + len(self._pending) >= BATCH

    @property
    def imported(self) -> int:
        return self.number - self.base

    @property
    def issuing(self) -> bool:
        """Whether rows get real credentials: not in a dry run, nor once a row is bad."""
        return not self.dry_run and not self.bad_rows

    def bad(self, line: int, reason: str) -> None:
        """Note a bad row; the batch's are reported in the order of their lines when it is flushed."""
        self.bad_rows += 1
        self._pending.append((line, reason))

    def row(self, line: int, cells: list[str]) -> None:
        self.rows += 1
        try:
            self.batch.append((line, *self.cells(cells)))
        except DecodeError as exc:
            self.bad(line, str(exc))

    def flush(self) -> None:
        """Write the batch's rows whose phones are new, and record its problems."""
        batch, self.batch = self.batch, []
        if batch:
            self._write(self._new_phones(batch))
        self._pending.sort()
        self.problems += self._pending[: MAX_PROBLEMS - len(self.problems)]
        self._pending = []

    def _new_phones(self, batch: list[_Row]) -> list[_Row]:
        """The rows whose phone is neither in the table (this import's earlier
        batches included) nor earlier in the batch; the others are bad."""
        connection = self.session.connection()
        mark = _mark(connection)
        found = connection.exec_driver_sql(
            "SELECT phone, number, line FROM registrations WHERE election_id = "
            f"{mark} AND phone IN ({', '.join([mark] * len(batch))})",
            (self.election_id, *(r[1] for r in batch)),
        )
        earlier = {phone: (number, line) for phone, number, line in found}
        seen: dict[str, int] = {}
        fresh = []
        for row in batch:
            line, phone = row[0], row[1]
            if phone in earlier:
                number, first = earlier[phone]
                where = f"line {first:,}" if number > self.base else f"line {first:,} of an earlier import"
                self.bad(line, f"{phone} is a duplicate of {where}")
            elif phone in seen:
                self.bad(line, f"{phone} is a duplicate of line {seen[phone]:,}")
            else:
                seen[phone] = line
                fresh.append(row)
        return fresh

    def _write(self, rows: list[_Row]) -> None:
        issued = self.issuer.take(len(rows)) if self.issuing else [(_PLACEHOLDER, None)] * len(rows)
        registrations = []
        voters = []
        for (line, phone, region, language), (credential, sealed) in zip(rows, issued, strict=True):
            self.number += 1
            registrations.append(
                (self.election_id, self.number, phone, region, language, credential, sealed, line)
            )
            if sealed is not None:
                voters.append((self.election_id, credential, region))
            self.by_region[region] += 1
            self.by_language[language] += 1
        _insert(self.session, Registration, _REGISTRATION, registrations)
        _insert(self.session, Voter, _VOTER, voters)


_REGISTRATION = ("election_id", "number", "phone", "region", "language", "credential", "code_sealed", "line")
_VOTER = ("election_id", "credential", "region")


def _insert(
    session: Session, model: type[Registration | Voter], names: tuple[str, ...], rows: list[tuple[Any, ...]]
) -> None:
    """``rows`` (cells in the order of ``names``) straight to the driver: COPY on PostgreSQL
    (psycopg 3), one executemany on SQLite. At a million rows SQLAlchemy's per-row
    work took a fifth of the time, and COPY halves PostgreSQL's. (The look-up of a
    batch's phones goes straight to the driver too, for the same reason.)"""
    if not rows:
        return
    connection = session.connection()
    columns = ", ".join(names)
    driver = connection.connection.driver_connection
    if connection.dialect.driver == "psycopg" and driver is not None:
        with (
            driver.cursor() as cursor,
            cursor.copy(f"COPY {model.__tablename__} ({columns}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        return
    mark = _mark(connection)
    values = ", ".join([mark] * len(names))
    connection.exec_driver_sql(f"INSERT INTO {model.__tablename__} ({columns}) VALUES ({values})", rows)


def _mark(connection: Connection) -> str:
    """The driver's placeholder: ``?`` for sqlite3, ``%s`` for psycopg."""
    return "?" if connection.dialect.paramstyle == "qmark" else "%s"
