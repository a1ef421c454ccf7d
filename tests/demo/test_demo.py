"""``istifta demo``: from nothing to a verified record, with simulated voters
casting through the real HTTP API (bad ballots among them, refused)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from typer.testing import CliRunner

from istifta.cli import app
from istifta.record.io import read_record
from istifta.sms.gateways.outbox import read_outbox


def test_the_demo_simulates_a_vote_and_its_record_verifies(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    result = CliRunner().invoke(
        app, ["demo", "--data-dir", str(folder), "--voters", "60", "--simulate", "40", "--no-serve"]
    )
    assert result.exit_code == 0, result.output
    shown = result.output
    assert "40 voters cast 42 ballots through the API" in shown  # two of them voted again
    assert "bad ballots sent" in shown and "✗" not in shown
    assert "the record verifies, and the result is what the simulated voters chose" in shown
    record = read_record(folder / "record.zip")
    kinds = [json.loads(e)["type"] for e in record.board]
    assert kinds.count("ballot") == 42 and kinds.count("partial_decryption") == 2 and kinds[-1] == "result"
    assert json.loads(record.board[-1])["turnout"]["voted"] == 40
    assert len(read_outbox(folder)) == 60  # every voter invited, through the outbox
    for secret in ("demo-organiser.txt", "outbox.jsonl", "sms.key", "board.key"):
        assert stat.S_IMODE((folder / secret).stat().st_mode) == 0o600, secret


def test_the_demo_says_where_to_click_and_replaces_only_its_own_folder(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    runner = CliRunner()
    for _ in range(2):  # a second run replaces the first demo's folder
        result = runner.invoke(app, ["demo", "--data-dir", str(folder), "--voters", "12", "--no-serve"])
        assert result.exit_code == 0, result.output
    shown = result.output
    password = (folder / "demo-organiser.txt").read_text().split("password: ")[1].strip()
    assert f"username organiser, password {password}" in shown
    assert shown.count("http://127.0.0.1:8000/coalition-2024#") == 3  # three voters' links
    assert (
        "http://127.0.0.1:8000/console" in shown and "http://127.0.0.1:8000/r/coalition-2024/board" in shown
    )
    assert "DEMO ONLY" in shown and (folder / "DEMO-ONLY.txt").exists()
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "precious.txt").write_text("not a demo")
    refused = runner.invoke(app, ["demo", "--data-dir", str(mine), "--no-serve"])
    assert refused.exit_code == 2 and "was not made by istifta demo" in refused.output
    assert (mine / "precious.txt").read_text() == "not a demo"
