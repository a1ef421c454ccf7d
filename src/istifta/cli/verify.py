"""``istifta verify``: check an election record and print what was checked (an edge).

Reads the record (:mod:`istifta.record.io`), runs ``protocol.verify.verify_record`` with
a progress bar for the ballots (on standard error), prints each check with
its figures, then the result with the manifest's labels. Exit status: 0 when
everything verifies, 1 naming the first failure, 2 when the record cannot be
read.
"""

from __future__ import annotations

import json
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from istifta.cli.common import err, out
from istifta.errors import IstiftaError
from istifta.protocol.parameters import ElectionParameters
from istifta.protocol.report import CHECKS, Report
from istifta.protocol.verify import verify_record
from istifta.record.io import read_record
from istifta.record.pool import process_pool_verifier

__all__ = ["checks_table", "print_result", "verify"]

_MARKS = {"ok": "[green]✓ ok[/]", "failed": "[bold red]✗ failed[/]", "not run": "[dim]– not run[/]"}
_CHECK_NAMES = [name for name, _ in CHECKS]


def verify(
    record: Annotated[Path, typer.Argument(help="The election record: a folder or a .zip.")],
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", min=1, max=256, help="Processes that check ballots.")
    ] = 1,
    stop_after: Annotated[
        str | None,
        typer.Option(help="Stop after this check, e.g. tally (a trustee, before decrypting)."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the report as one JSON object instead of tables.")
    ] = False,
) -> None:
    """Verify an election record: every check of PROTOCOL.md §8, with its figures.

    Exits 0 when everything verifies, 1 naming the first failure, 2 when the
    record cannot be read.
    """
    if stop_after is not None and stop_after not in _CHECK_NAMES:
        raise _unreadable(f"--stop-after: expected one of {', '.join(_CHECK_NAMES)}")
    try:
        loaded = read_record(record)
    except IstiftaError as exc:
        raise _unreadable(str(exc)) from None
    report = _run(loaded, jobs, stop_after)
    if as_json:
        print(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
    else:
        out.print(checks_table(report))
    if report.failure is not None:
        failure = report.failure
        err.print(f"[bold red]verification failed[/] at {failure.name}: {escape(failure.message or '')}")
        raise typer.Exit(1)
    if as_json:
        return
    if report.parameters is not None and report.complete:
        print_result(report.parameters, report["result"].figures, report["tally"].figures["counted"])
    done = "the record verifies" if report.complete else f"verified up to {stop_after}"
    out.print(f"[bold green]✓ {done}[/]", highlight=False)


def _unreadable(message: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    return typer.Exit(2)


def _run(record: Any, jobs: int, stop_after: str | None) -> Report:
    columns = (TextColumn("ballots"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("ballots", total=None)

        def progress(check: str, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        verifier = process_pool_verifier(jobs) if jobs > 1 else None
        try:
            return verify_record(record, progress=progress, verify_ballots=verifier, stop_after=stop_after)
        except BrokenProcessPool:
            raise _unreadable("a worker process stopped; try again with fewer --jobs") from None


def _figure(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "none" if value is None else str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_figure(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_figure(v) for v in value)
    return str(value)


def checks_table(report: Report) -> Table:
    table = Table(title="istifta verify", show_lines=True)
    table.add_column("check")
    table.add_column("status", no_wrap=True)
    table.add_column("figures", overflow="fold")
    for check in report.checks:
        shown = {k: v for k, v in check.figures.items() if k not in ("counts", "turnout")}
        text = "\n".join(f"{k.replace('_', ' ')}: {_figure(v)}" for k, v in shown.items())
        if check.message:
            text = (text + "\n" if text else "") + f"[red]{escape(check.message)}[/]"
        table.add_row(check.name, _MARKS[check.status], escape(text) if not check.message else text)
    return table


def print_result(params: ElectionParameters, figures: dict[str, Any], counted: int) -> None:
    m = params.manifest
    trustees = ", ".join(str(j) for j in figures["trustees"])
    out.print(f"\n[bold]Result[/] (decrypted by trustees {trustees}; any {m.threshold} of {m.n})")
    for q, (question, counts) in enumerate(zip(m.questions, figures["counts"], strict=True)):
        table = Table(title=escape(f"question {q}: {next(iter(question.text.values()))}"))
        table.add_column("option")
        table.add_column("votes", justify="right")
        table.add_column("of ballots", justify="right")
        for option, n in zip(question.options, counts, strict=True):
            share = f"{100 * n / counted:.1f}%" if counted else "–"
            table.add_row(escape(next(iter(option.label.values()))), f"{n:,}", share)
        out.print(table)
    t = figures["turnout"]
    table = Table(title=f"turnout: {t['voted']:,} of {t['eligible']:,} ({_percent(t)})")
    table.add_column("region")
    table.add_column("eligible", justify="right")
    table.add_column("voted", justify="right")
    table.add_column("turnout", justify="right")
    for region, r in t["by_region"].items():
        table.add_row(escape(region), f"{r['eligible']:,}", f"{r['voted']:,}", _percent(r))
    out.print(table)


def _percent(figures: dict[str, int]) -> str:
    return f"{100 * figures['voted'] / figures['eligible']:.1f}%" if figures["eligible"] else "–"
