"""The ``istifta`` command line: what an organiser or registrar sees and pipes on.

Every run is given an 80-column terminal (``COLUMNS=80``), the common default,
so that output does not depend on the width of whoever runs the tests.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from istifta import PROTOCOL_VERSION, __version__
from istifta.cli import app
from istifta.crypto.credentials import credential_secret, public_credential
from istifta.protocol.manifest import parse_manifest
from istifta.testing import manifest_json, question_json

CODE_AND_P = re.compile(r"([0-7][0-9A-HJKMNP-TV-Z]{25}) ([0-9a-f]{64})")


def run(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(app, list(args), input=stdin, env={"COLUMNS": "80"})


def flat(text: str) -> str:
    """The text with every run of whitespace as one space (messages may wrap)."""
    return " ".join(text.split())


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest_json(), ensure_ascii=False, indent=2), encoding="utf-8")
    return path


def write(tmp_path: Path, raw: Any, name: str = "m.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(raw, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


def _texts(raw: dict[str, Any]) -> list[dict[str, str]]:
    """Every language map of a manifest: the title, the questions' texts, the labels."""
    found = [raw["title"]]
    for q in raw["questions"]:
        found += [q["text"], *(o["label"] for o in q["options"])]
    return found


def test_version() -> None:
    result = run("version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"istifta {__version__} (protocol {PROTOCOL_VERSION})"


# --- manifest check -----------------------------------------------------------------------


def test_manifest_check_prints_the_summary_and_manifest_hash(manifest: Path) -> None:
    result = run("manifest", "check", str(manifest))
    assert result.exit_code == 0, result.output
    expected = parse_manifest(manifest_json()).manifest_hash
    assert f"manifest_hash: {expected}" in result.stdout.splitlines()
    assert "trustees: 2 of 3" in result.stdout
    assert "languages: ar, ckb, en" in result.stdout
    assert "2024-01-20 06:00 UTC to 2024-01-21 18:00 UTC" in result.stdout
    assert "yes / no" in result.stdout


def test_manifest_check_accepts_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(manifest_json()).encode())
    result = run("manifest", "check", str(path))
    assert result.exit_code == 0, result.output
    assert parse_manifest(manifest_json()).manifest_hash in result.stdout


def test_manifest_check_names_the_bad_field(tmp_path: Path) -> None:
    raw = manifest_json()
    raw["questions"][0]["max"] = 3
    result = run("manifest", "check", str(write(tmp_path, raw)))
    assert result.exit_code == 2
    message = flat(result.stderr)
    assert "manifest field questions[0].max" in message
    assert "expected a number from 1 to 2, got 3" in message
    assert result.stdout == ""


