"""The organiser's commands, ``istifta election …`` and ``istifta electorate …``,
on each store: a whole referendum through them, and bad input to every one.

A refusal is a message on stderr that says what was wrong, exit status 2, no
traceback, nothing on stdout, and nothing changed: every refusal below is
checked against a snapshot of the store taken before it.
"""

from __future__ import annotations

import csv
import json
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from nacl.public import PrivateKey
from sqlalchemy import func, inspect, select
from typer.testing import CliRunner, Result

from istifta.board.merkle import leaf_hash, verify_inclusion
from istifta.cli import app
from istifta.cli.election import election_app, electorate_app
from istifta.crypto.credentials import credential_secret, public_credential
from istifta.crypto.group import Scalar
from istifta.crypto.rng import SeededRandom
from istifta.crypto.threshold import combine_shares, generate_trustee
from istifta.protocol.ballot import build_ballot, parse_ballot
from istifta.protocol.parameters import ElectionParameters
from istifta.protocol.tally import Tally, partial_decrypt
from istifta.store.db import Store
from istifta.store.models import BoardEntry, Election, TreeHeadRow, TrusteeRow, Voter
from istifta.store.referendums import Referendums
from istifta.testing import make_election, manifest_json
from istifta.trustee.files import TrusteeFile

SLUG = "test-referendum"
UNKNOWN = "no-such-referendum"
ALL_COMMANDS = (
    "create",
    "add-trustee",
    "open",
    "cast",
    "close",
    "tally",
    "add-decryption",
    "publish",
    "export",
    "status",
)


def open_now(raw: dict[str, Any]) -> dict[str, Any]:
    """The commands use the real clock: a schedule that is open today."""
    return {**raw, "opens_at": "2020-01-01T00:00:00Z", "closes_at": "2099-12-31T00:00:00Z"}


def flat(text: str) -> str:
    """The text with every run of whitespace as one space (messages may wrap)."""
    return " ".join(text.split())


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return result.stdout


def assert_refused(result: Result, says: Sequence[str]) -> str:
    """Exit 2 with ``error: …`` naming each of ``says`` on stderr; no traceback, nothing on stdout."""
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    assert result.stdout == ""
    message = flat(result.stderr)
    assert message.startswith("error: "), message
    for fragment in says:
        assert fragment in message, message
    return message


