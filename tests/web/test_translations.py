"""Every message of the user interface is translated into Arabic and Sorani,
with the same placeholders as the English."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
LOCALES = ROOT / "src" / "istifta" / "locales"
PLACEHOLDER = re.compile(r"%\(\w+\)s|\{\w+\}")


def test_the_catalogues_hold_every_message_in_the_code() -> None:
    check = subprocess.run(
        [sys.executable, "scripts/i18n.py", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.parametrize("code", ["ar", "ckb"])
def test_every_message_is_translated(code: str) -> None:
    with (LOCALES / code / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f, locale=code)
    untranslated = [m.id for m in catalog if m.id and (not m.string or m.fuzzy)]
    assert not untranslated, f"{len(untranslated)} untranslated in {code}: {untranslated[:3]}"
    for m in catalog:
        if m.id:
            assert sorted(PLACEHOLDER.findall(str(m.id))) == sorted(PLACEHOLDER.findall(str(m.string))), m.id
            assert m.string != m.id, f"{code} copies the English: {m.id!r}"
