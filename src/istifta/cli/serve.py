"""``istifta serve`` (the web server) and ``istifta verify-audit`` (an encryption check on a computer)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from istifta.cli.common import DEFAULT_DATA_DIR, Database, DataDir, err, out
from istifta.errors import IstiftaError
from istifta.files import read_json
from istifta.protocol.audit import check_audit, parse_audit
from istifta.protocol.parameters import ElectionParameters, parse_parameters
from istifta.record.io import read_record

__all__ = ["serve", "verify_audit"]


def serve(
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database: Database = None,
    host: Annotated[str, typer.Option(help="The address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="The port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes (use PostgreSQL for more than one).")] = 1,
    proxy_headers: Annotated[
        bool,
        typer.Option(
            help="Behind a reverse proxy on this machine: take https and the client from its headers."
        ),
    ] = False,
) -> None:
    """Serve the ballot page, the public pages and the JSON API."""
    from istifta.sms.settings import load_sms_settings
    from istifta.store.private import refuse_exposed
    from istifta.web.serving import serve as run
    from istifta.web.settings import load_settings

    try:
        settings = load_settings(data_dir=data_dir, database_url=database)
        load_sms_settings(data_dir=data_dir)
        refuse_exposed(settings.data_dir, settings.store_url)
    except IstiftaError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from None
    out.print(f"istifta: serving {escape(str(data_dir))} on http://{host}:{port}/", highlight=False)
    run(
        settings,
        workers,
        host=host,
        port=port,
        proxy_headers=proxy_headers,
        forwarded_allow_ips="127.0.0.1",
        server_header=False,
        access_log=False,  # a client's address beside a credential's path would say who voted when
        log_level="info",
    )


def verify_audit(
    file: Annotated[Path, typer.Argument(help="The check file the ballot page saved.")],
    parameters: Annotated[
        Path | None, typer.Option(help="The election parameters (JSON), e.g. from the record.")
    ] = None,
    record: Annotated[Path | None, typer.Option(help="The election record (folder or zip).")] = None,
    server: Annotated[
        str | None, typer.Option(help="An istifta server's address, to fetch the parameters from.")
    ] = None,
) -> None:
    """Check an encryption (cast-as-intended): what the audited ballot really holds."""
    try:
        audit = parse_audit(read_json(file))
        params = _parameters(parameters, record, server, audit.election_hash)
        selections = check_audit(params, audit)
    except IstiftaError as exc:
        err.print(f"[bold red]check failed:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(1) from None
    out.print(
        f"[bold green]verified:[/] the ballot for {escape(params.manifest.slug)} holds:", highlight=False
    )
    for question, chosen in zip(params.manifest.questions, selections, strict=True):
        labels = [_text(question.options[i].label) for i in chosen] or ["(no option)"]
        out.print(f"  {escape(_text(question.text))}: {escape(', '.join(labels))}", highlight=False)


def _text(texts: Any) -> str:
    return str(texts.get("en") or texts.get("ar") or next(iter(texts.values())))


def _parameters(
    parameters: Path | None, record: Path | None, server: str | None, election_hash: str
) -> ElectionParameters:
    if sum(x is not None for x in (parameters, record, server)) != 1:
        raise IstiftaError("give exactly one of --parameters, --record or --server")
    if parameters is not None:
        return parse_parameters(read_json(parameters))
    if record is not None:
        board = read_record(record).board
        if not board:
            raise IstiftaError(f"{record}: the record's board is empty: it has no parameters")
        first = json.loads(board[0])
        if not isinstance(first, dict) or first.get("type") != "election":
            raise IstiftaError(f"{record}: the board's first entry is not the election's parameters")
        return parse_parameters(first["parameters"])
    assert server is not None
    base = server.rstrip("/")
    for summary in _fetch(f"{base}/api/referendums"):
        if summary.get("election_hash") == election_hash:
            return parse_parameters(_fetch(f"{base}/api/referendums/{summary['slug']}/parameters"))
    raise IstiftaError(f"{base} has no referendum with election hash {election_hash[:16]}…")


def _fetch(url: str) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return json.loads(response.read())
    except (urllib.error.URLError, TimeoutError, ValueError) as exc:
        raise IstiftaError(f"cannot fetch {url}: {exc}") from None
