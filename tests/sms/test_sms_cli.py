"""``istifta sms`` refuses bad templates with a clear message and queues nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from istifta.cli import app
from istifta.crypto.rng import SeededRandom
from istifta.electorate.sealing import load_code_box
from istifta.sms import queue
from istifta.store.referendums import Referendums
from istifta.testing import live_manifest, open_referendum


@pytest.mark.parametrize(
    ("templates", "says"),
    [
        ({"invitation": "صوّت: {link}"}, "invitation is not"),
        ({"invitation": {"fr": "Votez : {link}"}}, "invitation is not"),
        ({"invitation": {"ar": 7}}, "invitation is not"),
        ({"greeting": {"ar": "{link}"}}, "expected an object with invitation and reminder"),
        (
            {"invitation": {"ar": "صوّت في الاستفتاء الوطني على إنهاء مهمة التحالف الدولي: {link}"}},
            "shorten it by",
        ),
        # A width or precision: hundreds of MB padded under the interpreter's lock, or no link at all.
        ({"invitation": {"ar": "صوّت: {link:>300000000}"}}, "write the placeholder alone, as {link}"),
        ({"invitation": {"ar": "صوّت: {link:.0}"}}, "write the placeholder alone, as {link}"),
        ({"invitation": {"ar": "صوّت: {link!r}"}}, "write the placeholder alone, as {link}"),
        ({"invitation": {"ar": "صوّت: {link[0]}"}}, "unknown placeholder"),
    ],
)
def test_bad_templates_are_refused_and_nothing_is_queued(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, templates: object, says: str
) -> None:
    data = tmp_path / "data"
    refs = Referendums.open(data)
    open_referendum(refs, live_manifest(slug="c24"), 3, (), SeededRandom("cli"), load_code_box(data))
    refs.close_store()
    path = tmp_path / "templates.json"
    path.write_text(json.dumps({"reminder": {"ar": "{link}"}, **templates}), encoding="utf-8")  # type: ignore[dict-item]
    monkeypatch.setenv("ISTIFTA_SMS_LINK_BASE", "https://ist.iq")
    result = CliRunner().invoke(
        app, ["sms", "invite", "c24", "--templates", str(path), "--data-dir", str(data)]
    )
    assert result.exit_code == 2 and says in result.output, result.output
    refs = Referendums.open(data)
    try:
        assert queue.counts(refs.store, "c24").by_state["queued"] == 0
    finally:
        refs.close_store()
