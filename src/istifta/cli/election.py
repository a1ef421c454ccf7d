"""``istifta election …`` and ``istifta electorate …``: the organiser's commands.

Each command opens the data directory (SQLite there, or PostgreSQL with
``--database``), does one step of :class:`~istifta.store.referendums.Referendums`,
prints what it did, and on any refusal prints why, exits 2 and changes
nothing.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.markup import escape

from istifta.cli.common import (
    DEFAULT_DATA_DIR,
    Database,
    DataDir,
    Slug,
    done,
    err,
    fail,
    out,
    read_json,
    referendums,
)
from istifta.electorate.credential_file import credential_rows, holds_credentials
from istifta.electorate.regions import IRAQ
from istifta.electorate.sealing import CodeBox, load_code_box
from istifta.errors import ImportProblems, IstiftaError
from istifta.protocol.electorate import MAX_REGION
from istifta.store.referendums import Referendums

if TYPE_CHECKING:
    from istifta.electorate.importer import ImportReport

T = TypeVar("T")

__all__ = ["election_app", "electorate_app"]

election_app = typer.Typer(
    help="Run a referendum: create, open, close, tally, publish, export.", no_args_is_help=True
)
electorate_app = typer.Typer(help="The electorate: public credentials and regions.", no_args_is_help=True)


@election_app.command("create")
def create(manifest: Path, data_dir: DataDir = DEFAULT_DATA_DIR, database: Database = None) -> None:
    """Create a referendum from its manifest (every field checked)."""
    raw = read_json(manifest)
    with referendums(data_dir, database) as r:
        m = r.create(raw)
    done(f"created {m.slug} (manifest_hash {m.manifest_hash}); next: the trustees' ceremony")


@election_app.command("add-trustee")
def add_trustee(
    slug: Slug,
    files: Annotated[list[Path], typer.Argument(help="Trustees' public files (trustee-<i>.json).")],
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database: Database = None,
) -> None:
    """Add trustees' public files: each one's manifest and proof of knowledge are
    checked, and all are kept or, if one is bad, none."""
    raws = [(read_json(f), str(f)) for f in files]
    with referendums(data_dir, database) as r:
        indices = r.add_trustees(slug, raws)
    for index in indices:
        done(f"trustee {index} of {slug}: keys checked and kept")


@electorate_app.command("import")
def electorate_import(
    slug: Slug,
    path: Annotated[
        Path,
        typer.Argument(help="CSV: phone[,region][,language] (docs/electorate.md), or credential,region."),
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check the whole file and show what it holds; change nothing.")
    ] = False,
    default_language: Annotated[
        str, typer.Option(help="The language of rows that name none: ar, ckb or en.")
    ] = "ar",
    any_region: Annotated[
        bool,
        typer.Option(
            "--any-region",
            help=f"Take any region label (up to {MAX_REGION} characters), not only Iraq's governorates.",
        ),
    ] = False,
    column: Annotated[
        list[str] | None,
        typer.Option(
            metavar="FIELD=HEADER",
            help="Read phone, region or language from the column so named in line 1 (repeatable).",
        ),
    ] = None,
    country: Annotated[str, typer.Option(help="Where numbers written without + are dialled.")] = "IQ",
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database: Database = None,
) -> None:
    """Import the electorate: voters' phones, each issued a credential (or public
    credentials, from a file with the header credential,region); the whole file or nothing."""
    from istifta.electorate.registrar_file import read_header

    column_map = _column_map(column or [])
    try:
        header = read_header(path)
    except IstiftaError as exc:
        raise fail(str(exc)) from None
    if holds_credentials(header) and not column_map:
        if dry_run or any_region or default_language != "ar" or country != "IQ":
            raise fail(
                f"{path} holds public credentials: --dry-run and the other options are for files of phones"
            )
        with referendums(data_dir, database) as r:
            count = r.import_electorate(slug, credential_rows(path))
        done(f"{count:,} voters added to {slug}")
        return
    _import_phones(slug, path, data_dir, database, dry_run, default_language, any_region, column_map, country)


def _column_map(options: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for option in options:
        name, sep, header = option.partition("=")
        if not sep or not name.strip() or not header.strip():
            raise fail(f"--column {option}: expected FIELD=HEADER, e.g. --column phone=Tel")
        found[name.strip().lower()] = header.strip()
    return found


def _import_phones(
    slug: str,
    path: Path,
    data_dir: Path,
    database: str | None,
    dry_run: bool,
    default_language: str,
    any_region: bool,
    column_map: dict[str, str],
    country: str,
) -> None:
    from istifta.electorate.importer import import_registrations  # phonenumbers: loaded only when needed

    # A dry run seals nothing: it does not make the data directory's sms.key.
    box = CodeBox(os.urandom(32)) if dry_run else load_code_box(data_dir)
    with referendums(data_dir, database) as r, _ImportProgress(path.stat().st_size) as progress:
        try:
            report = import_registrations(
                r,
                slug,
                path,
                box,
                dry_run=dry_run,
                default_language=default_language,
                regions=None if any_region else IRAQ,
                column_map=column_map,
                progress=progress,
                country=country.strip().upper(),
            )
        except ImportProblems as exc:
            progress.stop()
            raise _bad_rows(path, exc) from None
    _print_import(slug, report)


class _ImportProgress:
    """A bar on stderr (when it is a terminal): bytes of the file read, and rows."""

    def __init__(self, total: int) -> None:
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

        self.bar = Progress(
            TextColumn("importing"),
            BarColumn(),
            DownloadColumn(),
            TextColumn("{task.fields[rows]:,} rows"),
            TimeRemainingColumn(),
            console=err,
            disable=not err.is_terminal,
        )
        self.task = self.bar.add_task("import", total=total, rows=0)

    def __call__(self, bytes_read: int, rows: int) -> None:
        self.bar.update(self.task, completed=bytes_read, rows=rows)

    def __enter__(self) -> _ImportProgress:
        self.bar.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        self.bar.stop()


def _bad_rows(path: Path, problems: ImportProblems) -> typer.Exit:
    shown = 20
    lines = [f"{path}: {problems.count:,} bad rows; nothing imported"]
    lines += [f"  line {line:,}: {reason}" for line, reason in problems.problems[:shown]]
    if problems.count > shown:
        lines.append(f"  … and {problems.count - shown:,} more")
    return fail("\n".join(lines))


def _print_import(slug: str, report: ImportReport) -> None:
    from rich.table import Table

    read = ", ".join(f"{field} from {header!r}" for field, header in report.columns.items())
    out.print(f"columns: {escape(read)}", highlight=False)
    counted: tuple[tuple[str, dict[Any, int]], ...] = (
        ("region", report.by_region),
        ("language", report.by_language),
    )
    for title, counts in counted:
        table = Table(title=f"by {title}", title_justify="left")
        table.add_column(title)
        table.add_column("voters", justify="right")
        for key, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0] or "")):
            table.add_row(escape(key or "(none)"), f"{n:,}")
        out.print(table)
    if report.dry_run:
        done(f"dry run: {report.imported:,} voters would be added to {slug}; nothing was changed")
    else:
        done(f"{report.imported:,} voters added to {slug}, each with a credential (codes sealed until close)")


@electorate_app.command("generate")
def electorate_generate(
    slug: Slug,
    count: Annotated[int, typer.Option(min=1, max=10_000_000, help="How many voters.")],
    codes: Annotated[Path, typer.Option(help="Where to write the codes (CSV: code, region), mode 0600.")],
    regions: Annotated[str, typer.Option(help="Comma-separated region labels, assigned in turn.")] = "",
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database: Database = None,
) -> None:
    """For tests and demonstrations: make credentials, import their P, write the codes."""
    labels = tuple(x.strip() for x in regions.split(",") if x.strip())
    try:
        fd = os.open(codes, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise fail(f"{codes} exists: codes are never overwritten") from None
    except OSError as exc:
        raise fail(f"cannot write {codes}: {exc.strerror}") from None
    try:
        with referendums(data_dir, database) as r:
            made = r.generate_electorate(slug, count, labels, os.urandom)
    except BaseException:
        os.close(fd)
        os.unlink(codes)
        raise
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["code", "region"])
    writer.writerows((c, reg or "") for c, reg in made)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(buffer.getvalue())
    done(f"{count:,} voters added to {slug}; their codes are in {codes} (keep it secret)")


def _step(slug: str, data_dir: Path, database: str | None, action: Callable[[Referendums], T]) -> T:
    with referendums(data_dir, database) as r:
        return action(r)


@election_app.command("open")
def open_(slug: Slug, data_dir: DataDir = DEFAULT_DATA_DIR, database: Database = None) -> None:
    """Freeze the parameters (trustees' keys, electorate) and open the board."""
    params = _step(slug, data_dir, database, lambda r: r.open_election(slug))
    done(f"{slug} is open: election_hash {params.election_hash}, {params.electorate_size:,} voters")


@election_app.command("cast")
def cast(
    slug: Slug,
    ballot: Annotated[Path, typer.Argument(help="A ballot as JSON (PROTOCOL.md §5).")],
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database: Database = None,
) -> None:
    """Cast a ballot from a file and print its receipt (the web page does this for voters)."""
    raw = read_json(ballot)
    receipt = _step(slug, data_dir, database, lambda r: r.cast(slug, raw))
    out.print_json(data=receipt.to_json())


@election_app.command("close")
def close(slug: Slug, data_dir: DataDir = DEFAULT_DATA_DIR, database: Database = None) -> None:
    """Close the referendum: the board takes no ballot after this."""
    receipt = _step(slug, data_dir, database, lambda r: r.close(slug))
    done(f"{slug} is closed at board entry {receipt.index}")


@election_app.command("tally")
def tally(slug: Slug, data_dir: DataDir = DEFAULT_DATA_DIR, database: Database = None) -> None:
    """Sum the last ballot of each voter, still encrypted, and publish the sums."""
    t = _step(slug, data_dir, database, lambda r: r.tally(slug))
    done(f"{slug}: {t.counted:,} ballots counted; the trustees can now decrypt the tally")


@election_app.command("add-decryption")
def add_decryption(
    slug: Slug,
    files: Annotated[list[Path], typer.Argument(help="Trustees' partial decryption files.")],
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database: Database = None,
) -> None:
    """Check trustees' partial decryptions against the tally, then publish them
    (none is published unless all check)."""
    raws = [read_json(f) for f in files]
    with referendums(data_dir, database) as r:
        receipts = r.add_partial_decryptions(slug, raws)
    for f, receipt in zip(files, receipts, strict=True):
        done(f"{f}: checked and published at board entry {receipt.index}")


@election_app.command("publish")
def publish(slug: Slug, data_dir: DataDir = DEFAULT_DATA_DIR, database: Database = None) -> None:
    """Combine the trustees' decryptions and publish the result with the turnout."""
    with referendums(data_dir, database) as r:
        entry = r.publish_result(slug)
        manifest = r.manifest(slug)
    for q, (question, counts) in enumerate(zip(manifest.questions, entry["counts"], strict=True)):
        out.print(f"question {q}: {escape(next(iter(question.text.values())))}", highlight=False)
        for option, n in zip(question.options, counts, strict=True):
            out.print(f"  {escape(next(iter(option.label.values())))}: {n:,}", highlight=False)
    t = entry["turnout"]
    done(f"{slug} published: {t['voted']:,} of {t['eligible']:,} voted")


@election_app.command("export")
def export(
    slug: Slug,
    path: Annotated[Path, typer.Argument(help="A folder, or a file ending in .zip.")],
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database: Database = None,
) -> None:
    """Write the election record (PROTOCOL.md §8) for anyone to verify."""
    from istifta.record.io import write_record

    with referendums(data_dir, database) as r, r.record_stream(slug) as record:
        try:
            write_record(path, record)
        except OSError as exc:
            raise fail(f"cannot write {path}: {exc.strerror}") from None
        size = record.tree_head["size"]
    done(f"record of {slug} written to {path}: {size:,} board entries")


@election_app.command("status")
def status(slug: Slug, data_dir: DataDir = DEFAULT_DATA_DIR, database: Database = None) -> None:
    """Show where the referendum is and the board's latest tree head."""
    with referendums(data_dir, database) as r:
        state = r.state(slug)
        out.print(f"{escape(slug)}: {state}", highlight=False)
        if state != "draft":
            head = r.tree_head(slug)
            out.print(f"board: {head.size:,} entries, root {head.root.hex()}", highlight=False)
