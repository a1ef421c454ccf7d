"""The trustees' ceremony and decryption through ``istifta trustee …``, the same steps
as docs/trustees.md: each trustee in its own state folder, the organiser relaying
files between them, then a record checked up to its tally and decrypted."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from nacl.signing import SigningKey
from typer.testing import CliRunner, Result

from istifta.cli import app
from istifta.crypto.credentials import credential_secret, new_code, public_credential
from istifta.crypto.group import Point, Scalar
from istifta.crypto.rng import SeededRandom
from istifta.crypto.threshold import TrusteeSecret
from istifta.protocol import record as r
from istifta.protocol.ballot import build_ballot
from istifta.protocol.electorate import Eligible, electorate_leaves, electorate_root
from istifta.protocol.manifest import Manifest, parse_manifest
from istifta.protocol.parameters import ElectionParameters, freeze_parameters
from istifta.protocol.tally import (
    PartialDecryption,
    Tally,
    combine,
    parse_partial_decryption,
    tally,
    verify_partial_decryption,
)
from istifta.record.io import write_record
from istifta.testing import manifest_json, sign_record, spread_times
from istifta.trustee import ceremony

OUTPUTS: list[str] = []
"""Everything the commands of the running test printed."""
ROOMS: list[Room] = []
"""The ceremonies of the running test, whose secrets must never be printed."""


@pytest.fixture(autouse=True)
def no_secret_is_printed() -> Iterator[None]:
    """After every test: nothing any command printed holds a secret of its ceremonies."""
    OUTPUTS.clear()
    ROOMS.clear()
    yield
    assert OUTPUTS
    printed = "\n".join(OUTPUTS)
    for rm in ROOMS:
        for secret in secrets_of(rm):
            assert secret not in printed


def run(*args: str | Path) -> Result:
    result = CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "80"})
    OUTPUTS.append(result.stdout + result.stderr)
    return result


def ok(*args: str | Path) -> Result:
    result = run(*args)
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result


def refused(*args: str | Path) -> str:
    """A command that must fail cleanly: exit status 2, a message, no traceback
    (``check`` and ``decrypt`` may first have printed the record's checks)."""
    result = run(*args)
    assert result.exit_code == 2, result.output + repr(result.exception)
    assert result.stdout == "" or args[1] in ("check", "decrypt")
    return " ".join(result.stderr.split())


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@dataclass
class Room:
    """The organiser's relay folder and each trustee's own machine (a state folder)."""

    root: Path
    manifest: Manifest

    @property
    def manifest_file(self) -> Path:
        return self.root / "manifest.json"

    @property
    def publics(self) -> Path:
        return self.root / "organiser" / "publics"

    def state(self, i: int) -> Path:
        return self.root / f"trustee-{i}" / "state"

    def outbox(self, i: int) -> Path:
        return self.root / f"trustee-{i}" / "outgoing"

    def inbox(self, j: int) -> Path:
        return self.root / f"trustee-{j}" / "incoming"

    @property
    def indices(self) -> range:
        return range(1, self.manifest.n + 1)

    def relay_shares(self) -> None:
        for j in self.indices:
            self.inbox(j).mkdir(parents=True, exist_ok=True)
            for i in self.indices:
                if i != j:
                    name = f"share-{i}-to-{j}.json"
                    (self.inbox(j) / name).write_bytes((self.outbox(i) / name).read_bytes())


def room(tmp_path: Path, n: int = 3, threshold: int = 2, slug: str = "test-referendum") -> Room:
    raw = manifest_json(n=n, threshold=threshold, slug=slug)
    rm = Room(tmp_path, parse_manifest(raw))
    ROOMS.append(rm)
    tmp_path.mkdir(parents=True, exist_ok=True)
    rm.manifest_file.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    rm.publics.mkdir(parents=True)
    return rm


def init_all(rm: Room) -> None:
    for i in rm.indices:
        out = ok(
            "trustee", "init", rm.manifest_file, "--index", i, "--state", rm.state(i), "--out", rm.publics
        )
        assert "send it to the organiser" in out.stdout


def deal_all(rm: Room) -> set[str]:
    fingerprints = set()
    for i in rm.indices:
        out = ok("trustee", "deal", "--state", rm.state(i), rm.publics, "--out", rm.outbox(i))
        line = next(x for x in out.stdout.splitlines() if x.startswith("fingerprint"))
        fingerprints.add(line.split(":", 1)[1].strip())
    rm.relay_shares()
    return fingerprints


def receive_all(rm: Room) -> dict[int, str]:
    """Each trustee's printed V_j."""
    printed = {}
    for j in rm.indices:
        out = ok("trustee", "receive", "--state", rm.state(j), "--publics", rm.publics, rm.inbox(j))
        line = next(x for x in out.stdout.splitlines() if x.startswith("your verification key"))
        printed[j] = line.rsplit(" ", 1)[1]
    return printed


def organiser_parameters(rm: Room, voters: int = 1, root: str = "00" * 32) -> ElectionParameters:
    publics = ceremony.load_publics([rm.publics], rm.manifest)
    return freeze_parameters(rm.manifest, publics, voters, root)


def secrets_of(rm: Room) -> list[str]:
    """Every secret in every state folder, as hex, and every share f_i(j) in clear."""
    found = []
    for i in rm.indices:
        if not (rm.state(i) / "trustee.json").exists():
            continue
        trustee = json.loads((rm.state(i) / "trustee.json").read_text())
        found += [*trustee["coefficients"], trustee["transport_secret_key"]]
        poly = TrusteeSecret(i, tuple(Scalar.from_hex(a) for a in trustee["coefficients"]))
        found += [poly.share_for(j).hex() for j in rm.indices]
        if (rm.state(i) / "share.json").exists():
            found.append(json.loads((rm.state(i) / "share.json").read_text())["s_j"])
    return found


# --- whole ceremonies ----------------------------------------------------------------------


@pytest.mark.parametrize(("n", "threshold"), [(3, 3), (3, 2)])
def test_a_whole_ceremony_through_the_commands(tmp_path: Path, n: int, threshold: int) -> None:
    rm = room(tmp_path, n, threshold)
    init_all(rm)
    assert sorted(p.name for p in rm.publics.iterdir()) == [f"trustee-{i}.json" for i in rm.indices]
    fingerprints = deal_all(rm)
    assert len(fingerprints) == 1, "every trustee must see the same fingerprint"
    printed = receive_all(rm)
    params = organiser_parameters(rm)
    for j in rm.indices:
        assert printed[j] == params.verification_key(j).hex()
        shown = ok("trustee", "show", "--state", rm.state(j)).stdout
        assert params.verification_key(j).hex() in shown
        assert params.public_key.hex() in shown
        assert f"{j} of {n} (any {threshold} can decrypt)" in shown
        share = json.loads((rm.state(j) / "share.json").read_text())
        assert Point.base_mul(Scalar.from_hex(share["s_j"])) == params.verification_key(j)
    for i in rm.indices:
        assert stat.S_IMODE(os.stat(rm.state(i)).st_mode) == 0o700
        for p in rm.state(i).iterdir():
            assert stat.S_IMODE(os.stat(p).st_mode) == 0o600, p


def test_show_says_what_comes_next(tmp_path: Path) -> None:
    rm = room(tmp_path)
    init_all(rm)
    assert "next: istifta trustee deal" in ok("trustee", "show", "--state", rm.state(1)).stdout
    deal_all(rm)
    shown = ok("trustee", "show", "--state", rm.state(1)).stdout
    assert "shares received: not yet" in shown and "next: istifta trustee receive" in shown
    receive_all(rm)
    assert "istifta trustee decrypt" in ok("trustee", "show", "--state", rm.state(1)).stdout


# --- refusals: exit status 2, nothing changed ----------------------------------------------


def test_a_tampered_share_is_refused_naming_its_sender(tmp_path: Path) -> None:
    rm = room(tmp_path)
    init_all(rm)
    deal_all(rm)
    path = rm.inbox(2) / "share-3-to-2.json"
    raw = json.loads(path.read_text())
    sealed = bytearray.fromhex(raw["sealed"])
    sealed[-1] ^= 0x80
    raw["sealed"] = sealed.hex()
    path.write_text(json.dumps(raw))
    before = snapshot(rm.state(2))
    message = refused("trustee", "receive", "--state", rm.state(2), rm.inbox(2))
    assert "the share from trustee 3" in message and "Stop the ceremony" in message
    assert snapshot(rm.state(2)) == before
    assert "shares received: not yet" in ok("trustee", "show", "--state", rm.state(2)).stdout


def test_a_share_for_another_trustee_is_refused(tmp_path: Path) -> None:
    rm = room(tmp_path)
    init_all(rm)
    deal_all(rm)
    before = snapshot(rm.state(2))
    message = refused("trustee", "receive", "--state", rm.state(2), rm.outbox(1) / "share-1-to-3.json")
    assert "addressed to trustee 3, not to you (trustee 2)" in message
    assert snapshot(rm.state(2)) == before


def test_a_public_file_from_another_referendum_is_refused(tmp_path: Path) -> None:
    rm = room(tmp_path)
    other = room(tmp_path / "other", slug="another-referendum")
    init_all(rm)
    ok(
        "trustee",
        "init",
        other.manifest_file,
        "--index",
        3,
        "--state",
        other.state(3),
        "--out",
        other.publics,
    )
    (rm.publics / "trustee-3.json").unlink()
    before = snapshot(rm.state(1))
    stranger = other.publics / "trustee-3.json"
    message = refused("trustee", "deal", "--state", rm.state(1), rm.publics, stranger, "--out", rm.outbox(1))
    assert "is from another referendum" in message
    assert snapshot(rm.state(1)) == before
    assert not rm.outbox(1).exists()


def test_a_second_init_into_the_same_state_is_refused(tmp_path: Path) -> None:
    rm = room(tmp_path)
    init_all(rm)
    before = snapshot(rm.state(1))
    public = (rm.publics / "trustee-1.json").read_bytes()
    args = ("trustee", "init", rm.manifest_file, "--index", 1, "--state", rm.state(1), "--out", rm.publics)
    assert "not empty" in refused(*args)
    assert snapshot(rm.state(1)) == before
    assert (rm.publics / "trustee-1.json").read_bytes() == public


def test_init_refuses_a_missing_or_malformed_manifest_and_a_bad_index(tmp_path: Path) -> None:
    rm = room(tmp_path)
    state = tmp_path / "state"
    assert "no such file" in refused(
        "trustee", "init", tmp_path / "nowhere.json", "--index", 1, "--state", state
    )
    broken = tmp_path / "broken.json"
    raw = manifest_json()
    raw["trustees"]["threshold"] = 0
    broken.write_text(json.dumps(raw))
    message = refused("trustee", "init", broken, "--index", 1, "--state", state)
    assert "broken.json: manifest field trustees.threshold" in message
    assert "trustees 1 to 3" in refused("trustee", "init", rm.manifest_file, "--index", 4, "--state", state)
    assert not state.exists()


def test_missing_files_and_folders_are_named(tmp_path: Path) -> None:
    rm = room(tmp_path)
    init_all(rm)
    nowhere = tmp_path / "nowhere"
    assert "holds no trustee state" in refused("trustee", "show", "--state", nowhere)
    message = refused("trustee", "deal", "--state", rm.state(1), nowhere, "--out", rm.outbox(1))
    assert "nowhere: no such file or folder" in message
    message = refused("trustee", "receive", "--state", rm.state(1), rm.inbox(1))
    assert "deal your own shares first" in message
    deal_all(rm)
    (rm.inbox(1) / "share-2-to-1.json").unlink()
    assert "no share from trustee 2" in refused("trustee", "receive", "--state", rm.state(1), rm.inbox(1))


# --- decryption of an exported record ------------------------------------------------------


def ceremony_done(tmp_path: Path) -> Room:
    rm = room(tmp_path)
    init_all(rm)
    deal_all(rm)
    receive_all(rm)
    return rm


def record_to_tally(rm: Room, votes: list[int], folder: Path) -> tuple[ElectionParameters, Tally]:
    """An exported record up to the tally, over the ceremony's parameters."""
    rng = SeededRandom("trustee cli record")
    mh = bytes.fromhex(rm.manifest.manifest_hash)
    codes = [new_code(rng) for _ in votes]
    leaves = electorate_leaves(Eligible(public_credential(credential_secret(mh, c)), None) for c in codes)
    params = organiser_parameters(rm, len(leaves), electorate_root(leaves))
    ballots = [build_ballot(params, code, [[v]], rng) for code, v in zip(codes, votes, strict=True)]
    m = params.manifest
    times = spread_times(m.opens_at, m.closes_at, len(ballots))
    t = tally(params, ballots)
    entries = [r.election_entry(params)]
    entries += [r.ballot_entry(b, at) for b, at in zip(ballots, times, strict=True)]
    entries += [r.close_entry(m.closes_at), r.tally_entry(t)]
    board = [r.entry_bytes(e) for e in entries]
    write_record(folder, sign_record(board, leaves, SigningKey(bytes(32))))
    return params, t


def test_two_trustees_decrypt_an_exported_record(tmp_path: Path) -> None:
    rm = ceremony_done(tmp_path / "ceremony")
    record = tmp_path / "record"
    params, t = record_to_tally(rm, [0, 1, 0, 0], record)
    partials: list[PartialDecryption] = []
    for j in (2, 3):
        out_file = tmp_path / f"partial-{j}.json"
        shown = ok("trustee", "decrypt", "--state", rm.state(j), record, "--out", out_file).stdout
        assert "✓ tally" in shown and params.election_hash in shown
        pd = parse_partial_decryption(json.loads(out_file.read_text()), t)
        verify_partial_decryption(params, t, pd)
        assert pd.trustee == j
        partials.append(pd)
    assert combine(params, t, partials) == [[3, 1]]


def test_decrypt_refuses_a_record_that_does_not_verify(tmp_path: Path) -> None:
    rm = ceremony_done(tmp_path / "ceremony")
    record = tmp_path / "record"
    record_to_tally(rm, [0, 1], record)
    board = (record / "board.jsonl").read_bytes().splitlines(keepends=True)
    (record / "board.jsonl").write_bytes(b"".join(board[:-1]))  # the tally is gone
    out_file = tmp_path / "partial.json"
    message = refused("trustee", "decrypt", "--state", rm.state(1), record, "--out", out_file)
    assert "does not verify, so do not go on" in message
    assert not out_file.exists()
    assert "the record has no board.jsonl" in refused(
        "trustee", "decrypt", "--state", rm.state(1), tmp_path, "--out", out_file
    )


def test_check_confirms_the_election_uses_the_ceremonys_keys(tmp_path: Path) -> None:
    rm = ceremony_done(tmp_path / "ceremony")
    record = tmp_path / "record"
    params, _ = record_to_tally(rm, [0], record)
    shown = ok("trustee", "check", "--state", rm.state(2), record).stdout
    assert "✓ test-referendum uses your ceremony's keys" in shown
    assert f"joint key K:     {params.public_key.hex()}" in shown
    assert f"V_2:             {params.verification_key(2).hex()}" in shown
    other = ceremony_done(tmp_path / "other")
    elsewhere = tmp_path / "elsewhere"
    record_to_tally(other, [0], elsewhere)
    assert "its joint key is not the one the trustees made" in refused(
        "trustee", "check", "--state", rm.state(2), elsewhere
    )


def test_decrypt_refuses_another_ceremonys_record(tmp_path: Path) -> None:
    rm = ceremony_done(tmp_path / "ceremony")
    other = ceremony_done(tmp_path / "other")
    record = tmp_path / "record"
    record_to_tally(other, [0], record)
    out_file = tmp_path / "partial.json"
    message = refused("trustee", "decrypt", "--state", rm.state(1), record, "--out", out_file)
    assert "commitments are not your ceremony's" in message
    assert not out_file.exists()


def test_secrets_are_looked_for_in_what_was_printed(tmp_path: Path) -> None:
    """The autouse check above has teeth: a state's secrets are found where they are."""
    rm = ceremony_done(tmp_path)
    secrets = secrets_of(rm)
    assert len(secrets) == 3 * (2 + 1 + 3 + 1)
    assert all(secret in (rm.state(1) / "trustee.json").read_text() for secret in secrets[:3])