class Organiser:
    """One data directory and store; runs the commands and writes the files they read."""

    def __init__(self, tmp: Path, url: str | None) -> None:
        self.tmp = tmp
        self.data_dir = tmp / "data"
        self.url = url
        self.rng = SeededRandom("election cli")
        self.shares: dict[int, Scalar] = {}
        self.codes: list[str] = []

    # --- running ---

    def run(self, *args: str) -> Result:
        where = ["--data-dir", str(self.data_dir)] + (["--database", self.url] if self.url else [])
        env = {"COLUMNS": "80", "ISTIFTA_DATA_DIR": None, "ISTIFTA_DATABASE_URL": None}
        return CliRunner().invoke(app, [*args, *where], env=env)

    def refuse(self, *args: str, says: Sequence[str]) -> str:
        """Run a command that must be refused, and check that it changed nothing."""
        before = self.snapshot()
        message = assert_refused(self.run(*args), says)
        assert self.snapshot() == before, f"{args} changed the store"
        return message

    def snapshot(self) -> dict[str, tuple[Any, ...]]:
        """Every referendum's state, parameters, board and what it holds."""
        if self.url is None and not (self.data_dir / "istifta.db").exists():
            return {}
        store = Store(self.url or f"sqlite:///{self.data_dir / 'istifta.db'}")
        try:
            if not inspect(store.engine).has_table("elections"):
                return {}
            with store.session() as s:
                found = {}
                for e in s.execute(select(Election)).scalars():
                    counts = tuple(
                        s.execute(
                            select(func.count()).select_from(t).where(t.election_id == e.id)
                        ).scalar_one()
                        for t in (TrusteeRow, Voter, BoardEntry, TreeHeadRow)
                    )
                    head = s.execute(
                        select(TreeHeadRow.size, TreeHeadRow.root)
                        .where(TreeHeadRow.election_id == e.id)
                        .order_by(TreeHeadRow.size.desc())
                        .limit(1)
                    ).first()
                    found[e.slug] = (e.state, e.board_size, e.parameters, counts, tuple(head or ()))
                return found
        finally:
            store.close()

    def library(self) -> Referendums:
        return Referendums.open(self.data_dir, self.url)

    def params(self) -> ElectionParameters:
        r = self.library()
        try:
            return r.parameters(SLUG)
        finally:
            r.close_store()

    def published_tally(self) -> Tally:
        r = self.library()
        try:
            return r.published_tally(SLUG)
        finally:
            r.close_store()

    # --- files ---

    def write(self, name: str, raw: Any) -> Path:
        path = self.tmp / name
        path.write_text(json.dumps(raw, ensure_ascii=False, indent=2), encoding="utf-8")
        return path

    def write_bytes(self, name: str, data: bytes) -> Path:
        path = self.tmp / name
        path.write_bytes(data)
        return path

    def manifest(self, **changes: Any) -> dict[str, Any]:
        return {**open_now(manifest_json()), **changes}

    def trustee_files(self, manifest_hash: str | None = None) -> list[Path]:
        """Each trustee's public file for the manifest (ours unless ``manifest_hash``);
        keeps each trustee's combined share ``s_j``."""
        mh = manifest_hash or self.manifest_hash()
        generated = [generate_trustee(i, 2, bytes.fromhex(mh), self.rng) for i in (1, 2, 3)]
        if manifest_hash is None:
            self.shares = {j: combine_shares(s.share_for(j) for s, _ in generated) for j in (1, 2, 3)}
        return [
            self.write(
                f"trustee-{p.index}-{mh[:8]}.json",
                TrusteeFile(mh, p, PrivateKey.generate().public_key).to_json(),
            )
            for _, p in generated
        ]

    def manifest_hash(self) -> str:
        r = self.library()
        try:
            return r.manifest(SLUG).manifest_hash
        finally:
            r.close_store()

    def ballot(self, voter: int, choice: int, params: ElectionParameters | None = None) -> Path:
        b = build_ballot(params or self.params(), self.codes[voter], [[choice]], self.rng)
        return self.write(f"ballot-{voter}-{choice}.json", b.to_json())

    def decryption(self, j: int, share: Scalar | None = None) -> Path:
        pd = partial_decrypt(self.params(), self.published_tally(), j, share or self.shares[j], self.rng)
        return self.write(f"decryption-{j}.json", pd.to_json())

    # --- the steps, each expected to succeed ---

    def create(self) -> None:
        ok(self.run("election", "create", str(self.write("manifest.json", self.manifest()))))

    def add_trustees(self) -> None:
        ok(self.run("election", "add-trustee", SLUG, *map(str, self.trustee_files())))

    def generate(self, count: int = 4) -> Path:
        codes = self.tmp / "codes.csv"
        ok(self.run("electorate", "generate", SLUG, "--count", str(count), "--codes", str(codes)))
        with codes.open(encoding="utf-8", newline="") as f:
            self.codes = [row["code"] for row in csv.DictReader(f)]
        return codes

    def open(self) -> None:
        self.create()
        self.add_trustees()
        self.generate()
        ok(self.run("election", "open", SLUG))

    def cast(self, voter: int, choice: int) -> dict[str, Any]:
        receipt: dict[str, Any] = json.loads(
            ok(self.run("election", "cast", SLUG, str(self.ballot(voter, choice))))
        )
        return receipt


@pytest.fixture
def org(tmp_path: Path, store_url: str | None) -> Organiser:
    return Organiser(tmp_path, store_url)


