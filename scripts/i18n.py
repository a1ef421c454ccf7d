#!/usr/bin/env python3
"""Extract the user interface's messages and bring every catalogue up to date.

    .venv/bin/python scripts/i18n.py            # write messages.pot, update ar/ckb/en .po
    .venv/bin/python scripts/i18n.py --check    # exit 1 if a catalogue misses a message

New messages arrive untranslated in ``ar`` and ``ckb``; the test suite fails
until a translator fills them in (tests/web/test_translations.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

WEB = Path(__file__).resolve().parent.parent / "src" / "istifta" / "web"
LOCALES = WEB.parent / "locales"
METHODS = [("templates/**.html", "jinja2"), ("**.py", "python")]
OPTIONS = {"templates/**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "true"}}
LANGUAGES = ("ar", "ckb", "en")


def extract() -> Catalog:
    template = Catalog(project="istifta", version="1", domain="messages", charset="utf-8", fuzzy=False)
    for filename, lineno, message, comments, context in extract_from_dir(
        WEB, METHODS, options_map=OPTIONS, keywords={"_": None, "gettext": None, "ngettext": (1, 2)}
    ):
        template.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return template


def po_path(code: str) -> Path:
    return LOCALES / code / "LC_MESSAGES" / "messages.po"


def update(template: Catalog) -> None:
    with (LOCALES / "messages.pot").open("wb") as f:
        write_po(f, template, width=100, omit_header=True)
    for code in LANGUAGES:
        path = po_path(code)
        if path.exists():
            with path.open("rb") as f:
                catalog = read_po(f, locale=code)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            catalog = Catalog(locale=code, domain="messages", charset="utf-8")
        catalog.update(template, no_fuzzy_matching=True)
        catalog.project, catalog.version, catalog.fuzzy = "istifta", "1", False
        catalog.header_comment = (
            f"# istifta's user interface: {code}.\n# Translate every message; tests fail on any left empty."
        )
        catalog.obsolete.clear()
        with path.open("wb") as f:
            write_po(f, catalog, width=100, omit_header=False, include_previous=False)


def main() -> int:
    template = extract()
    if "--check" in sys.argv:
        wanted = {m.id for m in template if m.id}
        for code in LANGUAGES:
            with po_path(code).open("rb") as f:
                have = {m.id for m in read_po(f, locale=code) if m.id}
            if wanted - have:
                print(f"{code}: {len(wanted - have)} messages missing; run scripts/i18n.py")
                return 1
        return 0
    update(template)
    print(f"{len(template)} messages in {LOCALES / 'messages.pot'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
