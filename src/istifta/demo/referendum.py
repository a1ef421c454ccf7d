"""``istifta demo``: a whole referendum on this machine, from nothing.

:func:`prepare` does what an organiser, three trustees and a registrar would:
the referendum with the question of the January 2024 debate in Arabic,
Sorani and English, the trustees' ceremony (all three on this machine: demo
only), a synthetic electorate spread over Iraq's governorates, opening, and
the invitations through the ``outbox`` gateway. :func:`simulate` is the
voters: concurrent clients casting through the real HTTP API, some voting
again, a few sending bad ballots that must be refused. :func:`finish` closes,
tallies, has two trustees decrypt, publishes, exports the record and
verifies it as any observer would. Every step calls the library the CLI and
the console call.
"""

from __future__ import annotations

import csv
import json
import os
import random
import re
import secrets
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from istifta.electorate.importer import import_registrations
from istifta.electorate.sealing import load_code_box
from istifta.errors import IstiftaError
from istifta.protocol.report import Report
from istifta.sms import invitations
from istifta.sms.gateways.outbox import read_outbox
from istifta.sms.settings import SmsSettings, load_sms_settings
from istifta.store.accounts import Accounts
from istifta.store.private import private_dir
from istifta.store.referendums import Referendums
from istifta.trustee.room import Ceremony, run_ceremony

__all__ = ["Demo", "MARKER", "ORGANISER", "SLUG", "finish", "prepare"]

SLUG = "coalition-2024"
MARKER = "DEMO-ONLY.txt"
ORGANISER = "organiser"
TIMEZONE = "Asia/Baghdad"
TEXT = {
    "title": {
        "ar": "الاستفتاء الإلكتروني على وجود التحالف الدولي",
        "ckb": "ڕاپرسیی ئەلیکترۆنی لەسەر مانەوەی هاوپەیمانیی نێودەوڵەتی",
        "en": "Electronic referendum on the international coalition's presence",
    },
    "question": {
        "ar": "هل تؤيد إنهاء مهمة التحالف الدولي في العراق؟",
        "ckb": "ئایا پشتگیری لە کۆتاییهێنان بە ئەرکی هاوپەیمانیی نێودەوڵەتی لە عێراق دەکەیت؟",
        "en": "Do you support ending the mission of the international coalition in Iraq?",
    },
    "yes": {"ar": "نعم", "ckb": "بەڵێ", "en": "Yes"},
    "no": {"ar": "لا", "ckb": "نەخێر", "en": "No"},
}
POPULATION = {  # rough shares of Iraq's population by governorate, in thousands: to spread the voters
    "Baghdad": 9000, "Nineveh": 4000, "Basra": 3200, "Sulaymaniyah": 2300, "Erbil": 2100, "Dhi Qar": 2200,
    "Babil": 2200, "Anbar": 1900, "Diyala": 1700, "Kirkuk": 1700, "Najaf": 1600, "Salah al-Din": 1700,
    "Duhok": 1400, "Wasit": 1400, "Diwaniyah": 1350, "Karbala": 1300, "Maysan": 1150, "Muthanna": 850,
}  # fmt: skip
KURDISH = {"Erbil", "Sulaymaniyah", "Duhok"}
DEMO_NOTE = """This folder was made by `istifta demo`: a demonstration, not a referendum.

demo-trustees/ holds the secret key shares of ALL THREE trustees. In a real
referendum each trustee keeps theirs on their own offline machine, and no one
ever holds t of them (docs/trustees.md). The voters, their phone numbers and
the organiser's account are synthetic. Running `istifta demo` again with this
folder replaces it.
"""


@dataclass
class Demo:
    data_dir: Path
    refs: Referendums
    trustees: Ceremony
    sms: SmsSettings
    password: str
    """The demo organiser's console password (also in ``demo-organiser.txt``, mode 0600)."""

    def links(self) -> list[tuple[str, str]]:
        """(phone, voting link) of every invitation in the outbox, oldest first."""
        found = []
        for entry in read_outbox(self.data_dir):
            link = re.search(r"https?://\S+", entry.text)
            if link:
                found.append((entry.phone, link.group(0)))
        return found