def test_a_referendum_through_the_commands(org: Organiser) -> None:
    manifest = org.write("manifest.json", org.manifest())
    assert "created test-referendum (manifest_hash " in ok(org.run("election", "create", str(manifest)))
    assert ok(org.run("election", "status", SLUG)).strip() == "test-referendum: draft"

    added = ok(org.run("election", "add-trustee", SLUG, *map(str, org.trustee_files())))
    assert [f"trustee {i} of {SLUG}: keys checked and kept" in added for i in (1, 2, 3)] == [True] * 3

    codes = org.tmp / "codes.csv"
    made = ok(
        org.run(
            "electorate",
            "generate",
            SLUG,
            "--count",
            "6",
            "--codes",
            str(codes),
            "--regions",
            "Baghdad, Basra",
        )
    )
    assert "6 voters added to test-referendum" in made
    assert stat.S_IMODE(codes.stat().st_mode) == 0o600
    with codes.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["region"] for r in rows] == ["Baghdad", "Basra"] * 3
    org.codes = [r["code"] for r in rows]
    written = codes.read_bytes()
    org.refuse(
        "electorate", "generate", SLUG, "--count", "2", "--codes", str(codes), says=["never overwritten"]
    )
    assert codes.read_bytes() == written

    opened = flat(ok(org.run("election", "open", SLUG)))
    assert "test-referendum is open: election_hash " in opened and "6 voters" in opened

    choices = [0, 1, 0, 0, 1]  # voters 0-4; voter 5 abstains
    receipts = [org.cast(v, c) for v, c in enumerate(choices)]
    assert [x["index"] for x in receipts] == [1, 2, 3, 4, 5]
    again = org.ballot(0, 0)
    first = json.loads(ok(org.run("election", "cast", SLUG, str(again))))
    assert json.loads(ok(org.run("election", "cast", SLUG, str(again))))["index"] == first["index"] == 6
    check_receipt(org, first)

    assert "closed at board entry 7" in ok(org.run("election", "close", SLUG))
    assert "5 ballots counted" in flat(ok(org.run("election", "tally", SLUG)))
    decrypted = ok(
        org.run("election", "add-decryption", SLUG, str(org.decryption(1)), str(org.decryption(3)))
    )
    assert "published at board entry 9" in decrypted and "published at board entry 10" in decrypted
    published = flat(ok(org.run("election", "publish", SLUG)))
    assert "question 0: Question?" in published
    assert "yes: 3 no: 2" in published  # voter 0 sent the same ballot twice: it counts once
    assert "test-referendum published: 5 of 6 voted" in published

    status = ok(org.run("election", "status", SLUG)).splitlines()
    assert status[0] == "test-referendum: published"
    assert status[1].startswith("board: 12 entries, root ")
    exported = ok(org.run("election", "export", SLUG, str(org.tmp / "record")))
    assert "12 board entries" in flat(exported)


def check_receipt(org: Organiser, receipt: dict[str, Any]) -> None:
    """The printed receipt's proof places the entry on the board under its tree head."""
    store = Store(org.url or f"sqlite:///{org.data_dir / 'istifta.db'}")
    try:
        with store.session() as s:
            data = s.execute(select(BoardEntry.data).where(BoardEntry.index == receipt["index"])).scalar_one()
    finally:
        store.close()
    head = receipt["tree_head"]
    proof = [bytes.fromhex(p) for p in receipt["inclusion_proof"]]
    assert verify_inclusion(
        leaf_hash(data), receipt["index"], head["size"], proof, bytes.fromhex(head["root"])
    )
    assert receipt["tracker"] == parse_ballot(json.loads(data)["ballot"]).tracker


# --- files that cannot be read -------------------------------------------------------------


def test_missing_unreadable_and_non_json_files(org: Organiser) -> None:
    org.create()
    missing = str(org.tmp / "missing.json")
    latin1 = str(org.write_bytes("latin1.json", '{"slug": "façade"}'.encode("latin-1")))
    not_json = str(org.write_bytes("not.json", b"{'slug': 1,}"))
    folder = str(org.tmp)
    for command in (
        ("election", "create"),
        ("election", "add-trustee", SLUG),
        ("election", "cast", SLUG),
        ("election", "add-decryption", SLUG),
    ):
        org.refuse(*command, missing, says=[f"{missing}: no such file"])
        org.refuse(*command, folder, says=[f"{folder} is a folder, not a file"])
        org.refuse(*command, latin1, says=[f"{latin1}: not UTF-8 text"])
        org.refuse(*command, not_json, says=[f"{not_json}: not JSON (line 1, column 2"])
    org.refuse(
        "electorate", "import", SLUG, missing, says=[f"cannot read {missing}: No such file or directory"]
    )
    latin1_csv = str(org.write_bytes("latin1.csv", b"credential,region\n" + b"00,Mosul\xe9\n"))
    org.refuse("electorate", "import", SLUG, latin1_csv, says=[f"{latin1_csv}: not UTF-8 text"])


