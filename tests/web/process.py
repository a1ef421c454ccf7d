"""``istifta serve`` as a real process, for tests that measure what the server
itself does: its peak memory (``VmHWM``) and what it writes to its temporary folder."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from istifta.web.serving import free_port


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    tmp: Path
    """The server's own temporary folder (its TMPDIR)."""

    def peak_memory(self) -> int:
        """The server's peak resident memory so far, in bytes (Linux's ``VmHWM``)."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmHWM in /proc: not Linux?")

    def tmp_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.tmp.rglob("*") if p.is_file())


@contextmanager
def serving(data_dir: Path, tmp: Path, **environ: str) -> Iterator[Server]:
    """``istifta serve`` on ``data_dir`` with ``tmp`` as its temporary folder, until the block ends."""
    tmp.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ISTIFTA_")}
    env.update(TMPDIR=str(tmp), **environ)
    command = [sys.executable, "-c", "from istifta.cli import main; main()", "serve"]
    process = subprocess.Popen(
        [*command, "--data-dir", str(data_dir), "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/api/referendums", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                assert time.monotonic() < deadline, "istifta serve did not answer within 30 s"
                time.sleep(0.2)
        yield Server(url, process, tmp)
    finally:
        process.terminate()
        process.communicate(timeout=20)
