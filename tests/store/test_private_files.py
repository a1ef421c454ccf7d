"""The data directory's secrets at rest: made private, keys written whole, and
modes that let group or others in warned about (the server refuses them)."""

from __future__ import annotations

import json
import multiprocessing
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from istifta.cli import app
from istifta.electorate.sealing import load_code_box
from istifta.errors import ExposedSecret
from istifta.store.db import open_store
from istifta.store.private import check_private, load_key
from istifta.store.referendums import Referendums
from istifta.testing import manifest_json

CODE = "0123456789ABCDEFGHJKMNPQRS"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """Files are made as if the user's umask let everyone in: only istifta's own modes count."""
    before = os.umask(0)
    yield
    os.umask(before)


def test_a_fresh_data_directory_its_database_and_its_keys_are_private(
    tmp_path: Path, open_umask: None
) -> None:
    data = tmp_path / "data"
    refs = Referendums.open(data)
    try:
        refs.create(manifest_json())  # written through SQLite's -wal file
        load_code_box(data)
        made = sorted(p.name for p in data.iterdir())
        modes = {p.name: mode(p) for p in data.iterdir()}
    finally:
        refs.close_store()

    assert mode(data) == 0o700
    assert {"board.key", "istifta.db", "istifta.db-wal", "istifta.db-shm", "sms.key"} <= set(made)
    assert modes == dict.fromkeys(made, 0o600)


def test_a_database_made_before_opens_with_a_warning_and_keeps_its_mode(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    store = open_store(data)
    store.close()
    os.chmod(data / "istifta.db", 0o644)

    store = open_store(data)
    with store.session() as session:
        assert session.execute(text("SELECT count(*) FROM elections")).scalar() == 0
    store.close()

    assert f"chmod 600 {data / 'istifta.db'}" in capsys.readouterr().err
    assert mode(data / "istifta.db") == 0o644


def test_a_key_has_its_name_only_once_it_is_written_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "sms.key"
    seen: list[bool] = []
    fsync = os.fsync

    def spy(fd: int) -> None:
        seen.append(path.exists())
        fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)

    box = load_code_box(tmp_path)

    assert seen[0] is False  # the key's bytes were made durable before it had its name
    assert load_code_box(tmp_path).open(box.seal(CODE)) == CODE
    assert [p.name for p in tmp_path.iterdir()] == ["sms.key"]  # no temporary file left


def _seal(data: Path, barrier: Any, sealed: Any) -> None:
    barrier.wait()
    sealed.put(load_code_box(data).seal(CODE))


@pytest.mark.parametrize("round", range(5))
def test_processes_making_the_sms_key_at_once_all_use_one_key(tmp_path: Path, round: int) -> None:
    context = multiprocessing.get_context("fork")
    data, racers = tmp_path / "data", 8
    barrier, sealed = context.Barrier(racers), context.Queue()
    processes = [context.Process(target=_seal, args=(data, barrier, sealed)) for _ in range(racers)]
    for process in processes:
        process.start()
    codes = [sealed.get(timeout=30) for _ in range(racers)]
    for process in processes:
        process.join(30)

    assert [p.exitcode for p in processes] == [0] * racers  # none read half a key
    box = load_code_box(data)
    assert [box.open(code) for code in codes] == [CODE] * racers  # each sealed with the same key
    assert [p.name for p in data.iterdir()] == ["sms.key"]


def test_a_damaged_key_is_refused_without_showing_it(tmp_path: Path) -> None:
    path = tmp_path / "board.key"
    path.write_text("00ff" * 8 + "\n", encoding="ascii")
    os.chmod(path, 0o600)

    with pytest.raises(ValueError, match="board.key: not a key") as refused:
        load_key(path)

    assert "00ff" not in str(refused.value)


def test_a_key_open_to_others_is_refused_on_request_naming_the_fix(tmp_path: Path) -> None:
    key, db = tmp_path / "board.key", tmp_path / "istifta.db"
    load_key(key)
    db.touch(mode=0o600)
    os.chmod(key, 0o644)
    os.chmod(db, 0o660)

    with pytest.raises(ExposedSecret) as refused:
        check_private(key, db, refuse=True)

    said = str(refused.value)
    assert f"{key} (mode 0644)" in said and f"{db} (mode 0660)" in said
    assert f"chmod 600 {key} {db}" in said


def test_a_command_warns_of_a_key_open_to_others_and_goes_on(tmp_path: Path) -> None:
    data = tmp_path / "data"
    load_key(data / "board.key")
    os.chmod(data / "board.key", 0o640)
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(manifest_json()), encoding="utf-8")

    result = CliRunner().invoke(app, ["election", "create", str(manifest), "--data-dir", str(data)])

    assert result.exit_code == 0, result.output
    assert "warning: secrets open to group or others" in result.stderr
    assert f"chmod 600 {data / 'board.key'}" in result.stderr
    assert mode(data / "board.key") == 0o640  # istifta says so; it changes nothing itself
