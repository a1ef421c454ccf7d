"""``istifta verify`` on records written by ``write_record``, as an observer runs it:
exit 0 when everything verifies, 1 naming the first failure, 2 when the
record cannot be read; ``--jobs 2`` prints the same report."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from nacl.signing import SigningKey
from typer.testing import CliRunner, Result

from istifta.cli import app
from istifta.crypto.rng import SeededRandom
from istifta.protocol.record import Record, entry_bytes
from istifta.record.io import write_record
from istifta.testing import make_election, make_record, manifest_json, question_json, resign_record

KEY = SigningKey(bytes(range(1, 33)))


def run(*args: str) -> Result:
    return CliRunner().invoke(app, ["verify", *args], env={"COLUMNS": "100"})


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def record() -> Record:
    """Two questions (yes/no; 0 to 2 of 3), revotes, trustee 1 absent, two regions."""
    manifest = manifest_json(
        [
            question_json(["yes", "no"]),
            question_json(["red", "green", "blue"], low=0, high=2, text="Colours?"),
        ]
    )
    rng = SeededRandom("verify cli")
    election = make_election(rng, manifest, voters=6, regions=("Duhok", "Najaf"))
    votes = [(0, [[0], [0, 2]]), (1, [[1], []]), (0, [[1], [1]]), (2, [[0], [2]]), (4, [[0], [0, 1]])]
    return make_record(election, votes, rng=rng, board_key=KEY, absent_trustees=(1,))


@pytest.fixture(scope="module")
def folders(record: Record, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("records")
    write_record(root / "folder", record)
    write_record(root / "record.zip", record)
    board = list(record.board)
    result = json.loads(board[-1])
    result["counts"][1] = [2, 1, 2]
    board[-1] = entry_bytes(result)
    write_record(root / "tampered", resign_record(replace(record, board=tuple(board)), KEY))
    return {"folder": root / "folder", "zip": root / "record.zip", "tampered": root / "tampered"}


@pytest.mark.parametrize("kind", ["folder", "zip"])
def test_a_valid_record_verifies(folders: dict[str, Path], kind: str) -> None:
    result = run(str(folders[kind]))
    assert result.exit_code == 0, result.output
    text = flat(result.stdout)
    for name in ("tree_head", "order", "election", "ballots", "tally", "partial_decryptions", "result"):
        assert f"{name} │ ✓ ok" in text
    assert "counted: 4" in text and "revotes replaced: 1" in text
    # the counts, with the manifest's labels: voters 0 (last: no, green), 1, 2, 4
    assert "│ yes │ 2 │ 50.0% │" in text and "│ no │ 2 │ 50.0% │" in text
    assert "│ red │ 1 │" in text and "│ green │ 2 │" in text and "│ blue │ 1 │" in text
    assert "turnout: 4 of 6 (66.7%)" in text
    assert "│ Duhok │ 3 │ 3 │ 100.0% │" in text and "│ Najaf │ 3 │ 1 │ 33.3% │" in text
    assert "✓ the record verifies" in text


def test_a_tampered_record_exits_1_naming_the_entry(folders: dict[str, Path]) -> None:
    result = run(str(folders["tampered"]))
    assert result.exit_code == 1
    assert "result │ ✗ failed" in flat(result.stdout)
    assert "verification failed at result: entry 10 (result): counts[1][0] is 2" in flat(result.stderr)


def test_a_trustee_stops_after_the_tally(folders: dict[str, Path]) -> None:
    result = run(str(folders["tampered"]), "--stop-after", "tally")
    assert result.exit_code == 0, result.output
    assert "result │ – not run" in flat(result.stdout) and "verified up to tally" in result.stdout


def test_unreadable_input_exits_2(tmp_path: Path, folders: dict[str, Path]) -> None:
    result = run(str(tmp_path / "missing"))
    assert result.exit_code == 2 and "no such folder or file" in result.stderr
    (tmp_path / "board.jsonl").write_bytes(b'{"type":"election"}\n\xff\n')
    for name in ("electorate.jsonl", "tree_head.json", "board_key"):
        (tmp_path / name).write_bytes((folders["folder"] / name).read_bytes())
    result = run(str(tmp_path))
    assert result.exit_code == 2 and "board.jsonl line 2: not UTF-8" in flat(result.stderr)
    assert "Traceback" not in result.output
    result = run(str(folders["folder"]), "--stop-after", "everything")
    assert result.exit_code == 2 and "--stop-after: expected one of" in flat(result.stderr)


def test_jobs_2_prints_the_same_report(folders: dict[str, Path]) -> None:
    for kind in ("zip", "tampered"):
        one, two = run(str(folders[kind])), run(str(folders[kind]), "--jobs", "2")
        assert (one.exit_code, one.stdout) == (two.exit_code, two.stdout)


def test_json_output(folders: dict[str, Path]) -> None:
    good = run(str(folders["zip"]), "--json")
    assert good.exit_code == 0
    report = json.loads(good.stdout)
    assert report["ok"] and report["complete"]
    assert [c["status"] for c in report["checks"]] == ["ok"] * 7
    assert report["checks"][-1]["figures"]["counts"] == [[2, 2], [1, 2, 1]]
    bad = run(str(folders["tampered"]), "--json")
    assert bad.exit_code == 1
    failure = json.loads(bad.stdout)["checks"][-1]
    assert (failure["name"], failure["status"], failure["entry"]) == ("result", "failed", 10)