def fresh(data_dir: Path) -> None:
    """Make ``data_dir`` empty: a folder a demo made is replaced; anything else is refused."""
    if data_dir.exists() and any(data_dir.iterdir()):
        if not (data_dir / MARKER).exists():
            raise IstiftaError(
                f"{data_dir} exists and was not made by istifta demo: choose another --data-dir"
            )
        shutil.rmtree(data_dir)
    private_dir(data_dir)
    (data_dir / MARKER).write_text(DEMO_NOTE, encoding="utf-8")


def manifest(now: datetime) -> dict[str, Any]:
    start = now.replace(second=0, microsecond=0) - timedelta(minutes=5)
    return {
        "version": "istifta/1",
        "slug": SLUG,
        "title": TEXT["title"],
        "questions": [
            {
                "text": TEXT["question"],
                "options": [{"label": TEXT["yes"]}, {"label": TEXT["no"]}],
                "min": 1,
                "max": 1,
            }
        ],
        "opens_at": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "closes_at": (start + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "trustees": {"n": 3, "threshold": 2},
    }


def electorate_file(path: Path, voters: int, rng: random.Random) -> None:
    """``voters`` synthetic voters (phone, region, language), spread over the governorates
    by population; Kurdistan's voters read Sorani, one in twenty elsewhere English."""
    regions = list(POPULATION)
    weights = list(POPULATION.values())
    with path.open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(["phone", "region", "language"])
        for i in range(voters):
            region = rng.choices(regions, weights)[0]
            language = "ckb" if region in KURDISH else ("en" if i % 20 == 19 else "ar")
            out.writerow([f"+96477{i:08d}", region, language])


def prepare(data_dir: Path, voters: int, link_base: str, sms_rate: float = 1000.0) -> Demo:
    """The referendum open, its electorate invited; see the module's docstring."""
    fresh(data_dir)
    refs = Referendums.open(data_dir)
    m = manifest(datetime.now(UTC))
    refs.create(m)
    trustees = run_ceremony(m, data_dir / "demo-trustees", os.urandom)
    refs.add_trustees(
        SLUG, [(json.loads(trustees.public(j).read_text()), str(trustees.public(j))) for j in (1, 2, 3)]
    )
    people = data_dir / "demo-electorate.csv"
    electorate_file(people, voters, random.Random(voters))
    import_registrations(refs, SLUG, people, load_code_box(data_dir), dry_run=False)
    refs.open_election(SLUG)
    sms = load_sms_settings(
        data_dir=data_dir, gateway="outbox", link_base=link_base, rate=sms_rate, max_segments=2
    )
    invitations.invite(refs, SLUG, sms, TIMEZONE, datetime.now(UTC))
    import asyncio

    asyncio.run(invitations.dispatcher(refs, SLUG, sms, TIMEZONE).run(follow=False))
    password = secrets.token_urlsafe(12)
    Accounts(refs.store).create(ORGANISER, password, "organiser", by="istifta demo")
    secret = data_dir / "demo-organiser.txt"
    secret.touch(mode=0o600)
    secret.write_text(f"console: {link_base}/console\nusername: {ORGANISER}\npassword: {password}\n")
    return Demo(data_dir, refs, trustees, sms, password)


def finish(demo: Demo, jobs: int = 1) -> tuple[Path, Report]:
    """Close, tally, two trustees decrypt, publish, export the record and verify it."""
    from istifta.protocol.verify import verify_record
    from istifta.record.io import read_record, write_record
    from istifta.record.pool import process_pool_verifier

    refs = demo.refs
    refs.close(SLUG)
    refs.tally(SLUG)
    refs.add_partial_decryptions(SLUG, [demo.trustees.partial(j, refs, SLUG, os.urandom) for j in (1, 2)])
    refs.publish_result(SLUG)
    path = demo.data_dir / "record.zip"
    with refs.record_stream(SLUG) as record:
        write_record(path, record)
    verifier = process_pool_verifier(jobs) if jobs > 1 else None
    return path, verify_record(read_record(path), verify_ballots=verifier)
