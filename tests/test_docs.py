"""Docs that cannot go stale: every command the CLI registers is in docs/cli.md,
every setting of the web server in docs/settings.md."""

from __future__ import annotations

from pathlib import Path

import typer

from istifta.cli import app

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _commands(group: typer.Typer, prefix: str = "istifta") -> list[str]:
    names = [
        f"{prefix} {c.name or (c.callback.__name__ if c.callback else '')}" for c in group.registered_commands
    ]
    for sub in group.registered_groups:
        assert sub.typer_instance is not None and sub.name is not None
        names += _commands(sub.typer_instance, f"{prefix} {sub.name}")
    return names


def test_every_command_is_documented() -> None:
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    commands = _commands(app)
    assert len(commands) >= 4
    for command in commands:
        assert f"`{command}" in text, f"docs/cli.md does not document `{command}`"


def test_the_readme_shows_the_command_ci_runs() -> None:
    root = DOCS.parent
    ci = (root / ".ci" / "run").read_text(encoding="utf-8")
    assert "./scripts/test" in ci
    assert "./scripts/test" in (root / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_documented() -> None:
    from istifta.web.settings import SETTINGS, WebSettings

    text = (DOCS / "settings.md").read_text(encoding="utf-8")
    for setting in SETTINGS:
        assert f"`{setting.env}`" in text, f"docs/settings.md does not document {setting.env}"
        assert setting.name in WebSettings.__dataclass_fields__


def test_every_sms_setting_is_documented() -> None:
    from istifta.sms.settings import SMS_SETTINGS, SmsSettings

    text = (DOCS / "settings.md").read_text(encoding="utf-8")
    for setting in SMS_SETTINGS:
        assert f"`{setting.env}`" in text, f"docs/settings.md does not document {setting.env}"
        assert setting.name in SmsSettings.__dataclass_fields__
