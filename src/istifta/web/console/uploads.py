"""Electorate files uploaded to the console, kept until they are imported.

An upload is streamed from the request's body (``multipart/form-data``)
straight into ``DATA_DIR/uploads/<id>.csv``, mode 0600: never held in
memory nor copied through a temporary folder, and refused past
:data:`MAX_UPLOAD` bytes. ``<id>`` is 32 random hex digits, and :func:`find`
takes nothing else, so an id cannot name a path outside the folder. Beside
the file, ``<id>.json`` keeps what it was checked with (the referendum, the
options, the file's name as the browser gave it), so that the import is of
the very file and options the dry run checked. Uploads left behind are swept
after :data:`KEEP_SECONDS`.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from fastapi import Request
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from istifta.web.errors import ApiError

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

__all__ = [
    "KEEP_SECONDS",
    "MAX_UPLOAD",
    "UPLOAD_ID",
    "Upload",
    "claim",
    "discard",
    "find",
    "keep",
    "receive",
    "sweep",
]

MAX_UPLOAD = 200_000_000
"""The largest file taken: 200 MB, some four million voters' rows."""
MAX_FIELD = 1024
MAX_FIELDS = 16
KEEP_SECONDS = 24 * 3600
UPLOAD_ID = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class Upload:
    id: str
    path: Path
    filename: str
    """The file's name on the uploader's computer, for messages (never a path here)."""
    fields: dict[str, str] = field(default_factory=dict)
    """The form's other fields as received; as kept by :func:`keep`, once found."""


async def receive(request: Request, folder: Path, name: str = "file", limit: int | None = None) -> Upload:
    """Stream the form's file field ``name`` into ``folder``, at most ``limit`` bytes
    (:data:`MAX_UPLOAD`); :class:`ApiError` (413 too large, 400 not a form or no
    file) leaves nothing behind."""
    kind, options = parse_options_header(request.headers.get("content-type"))
    if kind != b"multipart/form-data" or not options.get(b"boundary"):
        raise ApiError(400, "not_a_form", "the file must be sent with the page's form")
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    upload_id = secrets.token_hex(16)
    sink = _Sink(folder / f"{upload_id}.csv", name, MAX_UPLOAD if limit is None else limit)
    try:
        parser = MultipartParser(options[b"boundary"], sink.callbacks())
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
        if not sink.ended:
            raise ApiError(400, "not_a_form", "the upload was cut short: send the file again")
        if sink.file is None:
            raise ApiError(400, "no_file", "choose a file to upload")
    except FormParserError:
        sink.abandon()
        raise ApiError(400, "not_a_form", "the upload is not a well-formed form: send it again") from None
    except BaseException:
        sink.abandon()
        raise
    sink.file.close()
    return Upload(upload_id, sink.path, sink.filename, sink.fields)


def keep(upload: Upload, slug: str, options: dict[str, str]) -> None:
    """Note what ``upload`` was checked with, for :func:`find`."""
    fd = os.open(upload.path.with_suffix(".json"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump({"slug": slug, "filename": upload.filename, "options": options}, f)


def find(folder: Path, upload_id: str, slug: str) -> Upload:
    """The upload kept for ``slug`` under ``upload_id``; :class:`ApiError` 404 when there is none."""
    missing = ApiError(404, "unknown_upload", "this upload is unknown or has expired: upload the file again")
    if not UPLOAD_ID.fullmatch(upload_id):
        raise missing
    path = folder / f"{upload_id}.csv"
    try:
        kept = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise missing from None
    if kept.get("slug") != slug or not path.is_file():
        raise missing
    return Upload(upload_id, path, str(kept["filename"]), dict(kept["options"]))


def claim(upload: Upload) -> Upload:
    """Take ``upload`` for its import, so that a second click cannot import it twice:
    the file is renamed, and :func:`find` knows it no more."""
    taken = upload.path.with_suffix(".importing")
    try:
        upload.path.rename(taken)
    except FileNotFoundError:
        raise ApiError(404, "unknown_upload", "this upload is being imported, or has expired") from None
    return Upload(upload.id, taken, upload.filename, upload.fields)


def discard(upload: Upload) -> None:
    upload.path.unlink(missing_ok=True)
    upload.path.with_suffix(".json").unlink(missing_ok=True)


def sweep(folder: Path, now: float | None = None) -> None:
    """Delete the uploads older than :data:`KEEP_SECONDS`."""
    cutoff = (time.time() if now is None else now) - KEEP_SECONDS
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return
    for entry in entries:
        try:
            if entry.is_file() and entry.stat().st_mtime < cutoff:
                os.unlink(entry.path)
        except FileNotFoundError:
            pass  # swept by another request meanwhile


class _Sink:
    """The parser's callbacks: the file part into ``path``, the other fields into ``fields``."""

    def __init__(self, path: Path, name: str, limit: int) -> None:
        self.path, self.name, self.limit = path, name, limit
        self.file: BinaryIO | None = None
        self.filename = ""
        self.fields: dict[str, str] = {}
        self.size = 0
        self.ended = False
        self._header = b""
        self._value = b""
        self._headers: dict[bytes, bytes] = {}
        self._field = ""
        self._part: bytearray | None = None  # a field's value; None while the file is written

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self._begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._data,
            "on_part_end": self._end,
            "on_end": self._finished,
        }

    def _begin(self) -> None:
        self._headers, self._part = {}, None

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._header.lower()] = self._value
        self._header, self._value = b"", b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._field = options.get(b"name", b"").decode("utf-8", "replace")
        if self._field == self.name and b"filename" in options:
            if self.file is not None:
                raise ApiError(400, "not_a_form", "upload one file at a time")
            self.filename = Path(options[b"filename"].decode("utf-8", "replace")).name[:128] or "upload.csv"
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            self.file = os.fdopen(fd, "wb")
            return
        if len(self.fields) >= MAX_FIELDS:
            raise ApiError(400, "not_a_form", "the form has too many fields")
        self._part = bytearray()

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self._part is not None:
            self._part += data[start:end]
            if len(self._part) > MAX_FIELD:
                raise ApiError(400, "not_a_form", f"the form's field {self._field[:32]!r} is too long")
            return
        if self.file is None:
            return
        self.size += end - start
        if self.size > self.limit:
            raise ApiError(413, "too_large", f"the file is larger than {self.limit // 1_000_000} MB")
        self.file.write(data[start:end])

    def _end(self) -> None:
        if self._part is not None:
            self.fields[self._field] = self._part.decode("utf-8", "replace")
            self._part = None

    def _finished(self) -> None:
        self.ended = True

    def abandon(self) -> None:
        if self.file is not None:
            self.file.close()
        self.path.unlink(missing_ok=True)
