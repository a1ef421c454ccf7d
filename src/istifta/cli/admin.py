"""``istifta admin …``: the console's accounts."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from istifta.cli.common import DEFAULT_DATA_DIR, Database, DataDir, fail, out, referendums
from istifta.store.accounts import ROLES, Accounts

__all__ = ["admin_app"]

admin_app = typer.Typer(help="The organisers' console: its accounts.", no_args_is_help=True)


BY = "istifta admin"
PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from standard input (for scripts).")
]


def _password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    if not password:
        raise fail("no password given")
    return password


@admin_app.command("create")
def create(
    username: Annotated[str, typer.Argument(help="Lowercase letters, digits, '.', '_' or '-'.")],
    role: Annotated[str, typer.Option(help=f"One of {', '.join(ROLES)}.")] = "organiser",
    password_stdin: PasswordStdin = False,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database: Database = None,
) -> None:
    """Make a console account. The password is asked for (or read from stdin), never an argument."""
    password = _password(password_stdin)
    with referendums(data_dir, database) as refs:
        Accounts(refs.store).create(username, password, role)
    out.print(f"account {escape(username)} ({role}) created", highlight=False)


@admin_app.command("list")
def roster(data_dir: DataDir = DEFAULT_DATA_DIR, database: Database = None) -> None:
    """The console's accounts, their roles, and which are disabled."""
    with referendums(data_dir, database) as refs:
        for member in Accounts(refs.store).members():
            state = "\tdisabled" if member.disabled else ""
            out.print(f"{escape(member.username)}\t{member.role}{state}", highlight=False)


Username = Annotated[str, typer.Argument(help="The account's username.")]


def _change(data_dir: Path, database: str | None, done: str, act: Callable[[Accounts], None]) -> None:
    with referendums(data_dir, database) as refs:
        act(Accounts(refs.store))
    out.print(done, highlight=False)


@admin_app.command("disable")
def disable(username: Username, data_dir: DataDir = DEFAULT_DATA_DIR, database: Database = None) -> None:
    """Stop an account from signing in, and end its sessions now (it stays in the audit log)."""
    _change(
        data_dir, database, f"{username}: disabled, its sessions ended", lambda a: a.disable(username, BY)
    )


@admin_app.command("enable")
def enable(username: Username, data_dir: DataDir = DEFAULT_DATA_DIR, database: Database = None) -> None:
    """Let a disabled account sign in again."""
    _change(data_dir, database, f"{username}: enabled", lambda a: a.enable(username, BY))


@admin_app.command("delete")
def remove(
    username: Username,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database: Database = None,
) -> None:
    """Delete an account and end its sessions (the audit log keeps its name)."""
    if not yes and not typer.confirm(f"delete the account {username}?"):
        raise fail("nothing deleted")
    _change(data_dir, database, f"{username}: deleted", lambda a: a.delete(username, BY))


@admin_app.command("role")
def role(
    username: Username,
    new_role: Annotated[str, typer.Argument(metavar="ROLE", help=f"One of {', '.join(ROLES)}.")],
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database: Database = None,
) -> None:
    """Give an account another role, and end its sessions now."""
    done = f"{username}: now {new_role}, its sessions ended"
    _change(data_dir, database, done, lambda a: a.set_role(username, new_role, BY))


@admin_app.command("password")
def password(
    username: Username,
    password_stdin: PasswordStdin = False,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database: Database = None,
) -> None:
    """Set an account's password (asked for, never an argument), and end its sessions now."""
    new = _password(password_stdin)
    done = f"{username}: new password set, its sessions ended"
    _change(data_dir, database, done, lambda a: a.set_password(username, new, BY))


@admin_app.command("sign-out")
def sign_out(username: Username, data_dir: DataDir = DEFAULT_DATA_DIR, database: Database = None) -> None:
    """End every session of an account, now."""
    _change(data_dir, database, f"{username}: its sessions ended", lambda a: a.end_sessions(username, BY))
