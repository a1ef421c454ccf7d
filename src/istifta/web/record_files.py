"""The election record served for download, built once per tree head.

Anyone may ask for ``record.zip``; building it reads the whole board and
electorate (gigabytes at a nation's scale), so the server never builds it in
memory, never more than one at a time, and never during the vote:

* it is served once voting has closed (until then the board is read page by
  page through the API, and its tree heads watched);
* it is built from the store's cursors straight into
  ``DATA_DIR/records/SLUG-SIZE.zip`` (mode 0600 in a 0700 folder), by one
  builder thread per process and, across processes sharing the folder, under
  an exclusive lock on ``records/.lock``; a request waits a few seconds for
  it, and is otherwise answered 503 with ``Retry-After``;
* it is kept for its tree head's size, so that every later request for that
  size is a plain file answer (``Content-Length``, ranges for resumed
  downloads); the two newest sizes of each referendum are kept, older ones
  deleted.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import threading
from pathlib import Path

from istifta.record.io import write_zip
from istifta.store.referendums import Referendums

__all__ = ["RecordFiles"]

KEEP = 2
"""Sizes kept per referendum: the newest, and the one before (a download of it may still run)."""
log = logging.getLogger("istifta.records")


class RecordFiles:
    def __init__(self, refs: Referendums, folder: Path) -> None:
        self.refs = refs
        self.folder = folder
        self._lock = threading.Lock()
        self._builder: threading.Thread | None = None

    def path(self, slug: str, size: int) -> Path:
        return self.folder / f"{slug}-{size}.zip"

    def ready(self, slug: str) -> Path | None:
        """The record as of the board's latest tree head, if it is built; if not,
        its building is started (unless a build is running) and ``None`` returned."""
        path = self.path(slug, self.refs.tree_head(slug).size)
        if path.is_file():
            return path
        with self._lock:
            if self._builder is None or not self._builder.is_alive():
                self._builder = threading.Thread(
                    target=self._build, args=(slug,), daemon=True, name=f"record {slug}"
                )
                self._builder.start()
        return None

    def _build(self, slug: str) -> None:
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            with (self.folder / ".lock").open("a") as lock:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return  # another process is building one: its file will appear
                self._write(slug)
        except Exception:
            log.exception("building the record of %s failed", slug)

    def _write(self, slug: str) -> None:
        with self.refs.record_stream(slug) as record:
            path = self.path(slug, record.tree_head["size"])
            if path.is_file():
                return
            partial = self.folder / f".{path.name}.{os.getpid()}.partial"
            try:
                fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "wb") as f:
                    write_zip(f, record)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(partial, path)
            finally:
                partial.unlink(missing_ok=True)
        self._forget_older(slug)

    def _forget_older(self, slug: str) -> None:
        pattern = re.compile(re.escape(slug) + r"-(\d+)\.zip")
        sizes = sorted(
            int(found.group(1)) for p in self.folder.iterdir() if (found := pattern.fullmatch(p.name))
        )
        for size in sizes[:-KEEP]:
            self.path(slug, size).unlink(missing_ok=True)
