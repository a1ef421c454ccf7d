"""The record on disk (PROTOCOL.md §8): a folder or a zip, read back byte for
byte, and clear errors naming the file and line for what cannot be read."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from istifta.crypto.rng import SeededRandom
from istifta.errors import DecodeError
from istifta.protocol.record import Record
from istifta.record.io import FILES, read_record, record_files, write_record
from istifta.testing import make_election, make_record


@pytest.fixture(scope="module")
def record() -> Record:
    rng = SeededRandom("record io")
    election = make_election(rng, voters=3, regions=("Erbil",))
    return make_record(election, [(0, [[0]]), (1, [[1]])], rng=rng, board_key=SigningKey(bytes(32)))


@pytest.mark.parametrize("name", ["record", "record.zip", "nested/dir/record.ZIP"])
def test_what_is_written_reads_back_the_same(tmp_path: Path, record: Record, name: str) -> None:
    path = tmp_path / name
    write_record(path, record)
    assert path.is_dir() == (not name.lower().endswith(".zip"))
    assert read_record(path) == record
    assert read_record(str(path)) == record


def test_the_files(tmp_path: Path, record: Record) -> None:
    write_record(tmp_path, record)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(FILES)
    assert (tmp_path / "board.jsonl").read_bytes() == b"".join(e + b"\n" for e in record.board)
    assert (tmp_path / "board_key").read_text() == record.board_key.hex() + "\n"


def test_a_zip_is_reproducible_and_may_hold_one_folder(tmp_path: Path, record: Record) -> None:
    write_record(tmp_path / "a.zip", record)
    write_record(tmp_path / "b.zip", record)
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
    with zipfile.ZipFile(tmp_path / "c.zip", "w") as archive:
        for name, data in record_files(record).items():
            archive.writestr(f"coalition-2024/{name}", data)
    assert read_record(tmp_path / "c.zip") == record


def test_a_missing_final_newline_is_accepted(tmp_path: Path, record: Record) -> None:
    write_record(tmp_path, record)
    board = tmp_path / "board.jsonl"
    board.write_bytes(board.read_bytes().rstrip(b"\n"))
    assert read_record(tmp_path) == record


def broken(tmp_path: Path, record: Record, name: str, data: bytes) -> str:
    write_record(tmp_path, record)
    (tmp_path / name).write_bytes(data)
    with pytest.raises(DecodeError) as caught:
        read_record(tmp_path)
    return str(caught.value)


def test_unreadable_files_are_named_with_their_line(tmp_path: Path, record: Record) -> None:
    lines = record_files(record)["board.jsonl"].split(b"\n")
    cases = {
        b"\n".join([lines[0], b"\xff\xfe", *lines[1:]]): "board.jsonl line 2: not UTF-8",
        b"\n".join([lines[0], lines[1], b'{"type": ', *lines[2:]]): "board.jsonl line 3: not JSON",
        b"\n".join([lines[0], b"", *lines[1:]]): "board.jsonl line 2: empty",
        lines[0] + b"\r\n" + b"\n".join(lines[1:]): "board.jsonl line 1: ends with a carriage return",
    }
    for data, message in cases.items():
        assert message in broken(tmp_path, record, "board.jsonl", data)
    assert "electorate.jsonl line 1: not JSON" in broken(tmp_path, record, "electorate.jsonl", b"x\n")
    assert "tree_head.json: not JSON (line 1" in broken(tmp_path, record, "tree_head.json", b"{")
    assert "tree_head.json: expected a JSON object" in broken(tmp_path, record, "tree_head.json", b"[]")
    assert "64 hex characters" in broken(tmp_path, record, "board_key", b"not a key")


def test_missing_files_and_records(tmp_path: Path, record: Record) -> None:
    write_record(tmp_path / "r", record)
    (tmp_path / "r" / "electorate.jsonl").unlink()
    with pytest.raises(DecodeError, match="the record has no electorate.jsonl"):
        read_record(tmp_path / "r")
    with pytest.raises(DecodeError, match="no such folder or file"):
        read_record(tmp_path / "nowhere")
    (tmp_path / "r.zip").write_bytes(b"not a zip")
    with pytest.raises(DecodeError, match="not a readable zip"):
        read_record(tmp_path / "r.zip")
    with zipfile.ZipFile(tmp_path / "s.zip", "w") as archive:
        archive.writestr("board.jsonl", b"")
    with pytest.raises(DecodeError, match="the record has no electorate.jsonl"):
        read_record(tmp_path / "s.zip")
