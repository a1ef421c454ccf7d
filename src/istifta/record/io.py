"""The election record on disk (PROTOCOL.md §8): a folder or a ``.zip`` (an edge).

Four files: ``board.jsonl`` (one entry a line, in board order),
``electorate.jsonl`` (the sorted leaves), ``tree_head.json`` (the last signed
tree head) and ``board_key`` (the board's Ed25519 public key as hex). Lines
end with ``\\n``; a line is exactly an entry's (or a leaf's) bytes. Reading
checks only that the files are there, are UTF-8 and hold JSON, and says
which file and line are not; whether the record *verifies* is
``protocol/verify.py``'s business. docs/record.md describes the format.
"""

from __future__ import annotations

import json
import os
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from istifta.errors import DecodeError
from istifta.protocol.record import Record

__all__ = ["FILES", "RecordStream", "read_record", "record_files", "write_record", "write_zip"]

FILES = ("board.jsonl", "electorate.jsonl", "tree_head.json", "board_key")
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed, so that one record gives one zip


def read_record(path: Path | str) -> Record:
    """Read a record from a folder or a zip; :class:`DecodeError` names what is wrong."""
    path = Path(path)
    if path.is_dir():
        files = {name: _read_file(path, name) for name in FILES}
    elif path.is_file():
        files = _read_zip(path)
    else:
        raise DecodeError(f"{path}: no such folder or file")
    return Record(
        _lines(files["board.jsonl"], "board.jsonl"),
        _lines(files["electorate.jsonl"], "electorate.jsonl"),
        _tree_head(files["tree_head.json"]),
        _board_key(files["board_key"]),
    )


def _read_file(folder: Path, name: str) -> bytes:
    try:
        return (folder / name).read_bytes()
    except FileNotFoundError:
        raise DecodeError(f"{folder}: the record has no {name}") from None
    except OSError as exc:
        raise DecodeError(f"cannot read {folder / name}: {exc.strerror}") from None


def _read_zip(path: Path) -> dict[str, bytes]:
    """The four files at the top of the zip, or all inside one top-level folder."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            found = {}
            for name in FILES:
                matches = [n for n in names if n == name or (n.count("/") == 1 and n.endswith(f"/{name}"))]
                if not matches:
                    raise DecodeError(f"{path}: the record has no {name}")
                if len(matches) > 1:
                    raise DecodeError(f"{path}: {name} is in the zip more than once: {matches}")
                found[name] = archive.read(matches[0])
            return found
    except (zipfile.BadZipFile, zlib.error, RuntimeError) as exc:
        raise DecodeError(f"{path}: not a readable zip ({exc}); a record is a folder or a .zip") from None
    except OSError as exc:
        raise DecodeError(f"cannot read {path}: {exc.strerror or exc}") from None


def _lines(data: bytes, name: str) -> tuple[bytes, ...]:
    """One item a line; each line UTF-8 and JSON. The last ``\\n`` may be missing."""
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    for number, line in enumerate(lines, start=1):
        if not line:
            raise DecodeError(f"{name} line {number}: empty")
        if line.endswith(b"\r"):
            raise DecodeError(f"{name} line {number}: ends with a carriage return; lines end with \\n only")
        try:
            json.loads(line.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise DecodeError(f"{name} line {number}: not UTF-8 (byte {exc.start + 1})") from None
        except json.JSONDecodeError as exc:
            raise DecodeError(f"{name} line {number}: not JSON (column {exc.colno}: {exc.msg})") from None
        except RecursionError:
            raise DecodeError(f"{name} line {number}: JSON nested too deeply") from None
    return tuple(lines)


def _tree_head(data: bytes) -> dict[str, Any]:
    try:
        head = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise DecodeError("tree_head.json: not UTF-8") from None
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise DecodeError(f"tree_head.json: not JSON ({where}: {exc.msg})") from None
    if not isinstance(head, dict):
        raise DecodeError("tree_head.json: expected a JSON object")
    return head


def _board_key(data: bytes) -> bytes:
    text = data.decode("ascii", errors="replace").strip()
    if len(text) != 64 or any(ch not in "0123456789abcdefABCDEF" for ch in text):
        raise DecodeError("board_key: expected the board's Ed25519 public key as 64 hex characters")
    return bytes.fromhex(text)


@dataclass(frozen=True)
class RecordStream:
    """A record whose board and electorate are read as they are written (from a
    store's cursor, say), so that writing it holds one entry at a time in memory."""

    board: Iterable[bytes]
    electorate: Iterable[bytes]
    tree_head: dict[str, Any]
    board_key: bytes


def _chunks(record: Record | RecordStream) -> Iterator[tuple[str, Iterator[bytes]]]:
    """Each file's name and its bytes, a piece at a time."""
    yield "board.jsonl", _buffered(line + b"\n" for line in record.board)
    yield "electorate.jsonl", _buffered(leaf + b"\n" for leaf in record.electorate)
    yield "tree_head.json", iter([(json.dumps(record.tree_head, indent=2, sort_keys=True) + "\n").encode()])
    yield "board_key", iter([record.board_key.hex().encode() + b"\n"])


def _buffered(pieces: Iterable[bytes], size: int = 1 << 20) -> Iterator[bytes]:
    """``pieces`` joined into chunks of about ``size`` bytes (fewer, larger writes)."""
    buffer: list[bytes] = []
    held = 0
    for piece in pieces:
        buffer.append(piece)
        held += len(piece)
        if held >= size:
            yield b"".join(buffer)
            buffer, held = [], 0
    if buffer:
        yield b"".join(buffer)


def record_files(record: Record) -> dict[str, bytes]:
    """The four files' bytes."""
    return {name: b"".join(chunks) for name, chunks in _chunks(record)}


def write_record(path: Path | str, record: Record | RecordStream) -> None:
    """Write to a folder (made if missing; the four files replaced), or to a
    zip when ``path`` ends in ``.zip`` (written whole, then moved into place;
    its folder made if missing). The board and the electorate are streamed:
    memory does not grow with the record.
    Raises :class:`OSError` when it cannot write."""
    path = Path(path)
    if path.suffix.lower() != ".zip":
        path.mkdir(parents=True, exist_ok=True)
        for name, chunks in _chunks(record):
            with (path / name).open("wb") as f:
                for chunk in chunks:
                    f.write(chunk)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    try:
        with partial.open("wb") as f:
            write_zip(f, record)
            f.flush()
            os.fsync(f.fileno())
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def write_zip(f: IO[bytes], record: Record | RecordStream) -> None:
    """The record as a zip into the seekable file ``f``: fixed times and modes, so
    that one record always gives the same bytes."""
    with zipfile.ZipFile(f, "w") as archive:
        for name, chunks in _chunks(record):
            info = zipfile.ZipInfo(name, _ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            with archive.open(info, "w", force_zip64=True) as member:
                for chunk in chunks:
                    member.write(chunk)
