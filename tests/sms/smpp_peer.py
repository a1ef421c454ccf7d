"""Start and stop the SMPP test peer (``tests/smpp_peer/server.mjs``, a real SMPP 3.4
server on loopback) and read what it recorded. Used by the tests and ``bench/smpp.py``.

    with SmppPeer("--throttle-every", "3") as peer:
        settings = SmsSettings(smpp_port=peer.port)
        ...
        peer.records("submit_sm")
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = ["PEER_DIR", "SmppPeer"]

PEER_DIR = Path(__file__).resolve().parents[1] / "smpp_peer"


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("Node.js is not installed, and the SMPP test peer needs it: run scripts/setup")
    if not (PEER_DIR / "node_modules" / "smpp" / "package.json").is_file():
        raise RuntimeError(f"the SMPP test peer's npm packages are missing in {PEER_DIR}: run scripts/setup")
    return node


class SmppPeer:
    """The node peer as a subprocess. ``port`` 0 picks a free one; :meth:`restart`
    starts it again on the same port with the same log (e.g. after :meth:`kill`)."""

    def __init__(self, *options: str, port: int = 0, log: bool = True, timeout: float = 10.0) -> None:
        self.options = options
        self.port = port
        self.timeout = timeout
        self._dir = tempfile.TemporaryDirectory(prefix="istifta-smpp-peer-")
        self.log_path: Path | None = Path(self._dir.name) / "peer.jsonl" if log else None
        self._process: subprocess.Popen[str] | None = None

    def start(self) -> SmppPeer:
        command = [_node(), str(PEER_DIR / "server.mjs"), "--port", str(self.port), *self.options]
        if self.log_path is not None:
            command += ["--log", str(self.log_path)]
        process = subprocess.Popen(
            command, cwd=PEER_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self._process = process
        line: list[str] = []
        stdout = process.stdout
        assert stdout is not None
        reader = threading.Thread(target=lambda: line.append(stdout.readline()))
        reader.start()
        reader.join(self.timeout)
        if not line or not line[0].startswith("listening "):
            self.kill()
            errors = process.stderr.read() if process.stderr else ""
            raise RuntimeError(f"the SMPP test peer did not start: {errors.strip() or 'no answer'}")
        self.port = int(line[0].split()[1])
        return self

    def kill(self) -> None:
        """Stop the peer (SIGTERM): its connections drop as if the SMSC went away."""
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()

    def restart(self) -> SmppPeer:
        self.kill()
        return self.start()

    def cpu_seconds(self) -> float | None:
        """The peer's CPU time so far (Linux's /proc; None elsewhere or when it is not running)."""
        if self._process is None:
            return None
        try:
            fields = Path(f"/proc/{self._process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def records(self, pdu: str | None = None) -> list[dict[str, Any]]:
        """What the peer recorded so far, one dict per PDU, in order; only ``pdu`` ones if given."""
        if self.log_path is None or not self.log_path.exists():
            return []
        lines = self.log_path.read_text(encoding="utf-8").splitlines()
        found = [json.loads(line) for line in lines if line.strip()]
        return [r for r in found if pdu is None or r["pdu"] == pdu]

    def __enter__(self) -> SmppPeer:
        try:
            return self.start()
        except BaseException:
            self._dir.cleanup()
            raise

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.kill()
        self._dir.cleanup()
