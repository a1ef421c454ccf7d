"""``istifta serve`` starts the real server on the data directory the CLI uses."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def test_serve_answers_on_its_port(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ISTIFTA_")}
    command = [sys.executable, "-c", "from istifta.cli import main; main()", "serve"]
    server = subprocess.Popen(
        [*command, "--data-dir", str(tmp_path / "data"), "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/referendums", timeout=2) as answer:
                    assert answer.status == 200 and answer.read() == b"[]"
                    assert answer.headers["x-frame-options"] == "DENY"
                    assert "server" not in answer.headers  # no version banner
                    break
            except OSError:
                assert server.poll() is None, server.stdout.read() if server.stdout else ""
                assert time.monotonic() < deadline, "istifta serve did not answer within 30 s"
                time.sleep(0.2)
        assert (tmp_path / "data" / "istifta.db").exists() and (tmp_path / "data" / "board.key").exists()
    finally:
        server.terminate()
        server.communicate(timeout=10)
