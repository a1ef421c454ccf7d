"""What every ``istifta`` command shares: the data directory and database
options, the consoles it prints to, and :func:`referendums`, which opens the
store and turns every refusal into a message and exit status 2."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy.engine import make_url

from istifta import files
from istifta.errors import IstiftaError
from istifta.settings import DEFAULT_DATA_DIR
from istifta.store.referendums import Referendums

__all__ = [
    "DEFAULT_DATA_DIR",
    "Database",
    "DataDir",
    "Slug",
    "done",
    "err",
    "fail",
    "out",
    "read_json",
    "referendums",
]

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

DataDir = Annotated[
    Path,
    typer.Option(
        "--data-dir",
        envvar="ISTIFTA_DATA_DIR",
        help="Where istifta keeps its store, the board's key and its files: istifta-data "
        "in the folder you run it from unless you say otherwise.",
    ),
]
Database = Annotated[
    str | None,
    typer.Option(
        "--database",
        envvar="ISTIFTA_DATABASE_URL",
        help="A PostgreSQL URL (postgresql+psycopg://…); SQLite in the data directory when absent.",
        show_default=False,
    ),
]
Slug = Annotated[str, typer.Argument(help="The referendum's slug, as in its manifest.")]


def fail(message: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    return typer.Exit(2)


@contextmanager
def referendums(data_dir: Path, database: str | None) -> Iterator[Referendums]:
    """Open the store; turn every refusal into a message and exit status 2."""
    try:
        r = Referendums.open(data_dir, database)
    except Exception as exc:  # a store that cannot be opened: say so, without a traceback
        raise fail(f"cannot open the store: {_without_password(str(exc), database)}") from None
    try:
        yield r
    except IstiftaError as exc:
        raise fail(str(exc)) from None
    finally:
        r.close_store()


def _without_password(message: str, database: str | None) -> str:
    """The message with the database URL's password masked: secrets never reach output."""
    first_line = message.splitlines()[0] if message else "unknown error"
    if database:
        try:
            password = make_url(database).password
        except Exception:  # not a URL at all: nothing to find in it
            password = None
        if password:
            first_line = first_line.replace(str(password), "***")
    return first_line


def read_json(path: Path) -> Any:
    try:
        return files.read_json(path)
    except IstiftaError as exc:
        raise fail(str(exc)) from None


def done(message: str) -> None:
    out.print(f"[green]✓[/] {escape(message)}", highlight=False)