def test_manifest_check_names_the_line_of_bad_json(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{\n  "version": "istifta/1",\n  "slug": "x",,\n}\n', encoding="utf-8")
    result = run("manifest", "check", str(path))
    assert result.exit_code == 2
    assert "not JSON (line 3, column" in flat(result.stderr)


def test_manifest_check_on_a_missing_file(tmp_path: Path) -> None:
    result = run("manifest", "check", str(tmp_path / "nowhere.json"))
    assert result.exit_code == 2
    assert "nowhere.json: no such file" in flat(result.stderr)


def test_manifest_check_on_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    """A manifest saved as Windows-1256 (common for Arabic) gets an error message, not a
    traceback."""
    raw = manifest_json([question_json(["نعم", "لا"], text="هل توافق؟")])
    for texts in _texts(raw):
        del texts["ckb"]  # Sorani's letters are not in Windows-1256
    path = tmp_path / "cp1256.json"
    path.write_bytes(json.dumps(raw, ensure_ascii=False).encode("cp1256"))
    result = run("manifest", "check", str(path))
    assert result.exit_code == 2, repr(result.exception)
    assert "cp1256.json" in "".join(result.stderr.split())


def test_manifest_check_shows_labels_with_brackets_as_written(tmp_path: Path) -> None:
    """Text from the manifest is shown as written, never read as Rich markup."""
    raw = manifest_json()
    raw["questions"][0]["options"][0]["label"] = {"ar": "[b]نعم[/b]", "ckb": "b", "en": "c"}
    raw["questions"][0]["options"][1]["label"] = {"ar": "[/]لا", "ckb": "b", "en": "c"}
    result = run("manifest", "check", str(write(tmp_path, raw)))
    assert result.exit_code == 0, repr(result.exception)
    assert "[b]نعم[/b]" in result.stdout
    assert "[/]لا" in result.stdout


def test_an_error_quoting_the_manifest_is_printed_as_written(tmp_path: Path) -> None:
    raw = manifest_json()
    raw["version"] = "[/]"
    result = run("manifest", "check", str(write(tmp_path, raw)))
    assert result.exit_code == 2, repr(result.exception)
    assert "got '[/]'" in flat(result.stderr)


# --- credentials --------------------------------------------------------------------------


def test_credential_new_prints_one_code_and_p_per_line(manifest: Path) -> None:
    result = run("credential", "new", str(manifest), "--count", "3")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 3, lines
    mh = bytes.fromhex(parse_manifest(manifest_json()).manifest_hash)
    for line in lines:
        match = CODE_AND_P.fullmatch(line)
        assert match, line
        code, p = match.groups()
        assert public_credential(credential_secret(mh, code)).hex() == p
    assert len({line.split()[0] for line in lines}) == 3


def _new_codes(manifest: Path, count: int) -> list[tuple[str, str]]:
    """Codes and Ps from ``credential new``, however its lines are broken."""
    result = run("credential", "new", str(manifest), "--count", str(count))
    assert result.exit_code == 0, result.output
    tokens = result.stdout.split()
    pairs = list(zip(tokens[0::2], tokens[1::2], strict=True))
    assert len(pairs) == count
    return pairs


def test_credential_derive_gives_the_p_that_new_printed(manifest: Path) -> None:
    pairs = _new_codes(manifest, 3)
    result = run("credential", "derive", str(manifest), stdin="\n".join(c for c, _ in pairs))
    assert result.exit_code == 0, result.output
    assert result.stdout.split() == [p for _, p in pairs]


def test_credential_derive_reads_codes_as_typed(manifest: Path) -> None:
    [(code, p)] = _new_codes(manifest, 1)
    typed = "-".join(code[i : i + 4] for i in range(0, 26, 4)).lower().replace("0", "o")
    result = run("credential", "derive", str(manifest), stdin=f"\n  {typed}  \n\n")
    assert result.exit_code == 0, result.output
    assert result.stdout.split() == [p]


def test_credential_derive_refuses_a_bad_code_by_line_without_echoing_it(
    manifest: Path,
) -> None:
    [(good, p)] = _new_codes(manifest, 1)
    bad = good[:10] + "U" + good[11:]
    result = run("credential", "derive", str(manifest), stdin=f"{good}\n\n{bad}\n")
    assert result.exit_code == 2
    assert "line 3:" in flat(result.stderr)
    assert "character 11" in flat(result.stderr)
    everything = "".join(result.output.split())
    assert bad not in everything
    assert bad.replace("U", "") not in everything
    assert result.stdout.split() == [p]


def test_credential_new_refuses_a_count_of_zero(manifest: Path) -> None:
    result = run("credential", "new", str(manifest), "--count", "0")
    assert result.exit_code == 2
    assert result.stdout == ""


def test_credential_commands_check_the_manifest_first(tmp_path: Path) -> None:
    raw = manifest_json()
    raw["trustees"]["n"] = 0
    path = write(tmp_path, raw)
    for command in ("new", "derive"):
        result = run("credential", command, str(path), stdin="")
        assert result.exit_code == 2
        assert "manifest field trustees.n" in flat(result.stderr)


def test_an_unreachable_database_is_reported_without_its_password(tmp_path: Path) -> None:
    url = "postgresql+psycopg://organiser:correct-horse-battery@127.0.0.1:1/istifta"
    result = run("election", "status", "any", "--data-dir", str(tmp_path), "--database", url)
    assert result.exit_code == 2
    assert "cannot open the store" in flat(result.stderr)
    assert "correct-horse-battery" not in result.output
