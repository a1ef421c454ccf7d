"""``istifta trustee …``: the trustee's own commands, run on the trustee's own machine.

An edge over :mod:`istifta.trustee.ceremony`. Every command prints what it did and
what to do next; every error names what was wrong, exits with status 2 and
changes nothing. No command prints a secret.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from istifta.errors import IstiftaError
from istifta.protocol.entries import load_entry, sniff_type
from istifta.protocol.manifest import parse_manifest
from istifta.protocol.parameters import ElectionParameters
from istifta.protocol.record import Record
from istifta.protocol.tally import Tally, parse_tally
from istifta.protocol.verify import verify_record
from istifta.record.io import read_record
from istifta.trustee import ceremony
from istifta.trustee.files import check_outside, read_json, write_public

__all__ = ["trustee_app"]

trustee_app = typer.Typer(
    help="A trustee's key ceremony and decryption (run on the trustee's own machine).",
    no_args_is_help=True,
)

out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)

State = Annotated[
    Path,
    typer.Option(
        "--state",
        help="Your private state folder (keep it on your own machine, and a backup).",
    ),
]


def _fail(message: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] {escape(message)}")
    return typer.Exit(2)


@contextmanager
def _errors() -> Iterator[None]:
    """Turn istifta's errors and file-system errors into a message and exit status 2."""
    try:
        yield
    except IstiftaError as exc:
        raise _fail(str(exc)) from None
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        raise _fail(f"cannot write{where}: {exc.strerror}") from None


def _require_share(state: Path) -> None:
    """Refuse early, before a long check of the record, when the ceremony is not over."""
    if not ceremony.status(state).received:
        raise _fail("you have no key share yet: finish the ceremony (istifta trustee receive) first")


def _grouped(fingerprint: str) -> str:
    """The fingerprint in eight groups of eight, to read aloud."""
    return " ".join(fingerprint[k : k + 8] for k in range(0, len(fingerprint), 8))


def _print_fingerprint(fingerprint: str) -> None:
    out.print(f"fingerprint of the public files: [bold]{_grouped(fingerprint)}[/]")
    out.print(
        "Compare it with every other trustee, character by character, by phone or in "
        "person (not through the organiser). If any differs, stop."
    )


@trustee_app.command("init")
def init(
    manifest: Annotated[Path, typer.Argument(help="The referendum's manifest (JSON).")],
    index: Annotated[int, typer.Option("--index", help="Your trustee number, 1 to n.")],
    state: State,
    out_file: Annotated[
        Path | None,
        typer.Option("--out", help="Where to write your public file (default: trustee-<index>.json here)."),
    ] = None,
) -> None:
    """Start the ceremony: make your keys and your public file trustee-<index>.json.

    Your secrets go into a new state folder, which is never overwritten; the
    public file goes to the organiser.
    """
    with _errors():
        raw = read_json(manifest)
        try:
            m = parse_manifest(raw)
        except IstiftaError as exc:
            raise _fail(f"{manifest}: {exc}") from None
        path = ceremony.init(state, m, index, out_file)
    out.print(f"[green]✓[/] trustee {index} of {m.n} for [bold]{escape(m.slug)}[/]")
    out.print(f"manifest_hash: {m.manifest_hash}")
    out.print(f"your secrets are in {escape(str(state))} (keep it private, and back it up)")
    out.print(f"your public file: [bold]{escape(str(path))}[/]: send it to the organiser")


@trustee_app.command("deal")
def deal(
    state: State,
    publics: Annotated[
        list[Path],
        typer.Argument(
            metavar="PUBLIC_FILES",
            help="Every trustee's public file trustee-<i>.json, or a folder of them.",
        ),
    ],
    out_dir: Annotated[Path, typer.Option("--out", help="The folder to write your share files into.")],
) -> None:
    """Check every trustee's public file, then seal a share for each other trustee.

    Writes share-<you>-to-<j>.json for each other trustee j; only trustee j can
    open it. Prints the fingerprint to compare with the other trustees.
    """
    with _errors():
        dealt = ceremony.deal(state, publics, out_dir)
    out.print("[green]✓[/] every trustee's public file checks; your shares are sealed")
    for path in dealt.files:
        out.print(f"  {escape(str(path))}: for trustee {path.stem.rsplit('-', 1)[1]}")
    _print_fingerprint(dealt.fingerprint)
    out.print("Then send the share files to the organiser, who passes each to its trustee.")