def test_a_malformed_manifest_names_the_field(org: Organiser) -> None:
    base = org.manifest()
    cases: list[tuple[Any, str]] = [
        ([base], "manifest: expected an object, got a list"),
        ({k: v for k, v in base.items() if k != "questions"}, "manifest field questions: missing"),
        ({**base, "slug": "Not A Slug"}, "manifest field slug: expected 1-64 lowercase letters"),
        (
            {**base, "trustees": {"n": 3, "threshold": 4}},
            "manifest field trustees.threshold: expected a number",
        ),
        (
            {**base, "closes_at": "2019-01-01T00:00:00Z"},
            "manifest field closes_at: the referendum must close",
        ),
        ({**base, "opens_at": "tomorrow"}, "manifest field opens_at"),
        ({**base, "extra": 1}, "manifest field extra: unexpected key"),
    ]
    for k, (raw, says) in enumerate(cases):
        org.refuse("election", "create", str(org.write(f"bad-{k}.json", raw)), says=[says])
    assert org.snapshot() == {}
    org.create()
    org.refuse(
        "election", "create", str(org.write("again.json", base)), says=["'test-referendum' already exists"]
    )
    changed = org.manifest(title={"ar": "آخر", "ckb": "تر", "en": "Another"})
    org.refuse("election", "create", str(org.write("changed.json", changed)), says=["already exists"])


def test_these_tests_cover_every_command() -> None:
    assert {c.name for c in election_app.registered_commands} == set(ALL_COMMANDS)
    assert {c.name for c in electorate_app.registered_commands} == {"import", "generate"}


# --- an unknown referendum -----------------------------------------------------------------


def test_every_command_refuses_an_unknown_referendum(org: Organiser) -> None:
    org.open()
    anything = str(org.write("anything.json", {}))
    says = [f"no referendum is called '{UNKNOWN}'"]
    for command in ALL_COMMANDS[1:]:
        extra = {"add-trustee": [anything], "cast": [anything], "add-decryption": [anything]}.get(command, [])
        if command == "export":
            extra = [str(org.tmp / "record")]
        org.refuse("election", command, UNKNOWN, *extra, says=says)
    assert not (org.tmp / "record").exists()
    csv_path = org.tmp / "electorate.csv"
    csv_path.write_text("credential,region\n", encoding="utf-8")
    org.refuse("electorate", "import", UNKNOWN, str(csv_path), says=says)
    codes = org.tmp / "new-codes.csv"
    org.refuse("electorate", "generate", UNKNOWN, "--count", "2", "--codes", str(codes), says=says)
    assert not codes.exists()


# --- before opening ------------------------------------------------------------------------


def test_refusals_before_the_referendum_opens(org: Organiser) -> None:
    org.create()
    org.refuse(
        "election", "open", SLUG, says=["cannot open: trustees [1, 2, 3] have not published their keys"]
    )
    org.refuse("election", "close", SLUG, says=[f"{SLUG} is not open yet"])
    org.refuse("election", "tally", SLUG, says=[f"{SLUG} is not open yet"])
    org.refuse("election", "publish", SLUG, says=[f"{SLUG} is not open yet"])
    org.refuse("election", "export", SLUG, str(org.tmp / "record"), says=[f"{SLUG} is not open yet"])
    org.refuse("election", "add-decryption", SLUG, str(org.write("d.json", {})), says=["not open yet"])

    manifest = str(org.tmp / "manifest.json")
    org.refuse("election", "add-trustee", SLUG, manifest, says=[f"{manifest}.commitments: missing"])
    other = manifest_json(slug="other")
    ok(org.run("election", "create", str(org.write("other.json", open_now(other)))))
    r = org.library()
    other_hash = r.manifest("other").manifest_hash
    r.close_store()
    foreign = str(org.trustee_files(other_hash)[0])
    org.refuse("election", "add-trustee", SLUG, foreign, says=[f"{foreign} is for another manifest"])
    files = org.trustee_files()
    forged = json.loads(files[1].read_text(encoding="utf-8"))
    forged["pok"]["z"] = forged["pok"]["c"]
    forged_path = str(org.write("forged.json", forged))
    org.refuse("election", "add-trustee", SLUG, forged_path, says=["trustee 2"])
    ok(org.run("election", "add-trustee", SLUG, *map(str, files)))

    org.refuse("election", "open", SLUG, says=["cannot open: its electorate is empty"])
    cast_file = str(org.write("ballot.json", {"election_hash": "00" * 32}))
    org.refuse("election", "cast", SLUG, cast_file, says=[f"{SLUG} is not open yet"])


