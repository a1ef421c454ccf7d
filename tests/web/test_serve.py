"""``istifta serve`` starts the real server on the data directory the CLI uses."""

from __future__ import annotations

import os
import re
import socket
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from istifta.cli import app
from istifta.electorate.sealing import load_code_box
from istifta.errors import ExposedSecret
from istifta.store.referendums import Referendums
from istifta.web.app import create_app
from istifta.web.settings import WebSettings


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
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "data").iterdir()}
        assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o700
        assert modes["istifta.db"] == modes["board.key"] == 0o600
    finally:
        server.terminate()
        server.communicate(timeout=10)


@pytest.mark.parametrize("name", ["board.key", "sms.key", "istifta.db"])
def test_serve_refuses_a_secret_open_to_others_and_says_how_to_fix_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    import uvicorn

    data = tmp_path / "data"
    Referendums.open(data).close_store()
    load_code_box(data)
    path = data / name
    os.chmod(path, 0o644)
    before = path.read_bytes()
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: pytest.fail("serve started"))

    result = CliRunner().invoke(app, ["serve", "--data-dir", str(data)], env={"COLUMNS": "200"})

    assert result.exit_code == 2
    said = " ".join(result.stderr.split())
    assert f"{path} (mode 0644)" in said and f"chmod 600 {path}" in said
    assert path.read_bytes() == before and stat.S_IMODE(path.stat().st_mode) == 0o644


def test_the_app_factory_refuses_a_key_open_to_others(tmp_path: Path) -> None:
    data = tmp_path / "data"
    load_code_box(data)
    os.chmod(data / "sms.key", 0o640)

    with pytest.raises(ExposedSecret, match=re.escape(f"chmod 600 {data / 'sms.key'}")):
        create_app(WebSettings(data_dir=data))


def test_serve_refuses_a_short_report_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: pytest.fail("serve started"))
    result = CliRunner().invoke(
        app,
        ["serve", "--data-dir", str(tmp_path / "data")],
        env={"COLUMNS": "200", "ISTIFTA_SMS_HTTP_REPORT_TOKEN": "x" * 20},
    )

    assert result.exit_code == 2
    assert "ISTIFTA_SMS_HTTP_REPORT_TOKEN has 20 characters" in " ".join(result.stderr.split())
