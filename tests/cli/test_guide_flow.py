"""The steps of the guides, command by command: trustees' ceremony on their own
folders, the organiser's commands, ballots, decryption, publication, and an
observer's `istifta verify` of the exported record."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from istifta.cli import app
from istifta.protocol.ballot import build_ballot
from istifta.protocol.parameters import parse_parameters
from istifta.testing import manifest_json


def _run(*args: str | Path) -> str:
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, f"istifta {' '.join(map(str, args))}: {result.output}"
    return result.output


def test_the_guides_steps_from_ceremony_to_verified_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    manifest = manifest_json(slug="guide")
    manifest["opens_at"], manifest["closes_at"] = "2024-01-01T00:00:00Z", "2099-01-01T00:00:00Z"
    Path("m.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    Path("pub").mkdir()
    Path("shares").mkdir()
    data = ("--data-dir", "data")

    for i in (1, 2, 3):  # each trustee, on their own machine
        _run("trustee", "init", "m.json", "--index", i, "--state", f"t{i}", "--out", f"pub/trustee-{i}.json")
    for i in (1, 2, 3):
        _run("trustee", "deal", "--state", f"t{i}", "pub", "--out", "shares")
    for i in (1, 2, 3):
        _run("trustee", "receive", "--state", f"t{i}", "shares")

    _run("election", "create", "m.json", *data)
    _run("election", "add-trustee", "guide", *sorted(Path("pub").glob("*.json")), *data)
    Path("voters.csv").write_text(  # the registrar's file: Arabic headers, local number formats
        "رقم الهاتف,المحافظة,اللغة\n"
        + "".join(
            f"0770 123 45{n:02d},{'أربيل' if n % 2 else 'دهوك'},{'كوردی' if n % 3 else 'عربي'}\n"
            for n in range(6)
        ),
        encoding="utf-8",
    )
    _run("electorate", "import", "guide", "voters.csv", "--dry-run", *data)
    _run("electorate", "import", "guide", "voters.csv", *data)
    _run("election", "open", "guide", *data)
    _run("election", "export", "guide", "opened", *data)
    for i in (1, 2, 3):
        _run("trustee", "check", "--state", f"t{i}", "opened")

    monkeypatch.setenv("ISTIFTA_SMS_LINK_BASE", "https://ist.iq")
    assert "1 " in _run("sms", "estimate", "guide", *data)
    assert "queued 6 invitations" in _run("sms", "invite", "guide", *data)
    assert "sent 6" in _run("sms", "send", "guide", *data)
    outbox = _run("sms", "outbox", *data)
    codes = [line.rsplit("#", 1)[1] for line in outbox.splitlines() if "https://ist.iq/guide#" in line]
    assert len(codes) == 6

    params = parse_parameters(
        json.loads(Path("opened/board.jsonl").read_text().splitlines()[0])["parameters"]
    )
    for n, choice in enumerate([0, 1, 1, 0, 1]):
        Path(f"b{n}.json").write_text(
            json.dumps(build_ballot(params, codes[n], [[choice]], os.urandom).to_json())
        )
        receipt = json.loads(_run("election", "cast", "guide", f"b{n}.json", *data))
        assert receipt["index"] == n + 1
    assert "queued reminder round 1: 1 voters" in _run("sms", "remind", "guide", *data)
    _run("election", "close", "guide", *data)
    _run("election", "tally", "guide", *data)
    _run("election", "export", "guide", "tallied", *data)
    for i in (2, 3):  # trustee 1 is away: any two of three suffice
        _run("trustee", "decrypt", "--state", f"t{i}", "tallied", "--out", f"pd{i}.json")
    _run("election", "add-decryption", "guide", "pd2.json", "pd3.json", *data)
    published = _run("election", "publish", "guide", *data)
    assert "yes: 2" in published and "no: 3" in published and "5 of 6 voted" in published
    _run("election", "export", "guide", "record.zip", *data)

    report = json.loads(_run("verify", "record.zip", "--json"))
    assert report["ok"] is True
