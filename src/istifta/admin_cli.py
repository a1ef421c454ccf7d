"""``istifta admin …``: the console's accounts."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from istifta.accounts import ROLES, Accounts
from istifta.election_cli import DEFAULT_DATA_DIR, Database, DataDir, fail, referendums

__all__ = ["admin_app"]

admin_app = typer.Typer(help="The organisers' console: its accounts.", no_args_is_help=True)
out = Console(soft_wrap=True)


@admin_app.command("create")
def create(
    username: Annotated[str, typer.Argument(help="Lowercase letters, digits, '.', '_' or '-'.")],
    role: Annotated[str, typer.Option(help=f"One of {', '.join(ROLES)}.")] = "organiser",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input (for scripts).")
    ] = False,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database: Database = None,
) -> None:
    """Make a console account. The password is asked for (or read from stdin), never an argument."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    if not password:
        raise fail("no password given")
    with referendums(data_dir, database) as refs:
        Accounts(refs.store).create(username, password, role)
    out.print(f"account {escape(username)} ({role}) created", highlight=False)


@admin_app.command("list")
def roster(data_dir: DataDir = DEFAULT_DATA_DIR, database: Database = None) -> None:
    """The console's accounts and their roles."""
    with referendums(data_dir, database) as refs:
        for username, role in Accounts(refs.store).roster():
            out.print(f"{escape(username)}\t{role}", highlight=False)
