"""``istifta demo``: see the whole system work in one command (an edge: it
prints and serves; :mod:`istifta.demo.referendum` and :mod:`istifta.demo.voters` do the work)."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from istifta.errors import IstiftaError

if TYPE_CHECKING:
    from istifta.demo.referendum import Demo

__all__ = ["demo"]

out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)


def demo(
    data_dir: Annotated[
        Path,
        typer.Option(
            "--data-dir", help="A new folder for the demo (a folder an earlier demo made is replaced)."
        ),
    ] = Path("istifta-demo"),
    voters: Annotated[
        int, typer.Option(min=1, max=1_000_000, help="Synthetic voters in the electorate.")
    ] = 1000,
    simulate: Annotated[
        int,
        typer.Option(
            min=0,
            max=1_000_000,
            help="Have this many voters vote through the HTTP API, then count and verify.",
        ),
    ] = 0,
    serve: Annotated[bool, typer.Option(help="Serve the pages when done (Ctrl-C stops).")] = True,
    host: Annotated[str, typer.Option(help="The address to serve on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="The port to serve on.")] = 8000,
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", min=1, max=64, help="Processes verifying ballots.")
    ] = 1,
) -> None:
    """A whole referendum on this machine, from nothing: question, trustees, electorate,
    invitations (to the outbox), the server; with --simulate N, votes, count and verification."""
    from istifta.demo.referendum import SLUG, prepare

    base = f"http://{host}:{port}"
    size = max(voters, math.ceil(simulate * 1.25))
    out.print(f"istifta demo in {escape(str(data_dir))}: a referendum of {size:,} synthetic voters")
    try:
        d = prepare(data_dir, size, base)
    except IstiftaError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from None
    links = d.links()
    _done(f"created {SLUG}: the question in Arabic, Sorani and English; yes or no")
    _done(f"3 trustees (any 2 decrypt) held their ceremony; DEMO ONLY: all keys in {d.trustees.folder}")
    _done(f"{size:,} voters over Iraq's 18 governorates, each issued a credential; the referendum is open")
    _done(
        f"{len(links):,} invitations sent to the outbox ({data_dir / 'outbox.jsonl'}): none left this machine"
    )
    app = _app(d, fast=simulate > 0)
    if simulate:
        _simulate(d, app, [link for _, link in links[:simulate]], serve, host, port, jobs)
    else:
        _where(d, base, links, published=False)
        if serve:
            import uvicorn

            out.print(f"serving on {base}/ (Ctrl-C stops)")
            uvicorn.run(app, host=host, port=port, log_level="warning", server_header=False)
    d.refs.close_store()


def _done(message: str) -> None:
    out.print(f"[green]✓[/] {escape(message)}")


def _app(d: Demo, fast: bool) -> Any:
    from istifta.web.app import create_app
    from istifta.web.settings import WebSettings

    limits = (
        {"cast_rate": 1e6, "cast_burst": 1_000_000} if fast else {}
    )  # the simulated voters share one address
    settings = WebSettings(data_dir=d.data_dir, timezone="Asia/Baghdad", **limits)  # type: ignore[arg-type]
    return create_app(settings, d.refs, d.sms)


def _simulate(d: Demo, app: Any, links: list[str], serve: bool, host: str, port: int, jobs: int) -> None:
    from istifta.cli.verify import checks_table, print_result
    from istifta.demo.referendum import SLUG, finish
    from istifta.demo.voters import simulate
    from istifta.web.serving import serving

    with serving(app, port if serve else None, host) as url:
        sim = simulate(url, SLUG, links)
        _done(
            f"{sim.voters:,} voters cast {sim.ballots:,} ballots through the API in {sim.seconds:.1f} s "
            f"({sim.ballots / sim.seconds:,.0f} a second; {sim.revotes:,} voted again)"
        )
        refused = ", ".join(f"{code} {n}" for code, n in sorted(sim.bad_refused.items()))
        _done(f"{sim.bad_sent} bad ballots sent, {sum(sim.bad_refused.values())} refused ({refused})")
        for failure in sim.failures:
            err.print(f"[bold red]✗[/] {escape(failure)}")
        record, report = finish(d, jobs)
        _done(f"closed, tallied, decrypted by trustees 1 and 2, published; the record is {record}")
        out.print(checks_table(report))
        counts = report["result"].figures.get("counts") if report.failure is None else None
        if report.parameters is not None and report.failure is None:
            print_result(report.parameters, report["result"].figures, report["tally"].figures["counted"])
        matches = counts == [sim.expected]
        if report.failure is not None:
            err.print(f"[bold red]✗ the record does not verify:[/] {escape(report.failure.message or '')}")
        elif not matches:
            err.print(f"[bold red]✗ the result {counts} is not what the voters chose {[sim.expected]}[/]")
        else:
            _done("the record verifies, and the result is what the simulated voters chose")
        if serve:
            _where(d, f"http://{host}:{port}", d.links(), published=True)
            out.print(f"serving on http://{host}:{port}/ (Ctrl-C stops)")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
    if report.failure is not None or not matches or not sim.ok:
        raise typer.Exit(1)


def _where(d: Demo, base: str, links: list[tuple[str, str]], published: bool) -> None:
    from istifta.demo.referendum import ORGANISER, SLUG

    out.print("\n[bold]Where to click[/]")
    if published:  # the vote is over: what a voter sees of their ballot
        out.print('  a voter\'s ballots on the board ("was my code used to vote?"):')
        links = [(phone, link.replace(f"/{SLUG}#", f"/v/{SLUG}/status#")) for phone, link in links]
    else:
        out.print("  vote (each link is one voter's; open it on a phone or in a browser):")
    for phone, link in links[:3]:
        out.print(f"    {escape(phone)}  {escape(link)}")
    out.print(f"    … every link: istifta sms outbox --data-dir {escape(str(d.data_dir))}")
    out.print(f"  the referendum and live turnout: {base}/r/{SLUG}")
    out.print(f"  the board:   {base}/r/{SLUG}/board")
    if published:
        out.print(f"  the result:  {base}/r/{SLUG}/result")
    out.print(
        f"  the organisers' console: {base}/console — username {ORGANISER}, password {escape(d.password)} "
        f"(also in {escape(str(d.data_dir / 'demo-organiser.txt'))})"
    )