def test_electorate_import_names_the_bad_line(org: Organiser) -> None:
    org.create()
    mh = bytes.fromhex(org.manifest_hash())
    good = [public_credential(credential_secret(mh, "0" * 25 + str(k))).hex() for k in range(4)]

    def csv_file(name: str, text: str) -> str:
        path = org.tmp / name
        path.write_text(text, encoding="utf-8")
        return str(path)

    header = "credential,region\n"
    bad_hex = csv_file("hex.csv", f"{header}{good[0]},Basra\n{good[1]},Basra\nnot-hex,Basra\n")
    org.refuse("electorate", "import", SLUG, bad_hex, says=[f"{bad_hex}, line 4", "credential"])
    identity = csv_file("identity.csv", f"{header}{good[0]},Basra\n{'00' * 32},Erbil\n")
    org.refuse("electorate", "import", SLUG, identity, says=[f"{identity}, line 3", "identity"])
    long_region = csv_file("region.csv", f"{header}{good[0]},Basra\n{good[1]},{'x' * 65}\n")
    org.refuse("electorate", "import", SLUG, long_region, says=[f"{long_region}, line 3", "region"])
    no_header = csv_file("no-header.csv", f"{good[0]},Basra\n")
    org.refuse("electorate", "import", SLUG, no_header, says=["the first line must name the columns"])
    empty = csv_file("empty.csv", "")
    org.refuse("electorate", "import", SLUG, empty, says=["the first line must name the columns"])
    twice = csv_file("twice.csv", f"{header}{good[0]},Basra\n{good[0]},Erbil\n")
    org.refuse("electorate", "import", SLUG, twice, says=["appears twice"])

    fine = csv_file("fine.csv", f"{header}{good[0]},Basra\n{good[1]},\n")
    assert "2 voters added" in ok(org.run("electorate", "import", SLUG, fine))
    clash = csv_file("clash.csv", f"{header}{good[2]},Basra\n{good[1]},Erbil\n")
    org.refuse(
        "electorate", "import", SLUG, clash, says=[f"credential {good[1]} is already in the electorate"]
    )
    assert org.snapshot()[SLUG][3][1] == 2


# --- while open ----------------------------------------------------------------------------


