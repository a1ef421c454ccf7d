"""The ``istifta`` command line (an edge: it reads files and prints, the core computes)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from istifta import PROTOCOL_VERSION, __version__
from istifta.cli.admin import admin_app
from istifta.cli.common import err, out
from istifta.cli.demo import demo
from istifta.cli.election import election_app, electorate_app
from istifta.cli.serve import serve, verify_audit
from istifta.cli.sms import sms_app
from istifta.cli.trustee import trustee_app
from istifta.cli.verify import verify
from istifta.crypto.credentials import credential_secret, new_code, public_credential
from istifta.errors import IstiftaError
from istifta.files import read_json
from istifta.protocol.manifest import Manifest, parse_manifest

app = typer.Typer(
    name="istifta",
    help="Verifiable national consultations by phone. Data goes into ./istifta-data "
    "(the store, the board's key, SMS files) unless --data-dir or ISTIFTA_DATA_DIR names another folder.",
    no_args_is_help=True,
    add_completion=False,
)
manifest_app = typer.Typer(help="Write and check a referendum's manifest.", no_args_is_help=True)
credential_app = typer.Typer(
    help="Voters' credential codes (for testing and registrars).", no_args_is_help=True
)
app.add_typer(manifest_app, name="manifest")
app.add_typer(credential_app, name="credential")
app.add_typer(election_app, name="election")
app.add_typer(electorate_app, name="electorate")
app.add_typer(trustee_app, name="trustee")
app.add_typer(sms_app, name="sms")
app.add_typer(admin_app, name="admin")
app.command("verify")(verify)
app.command("verify-audit")(verify_audit)
app.command("serve")(serve)
app.command("demo")(demo)

# soft_wrap: machine-readable lines (a code and its P) must never be folded.


def _fail(message: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    return typer.Exit(2)


def _load_manifest(path: Path) -> Manifest:
    try:
        raw = read_json(path)  # its errors name the file already
    except IstiftaError as exc:
        raise _fail(str(exc)) from None
    try:
        return parse_manifest(raw)
    except IstiftaError as exc:
        raise _fail(f"{path}: {exc}") from None


@app.command()
def version() -> None:
    """Print istifta's version and the protocol version it speaks."""
    out.print(f"istifta {__version__} (protocol {PROTOCOL_VERSION})", highlight=False)


@manifest_app.command("check")
def manifest_check(
    path: Annotated[Path, typer.Argument(help="The manifest, a JSON file.")],
) -> None:
    """Check every field of a manifest and print its summary and manifest_hash."""
    m = _load_manifest(path)
    table = Table(title=escape(f"{m.slug} — {next(iter(m.title.values()))}"), show_header=True)
    table.add_column("question")
    table.add_column("options")
    table.add_column("choose")
    for i, q in enumerate(m.questions):
        labels = escape(" / ".join(next(iter(o.label.values())) for o in q.options))
        table.add_row(str(i), labels, f"{q.min}-{q.max}")
    out.print(table)
    out.print(f"languages: {', '.join(m.languages)}", highlight=False)
    out.print(f"open: {m.opens_at:%Y-%m-%d %H:%M} UTC to {m.closes_at:%Y-%m-%d %H:%M} UTC")
    out.print(f"trustees: {m.threshold} of {m.n}")
    out.print(f"manifest_hash: {m.manifest_hash}", highlight=False)


@credential_app.command("new")
def credential_new(
    manifest: Annotated[Path, typer.Argument(help="The manifest the credentials are for.")],
    count: Annotated[int, typer.Option(min=1, max=1_000_000, help="How many to make.")] = 1,
) -> None:
    """Make fresh credential codes and print each with its public credential P.

    The codes are secrets: print them only where nobody else can read them.
    """
    mh = bytes.fromhex(_load_manifest(manifest).manifest_hash)
    for _ in range(count):
        code = new_code(os.urandom)
        P = public_credential(credential_secret(mh, code))  # noqa: N806
        out.print(f"{code} {P.hex()}", highlight=False)


@credential_app.command("derive")
def credential_derive(
    manifest: Annotated[Path, typer.Argument(help="The manifest the credentials are for.")],
) -> None:
    """Read credential codes from standard input, one a line; print each public credential P.

    Codes are read from standard input, never from the command line, so that
    they do not show in the process list or the shell's history.
    """
    mh = bytes.fromhex(_load_manifest(manifest).manifest_hash)
    for number, line in enumerate(sys.stdin, start=1):
        if not line.strip():
            continue
        try:
            P = public_credential(credential_secret(mh, line.strip()))  # noqa: N806
        except IstiftaError as exc:
            raise _fail(f"line {number}: {exc}") from None
        out.print(P.hex(), highlight=False)


def main() -> None:
    app()