@trustee_app.command("receive")
def receive(
    state: State,
    shares: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="SHARE_FILES",
            help="The share files addressed to you (share-<i>-to-<you>.json), or a folder.",
        ),
    ] = None,
    publics: Annotated[
        list[Path] | None,
        typer.Option(
            "--publics",
            metavar="PATH",
            help="The public files again, to check they are those you dealt to "
            "(a file or a folder; repeat for several). Default: the ones you dealt to.",
        ),
    ] = None,
) -> None:
    """Open and check the shares sealed to you, and keep your key share.

    A share that does not check stops the ceremony, naming its sender, and
    nothing is stored. Prints your verification key V_j and the joint key K.
    """
    with _errors():
        st = ceremony.receive(state, publics, shares or [])
    assert st.verification_key is not None and st.public_key is not None
    j = st.index
    out.print("[green]✓[/] every share checks against its sender's commitments")
    out.print(f"your verification key V_{j}: [bold]{st.verification_key.hex()}[/]")
    out.print(f"the joint public key K:      [bold]{st.public_key.hex()}[/]")
    if st.fingerprint:
        _print_fingerprint(st.fingerprint)
    out.print(f"When the organiser publishes the election, check that its V_{j} and public key are these.")


@trustee_app.command("check")
def check(
    state: State,
    record: Annotated[Path, typer.Argument(help="The election record so far (a folder or a .zip).")],
) -> None:
    """When the election opens: check that it uses your ceremony's keys.

    Checks the record up to its election entry, then that the election's
    trustees' commitments, joint key K and your V_j are your ceremony's. Run it
    before voting starts: an election under other keys must not be used.
    """
    with _errors():
        _require_share(state)
        _, params = _verified(record, "election")
        st = ceremony.check_election(state, params)
    assert st.verification_key is not None
    out.print(f"[green]✓[/] {escape(params.manifest.slug)} uses your ceremony's keys")
    out.print(f"joint key K:     {params.public_key.hex()}")
    out.print(f"{f'V_{st.index}:':<17}{st.verification_key.hex()}")


@trustee_app.command("decrypt")
def decrypt(
    state: State,
    record: Annotated[Path, typer.Argument(help="The exported election record (a folder or a .zip).")],
    out_file: Annotated[Path, typer.Option("--out", help="Where to write your partial decryption (JSON).")],
) -> None:
    """Check the election record up to its tally, then write your partial decryption.

    The file (a partial_decryption board entry, with its proofs) goes to the
    organiser, who publishes it.
    """
    with _errors():
        check_outside(out_file, state)
        _require_share(state)
        params, t = _verified_tally(record)
        pd = ceremony.decrypt(state, t, params)
        write_public(out_file, pd.to_json())
    out.print(
        f"[green]✓[/] trustee {pd.trustee}'s partial decryption of "
        f"{t.counted} counted ballots: [bold]{escape(str(out_file))}[/]"
    )
    out.print("Send it to the organiser. It reveals no ballot, only its share of the totals.")


@trustee_app.command("show")
def show(state: State) -> None:
    """Show what your state folder holds (never its secrets) and the next step."""
    with _errors():
        st = ceremony.status(state)
    m = st.manifest
    out.print(f"referendum:      [bold]{escape(m.slug)}[/]")
    out.print(f"manifest_hash:   {m.manifest_hash}")
    out.print(f"trustee:         {st.index} of {m.n} (any {m.threshold} can decrypt)")
    out.print(f"shares dealt:    {'yes' if st.fingerprint else 'not yet'}")
    if st.fingerprint:
        out.print(f"fingerprint:     {_grouped(st.fingerprint)}")
    out.print(f"shares received: {'yes' if st.received else 'not yet'}")
    if st.verification_key is not None and st.public_key is not None:
        out.print(f"{f'V_{st.index}:':<17}{st.verification_key.hex()}")
        out.print(f"joint key K:     {st.public_key.hex()}")
    if st.fingerprint is None:
        out.print("next: istifta trustee deal, once you have every trustee's public file")
    elif not st.received:
        out.print("next: istifta trustee receive, once you have the shares addressed to you")
    else:
        out.print("next: keep the state folder safe until the tally; then istifta trustee decrypt")


def _verified(path: Path, stop_after: str) -> tuple[Record, ElectionParameters]:
    """The record and its parameters, once every check up to ``stop_after`` passes."""
    record = read_record(path)
    out.print(f"checking {escape(str(path))} up to its {stop_after} (a large referendum takes a while)…")
    report = verify_record(record, stop_after=stop_after)
    if report.failure is not None:
        raise _fail(
            f"{path} does not verify, so do not go on: {report.failure.name}: {report.failure.message}"
        )
    params = report.parameters
    if params is None or report[stop_after].status != "ok":
        raise _fail(f"{path} has no {stop_after} yet")
    for check in report.checks:
        if check.ok:
            out.print(f"[green]✓[/] {escape(check.name)}: {escape(check.description)}")
    head = record.tree_head
    out.print(f"election_hash: {params.election_hash}")
    out.print(f"board key:     {record.board_key.hex()}")
    out.print(f"tree head:     {head['size']} entries, root {head['root']}, at {head['timestamp']}")
    return record, params


def _verified_tally(path: Path) -> tuple[ElectionParameters, Tally]:
    """The record's parameters and tally, once everything up to the tally verifies."""
    record, params = _verified(path, "tally")
    line = next(line for line in record.board if sniff_type(line) == "tally")
    return params, parse_tally(load_entry(line, "tally"), params)