def test_refusals_while_the_referendum_is_open(org: Organiser) -> None:
    org.open()
    org.refuse("election", "open", SLUG, says=[f"{SLUG} is open"])
    files = sorted(org.tmp.glob("trustee-1-*.json"))
    org.refuse(
        "election", "add-trustee", SLUG, str(files[0]), says=[f"{SLUG} is open: this is done before it opens"]
    )
    fine = org.tmp / "late.csv"
    fine.write_text("credential,region\n", encoding="utf-8")
    org.refuse("electorate", "import", SLUG, str(fine), says=["before it opens"])
    codes = org.tmp / "late-codes.csv"
    org.refuse(
        "electorate", "generate", SLUG, "--count", "1", "--codes", str(codes), says=["before it opens"]
    )
    assert not codes.exists()

    ballot = json.loads(org.ballot(0, 1).read_text(encoding="utf-8"))
    org.refuse(
        "election", "cast", SLUG, str(org.write("list.json", [ballot])), says=["ballot: expected an object"]
    )
    bad_credential = {**ballot, "credential": "zz" * 32}
    org.refuse("election", "cast", SLUG, str(org.write("c.json", bad_credential)), says=["ballot.credential"])
    no_signature = {k: v for k, v in ballot.items() if k != "signature"}
    org.refuse(
        "election", "cast", SLUG, str(org.write("s.json", no_signature)), says=["ballot.signature: missing"]
    )
    forged = {**ballot, "signature": {**ballot["signature"], "z": ballot["signature"]["c"]}}
    org.refuse(
        "election", "cast", SLUG, str(org.write("f.json", forged)), says=["ballot rejected: signature"]
    )
    other = make_election(SeededRandom("another election"), open_now(manifest_json()), voters=1)
    elsewhere = build_ballot(other.params, other.codes[0], [[0]], org.rng).to_json()
    org.refuse(
        "election",
        "cast",
        SLUG,
        str(org.write("elsewhere.json", elsewhere)),
        says=["made for another election"],
    )
    stranger = build_ballot(org.params(), other.codes[0], [[0]], org.rng).to_json()
    org.refuse(
        "election", "cast", SLUG, str(org.write("stranger.json", stranger)), says=["not in the electorate"]
    )

    org.refuse("election", "tally", SLUG, says=[f"{SLUG} is open: the tally comes after close"])
    org.refuse(
        "election", "add-decryption", SLUG, str(org.write("d.json", {})), says=[f"{SLUG} has no tally yet"]
    )
    org.refuse("election", "publish", SLUG, says=[f"{SLUG} has no tally yet"])
    assert org.snapshot()[SLUG][1] == 1  # the board holds only the election entry


# --- after closing -------------------------------------------------------------------------


def test_refusals_after_the_referendum_closes(org: Organiser) -> None:
    org.open()
    org.cast(0, 0)
    org.cast(1, 1)
    late = str(org.ballot(2, 0))
    ok(org.run("election", "close", SLUG))
    org.refuse("election", "close", SLUG, says=[f"{SLUG} is closed, not open"])
    org.refuse("election", "cast", SLUG, late, says=[f"{SLUG} is closed: it takes no more ballots"])
    org.refuse("election", "publish", SLUG, says=[f"{SLUG} has no tally yet"])
    ok(org.run("election", "tally", SLUG))
    org.refuse("election", "tally", SLUG, says=[f"{SLUG} is tallied: the tally comes after close"])
    org.refuse("election", "close", SLUG, says=[f"{SLUG} is tallied, not open"])

    wrong_share = str(org.decryption(1, org.shares[2]))
    org.refuse(
        "election",
        "add-decryption",
        SLUG,
        wrong_share,
        says=["trustee 1's decryption share", "does not verify"],
    )
    ballot = str(org.ballot(3, 0))
    org.refuse("election", "add-decryption", SLUG, ballot, says=["partial_decryption."])
    nobody = json.loads(org.decryption(2).read_text(encoding="utf-8")) | {"trustee": 9}
    org.refuse("election", "add-decryption", SLUG, str(org.write("nine.json", nobody)), says=["no trustee 9"])
    tally_file = str(org.write("tally.json", {"type": "tally", "ciphertexts": [], "counted": 0}))
    org.refuse("election", "add-decryption", SLUG, tally_file, says=["partial_decryption."])

    org.refuse("election", "publish", SLUG, says=["0 trustees decrypted; at least 2 are needed"])
    first = str(org.decryption(1))
    ok(org.run("election", "add-decryption", SLUG, first))
    org.refuse("election", "add-decryption", SLUG, first, says=["trustee 1 has already decrypted"])
    org.refuse("election", "publish", SLUG, says=["1 trustees decrypted; at least 2 are needed"])

    ok(org.run("election", "add-decryption", SLUG, str(org.decryption(2))))
    assert "published: 2 of 4 voted" in flat(ok(org.run("election", "publish", SLUG)))
    org.refuse("election", "publish", SLUG, says=[f"{SLUG} is published: the result follows the tally"])
    org.refuse(
        "election", "add-decryption", SLUG, str(org.decryption(3)), says=["decryptions come after the tally"]
    )
