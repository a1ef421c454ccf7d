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

import io
import json
import os
import zipfile
import zlib
from pathlib import Path
from typing import IO, Any

from istifta.errors import DecodeError
from istifta.protocol.record import Record

__all__ = ["FILES", "read_record", "record_files", "record_zip", "write_record"]

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


def record_files(record: Record) -> dict[str, bytes]:
    """The four files' bytes."""
    return {
        "board.jsonl": b"".join(line + b"\n" for line in record.board),
        "electorate.jsonl": b"".join(leaf + b"\n" for leaf in record.electorate),
        "tree_head.json": (json.dumps(record.tree_head, indent=2, sort_keys=True) + "\n").encode(),
        "board_key": record.board_key.hex().encode() + b"\n",
    }


def write_record(path: Path | str, record: Record) -> None:
    """Write to a folder (made if missing; the four files replaced), or to a
    zip when ``path`` ends in ``.zip`` (written whole, then moved into place;
    its folder made if missing).
    Raises :class:`OSError` when it cannot write."""
    path = Path(path)
    files = record_files(record)
    if path.suffix.lower() != ".zip":
        path.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (path / name).write_bytes(data)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    try:
        with partial.open("wb") as f:
            _write_zip(f, files)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def record_zip(record: Record) -> bytes:
    """The record as the bytes of a zip (the same bytes ``write_record`` writes)."""
    buffer = io.BytesIO()
    _write_zip(buffer, record_files(record))
    return buffer.getvalue()


def _write_zip(f: IO[bytes], files: dict[str, bytes]) -> None:
    with zipfile.ZipFile(f, "w") as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, _ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
