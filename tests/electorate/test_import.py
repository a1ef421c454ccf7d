"""Importing the electorate with phones (``istifta electorate import``): what lands
in the store, every kind of bad row named by its line with nothing imported,
the formats registrars' files come in, the codes sealed and erased at close,
and a million rows in bounded memory."""

from __future__ import annotations

import io
import os
import random
import re
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import phonenumbers
import pytest
from nacl.public import PrivateKey
from sqlalchemy import func, select
from typer.testing import CliRunner, Result

from istifta.cli import app
from istifta.crypto.credentials import credential_secret, public_credential
from istifta.crypto.rng import SeededRandom
from istifta.crypto.threshold import generate_trustee
from istifta.electorate.importer import BATCH, ImportReport, import_registrations, normalise_phone
from istifta.electorate.regions import IRAQ, canonical_region
from istifta.electorate.registrar_file import HEADER_NAMES, LANGUAGE_NAMES, find_columns, language_code
from istifta.electorate.sealing import CodeBox
from istifta.errors import DecodeError, ImportProblems, WrongState
from istifta.store.models import Registration, Voter
from istifta.store.referendums import Referendums
from istifta.testing import SteppingClock, manifest_json
from istifta.trustee.files import TrusteeFile

SLUG = "test-referendum"
BOX = CodeBox(bytes(range(32)))


@pytest.fixture
def refs(tmp_path: Path, store_url: str | None) -> Iterator[Referendums]:
    """A draft referendum on each store."""
    r = Referendums.open(tmp_path / "data", store_url, clock=SteppingClock())
    r.create(manifest_json())
    yield r
    r.close_store()


@pytest.fixture
def lite(tmp_path: Path) -> Iterator[Referendums]:
    """A draft referendum on SQLite, for what does not depend on the store."""
    r = Referendums.open(tmp_path / "data", None, clock=SteppingClock())
    r.create(manifest_json())
    yield r
    r.close_store()


def run(refs: Referendums, text: str | bytes, *, dry_run: bool = False, **options: Any) -> ImportReport:
    data = text.encode("utf-8") if isinstance(text, str) else text
    options.setdefault("rng", SeededRandom(f"import {data!r}"))
    return import_registrations(refs, SLUG, io.BytesIO(data), BOX, dry_run=dry_run, **options)


def problems(refs: Referendums, text: str, **options: Any) -> list[tuple[int, str]]:
    """The bad rows of ``text``, checking that the refused import changed nothing."""
    before = counts(refs)
    with pytest.raises(ImportProblems) as refused:
        run(refs, text, **options)
    assert counts(refs) == before
    assert refused.value.count == len(refused.value.problems)
    return refused.value.problems


def counts(refs: Referendums) -> tuple[int, int]:
    """(registrations, electorate) of the referendum."""
    with refs.store.session() as s:
        return tuple(  # type: ignore[return-value]
            s.execute(select(func.count()).select_from(t).where(t.election_id == 1)).scalar_one()
            for t in (Registration, Voter)
        )


def registrations(refs: Referendums) -> list[tuple[Any, ...]]:
    with refs.store.session() as s:
        rows = s.execute(
            select(
                Registration.number,
                Registration.phone,
                Registration.region,
                Registration.language,
                Registration.line,
            ).order_by(Registration.number)
        )
        return [tuple(r) for r in rows]


CLEAN = """phone,region,language
0770 123 4567,Basra,ar
+964 750-111-2222,Erbil,ckb
009647812345678,baghdad,English
7801234567,Al-Anbar,
"""


def test_a_clean_file_issues_each_voter_a_credential(refs: Referendums) -> None:
    report = run(refs, CLEAN)
    assert report == ImportReport(
        4,
        {"Basra": 1, "Erbil": 1, "Baghdad": 1, "Anbar": 1},
        {"ar": 2, "ckb": 1, "en": 1},
        False,
        {"phone": "phone", "region": "region", "language": "language"},
    )
    assert registrations(refs) == [
        (1, "+9647701234567", "Basra", "ar", 2),
        (2, "+9647501112222", "Erbil", "ckb", 3),
        (3, "+9647812345678", "Baghdad", "en", 4),
        (4, "+9647801234567", "Anbar", "ar", 5),
    ]
    # Each sealed code opens with the data directory's box and derives the P that is
    # both in the registration and, with the region, in the public electorate.
    mh = bytes.fromhex(refs.manifest(SLUG).manifest_hash)
    with refs.store.session() as s:
        regs = s.execute(select(Registration.credential, Registration.code_sealed, Registration.region)).all()
        voters = {(c, r) for c, r in s.execute(select(Voter.credential, Voter.region))}
    codes = set()
    for credential, sealed, region in regs:
        code = BOX.open(sealed)
        codes.add(code)
        assert public_credential(credential_secret(mh, code)).to_bytes() == credential
        assert (credential, region) in voters
    assert len(codes) == len(voters) == 4


def test_each_bad_row_is_named_by_its_line_and_nothing_is_imported(refs: Referendums) -> None:
    run(refs, "phone\n07501234567\n")
    found = problems(
        refs,
        "phone,region,language\n"  # 1
        "07701234567,Basra,ar\n"  # 2: good
        "07701234,Basra,ar\n"  # 3
        "hello,Basra,ar\n"  # 4
        "+96412345678,Basra,ar\n"  # 5: a Baghdad landline
        "07701234567,Basra,ar\n"  # 6
        "07801234567,Atlantis,ar\n"  # 7
        "07811234567,Basra,fr\n"  # 8
        "07821234567,Basra\n"  # 9
        "\n"  # 10: blank, skipped
        "07831234567,Basra,ar,x\n"  # 11
        ",Basra,ar\n"  # 12
        "07841234567,,ar\n"  # 13
        "0750 123 4567,Basra,ar\n",  # 14: in the first import
    )
    assert found == [
        (3, "'07701234' is not a phone number in Iraq"),
        (4, "'hello' is not a phone number"),
        (5, "'+96412345678' is a landline: the voting link goes by SMS to a mobile"),
        (6, "+9647701234567 is a duplicate of line 2"),
        (7, "'Atlantis' is not one of Iraq's 18 governorates (or import with --any-region)"),
        (8, "'fr' is not a language istifta sends in: use ar, ckb or en"),
        (9, "2 cells where line 1 has 3"),
        (11, "4 cells where line 1 has 3"),
        (12, "no phone number"),
        (13, "no region: each row needs one of Iraq's 18 governorates (or import with --any-region)"),
        (14, "+9647501234567 is a duplicate of line 2 of an earlier import"),
    ]
    assert counts(refs) == (1, 1)


def test_a_file_that_is_not_utf8_or_not_csv_is_refused_by_line(lite: Referendums) -> None:
    found = problems(lite, b"phone,region\n07701234567,Basra\n07711234567,Mosul\xe9\n")
    assert found == [(3, "not UTF-8 text (save the file as CSV UTF-8)")]
    with pytest.raises(DecodeError, match="line 1: not UTF-8 text"):
        run(lite, b"t\xe9l\xe9phone\n07701234567\n")
    with pytest.raises(DecodeError, match="the first line must name the columns"):
        run(lite, "")
    with pytest.raises(DecodeError, match="one of them the phone .* it has 'name', 'age'"):
        run(lite, "name,age\nAli,30\n")
    found = problems(lite, 'phone\n07701234567\n"07711234567\n' + "0772 123 4567\n" * 30_000)
    assert found[0][0] == 3 and "is a quote left open?" in found[0][1]


def test_a_bom_and_arabic_headers(lite: Referendums) -> None:
    text = (
        "\ufeffرقم الموبايل,المحافظة,اللغة,الاسم\n"
        "07701234567,البصرة,عربي,علي\n"
        "07711234567,محافظة نينوى,كردي,عمر\n"
    )
    report = run(lite, text.encode("utf-8"))
    assert report.columns == {"phone": "رقم الموبايل", "region": "المحافظة", "language": "اللغة"}
    assert registrations(lite) == [
        (1, "+9647701234567", "Basra", "ar", 2),
        (2, "+9647711234567", "Nineveh", "ckb", 3),
    ]


def test_cells_separated_by_semicolons_or_tabs(lite: Referendums) -> None:
    run(lite, "phone;region\n0770 123 4567;Basra\n")
    assert problems(lite, "phone\tregion\n07711234567\tBasra\n07721234567,Basra\n") == [
        (3, "1 cell where line 1 has 2")
    ]
    run(lite, "phone\tregion\n07711234567\tBasra\n")
    assert [r[1:3] for r in registrations(lite)] == [("+9647701234567", "Basra"), ("+9647711234567", "Basra")]


def test_sorani_headers(lite: Referendums) -> None:
    text = "ژمارەی مۆبایل,پارێزگا,زمان\n0750 123 4567,هەولێر,کوردی\n0751 123 4567,سلێمانی,ئینگلیزی\n"
    run(lite, text)
    assert registrations(lite) == [
        (1, "+9647501234567", "Erbil", "ckb", 2),
        (2, "+9647511234567", "Sulaymaniyah", "en", 3),
    ]


def test_arabic_indic_and_persian_digits_in_numbers(lite: Referendums) -> None:
    run(lite, "الهاتف\n٠٧٧٠١٢٣٤٥٦٧\n۰۷۵۰ ۱۲۳ ۴۵۶۷\n+٩٦٤ ٧٨٠ ١٢٣ ٤٥٦٧\n", regions=None)
    assert [r[1] for r in registrations(lite)] == ["+9647701234567", "+9647501234567", "+9647801234567"]


def test_a_second_import_continues_the_numbering_and_catches_duplicates(refs: Referendums) -> None:
    run(refs, "phone,region\n07701234567,Basra\n07711234567,Basra\n")
    found = problems(refs, "phone,region\n07721234567,Kirkuk\n+9647711234567,Kirkuk\n")
    assert found == [(3, "+9647711234567 is a duplicate of line 3 of an earlier import")]
    run(refs, "phone,region\n07721234567,Kirkuk\n07731234567,Kirkuk\n")
    assert registrations(refs) == [
        (1, "+9647701234567", "Basra", "ar", 2),
        (2, "+9647711234567", "Basra", "ar", 3),
        (3, "+9647721234567", "Kirkuk", "ar", 2),
        (4, "+9647731234567", "Kirkuk", "ar", 3),
    ]
    assert counts(refs) == (4, 4)


def test_duplicates_are_found_across_batches(lite: Referendums) -> None:
    rows = [f"0770{i:07d}" for i in range(BATCH + 2_000)]
    found = problems(lite, "phone\n" + "\n".join([*rows, "07700000003"]) + "\n", dry_run=True)
    assert found == [(len(rows) + 2, "+9647700000003 is a duplicate of line 5")]


def test_past_the_first_batch_worker_processes_issue_the_credentials(lite: Referendums) -> None:
    rows = [f"0770{i:07d}" for i in range(BATCH + 2_000)]
    run(lite, "phone\n" + "\n".join(rows) + "\n", rng=os.urandom, workers=2)
    mh = bytes.fromhex(lite.manifest(SLUG).manifest_hash)
    with lite.store.session() as s:
        issued = s.execute(
            select(Registration.credential, Registration.code_sealed).where(Registration.number > BATCH)
        ).all()
        electorate = s.execute(select(func.count()).select_from(Voter)).scalar_one()
    assert len(issued) == 2_000 and electorate == len(rows)
    codes = {BOX.open(sealed) for _, sealed in issued}
    assert len(codes) == 2_000
    for credential, sealed in issued[:50]:
        assert public_credential(credential_secret(mh, BOX.open(sealed))).to_bytes() == credential


def test_a_dry_run_reports_and_changes_nothing(refs: Referendums) -> None:
    before = counts(refs)
    dry = run(refs, CLEAN, dry_run=True)
    assert counts(refs) == before == (0, 0)
    real = run(refs, CLEAN)
    assert dry == ImportReport(real.imported, real.by_region, real.by_language, True, real.columns)
    again = problems(refs, CLEAN, dry_run=True)
    assert again[0] == (2, "+9647701234567 is a duplicate of line 2 of an earlier import")


def _ceremony(r: Referendums) -> None:
    m = r.manifest(SLUG)
    rng = SeededRandom("import ceremony")
    for i in range(1, m.n + 1):
        _, public = generate_trustee(i, m.threshold, bytes.fromhex(m.manifest_hash), rng)
        r.add_trustee(SLUG, TrusteeFile(m.manifest_hash, public, PrivateKey.generate().public_key).to_json())


def test_no_import_once_open_and_the_codes_are_erased_at_close(refs: Referendums) -> None:
    _ceremony(refs)
    run(refs, CLEAN)
    params = refs.open_election(SLUG)
    assert params.electorate_size == 4
    with pytest.raises(WrongState, match=f"{SLUG} is open: this is done before it opens"):
        run(refs, "phone\n07791234567\n")
    assert counts(refs) == (4, 4)
    with refs.store.session() as s:
        assert None not in s.execute(select(Registration.code_sealed)).scalars().all()
    refs.close(SLUG)
    with refs.store.session() as s:
        assert s.execute(select(Registration.code_sealed)).scalars().all() == [None] * 4
    assert [r[1] for r in registrations(refs)][:1] == ["+9647701234567"]  # phones stay, for reports


def test_the_store_never_holds_a_code_in_clear(lite: Referendums, tmp_path: Path) -> None:
    run(lite, CLEAN, rng=os.urandom)
    with lite.store.session() as s:
        codes = [BOX.open(c) for c in s.execute(select(Registration.code_sealed)).scalars()]
    lite.close_store()
    raw = b"".join(p.read_bytes() for p in (tmp_path / "data").glob("istifta.db*"))
    assert len(codes) == 4 and raw
    for code in codes:
        assert code.encode() not in raw


# --- the cells ---


def _reference(text: str) -> str | None:
    """What phonenumbers alone makes of ``text``: E.164 for a valid mobile, else None."""
    digits = str.maketrans("٠١٢٣٤٥٦٧٨٩", "0123456789")
    try:
        number = phonenumbers.parse(text.translate(digits), "IQ")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number) or phonenumbers.number_type(number) not in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    ):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _ours(text: str) -> str | None:
    try:
        return normalise_phone(text)
    except DecodeError:
        return None


def test_the_fast_path_gives_exactly_what_phonenumbers_gives() -> None:
    rng = random.Random(20240120)
    prefixes = ("", "0", "964", "+964", "00964", "+964 ", "0 ", "00", "+", "9640", "+9640", "1")
    accepted = 0
    for _ in range(10_000):
        n = rng.choice("0123456789") + "".join(rng.choices("0123456789", k=rng.choice((8, 9, 9, 9, 10))))
        if rng.random() < 0.7:
            n = "7" + n[1:]
        if rng.random() < 0.3:
            n = f"{n[:3]} {n[3:6]}-{n[6:]}"
        text = rng.choice(prefixes) + n
        if rng.random() < 0.1:
            text = text.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
        assert _ours(text) == _reference(text), text
        accepted += _ours(text) is not None
    assert accepted > 1_500  # the sample exercises the fast path, not only refusals


def test_phone_numbers_refused_for_what_they_are() -> None:
    assert normalise_phone("+44 7911 123456") == "+447911123456"  # a mobile abroad is a mobile
    assert normalise_phone("07911 123456", "GB") == "+447911123456"
    for text, reason in (
        ("0770-ABC-DEFG", "is not a phone number"),
        ("+44 20 7946 0958", "is a landline"),
        ("+800 1234 5678", "is not a mobile number"),
        ("+964 770 123", "is not a phone number"),
        ("   ", "no phone number"),
    ):
        with pytest.raises(DecodeError, match=reason):
            normalise_phone(text)


def test_regions_in_english_arabic_and_sorani() -> None:
    for text, name in (
        ("Basrah", "Basra"),
        ("البصرة", "Basra"),
        ("بەسرە", "Basra"),
        ("Ninawa", "Nineveh"),
        ("نينوى", "Nineveh"),
        ("Hewlêr", "Erbil"),
        ("أربيل", "Erbil"),
        ("اربيل", "Erbil"),
        ("Slemani", "Sulaymaniyah"),
        ("پارێزگای سلێمانی", "Sulaymaniyah"),
        ("Dohuk", "Duhok"),
        ("دهۆک", "Duhok"),
        ("Salah ad-Din", "Saladin"),
        ("صلاح الدين", "Saladin"),
        ("Thi Qar", "Dhi Qar"),
        ("Diwaniyah", "Al-Qadisiyyah"),
        ("qadisiyah", "Al-Qadisiyyah"),
        ("  Karbala Governorate ", "Karbala"),
        ("Atlantis", None),
        ("", None),
    ):
        assert canonical_region(text) == name, text
    assert len(IRAQ.names) == 18


DOCS = Path(__file__).resolve().parents[2] / "docs" / "electorate.md"


def _doc_table(heading: str) -> list[list[str]]:
    """The rows of the first table after ``heading`` in docs/electorate.md, cells split."""
    lines = DOCS.read_text(encoding="utf-8").split(heading, 1)[1].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| "))
    table = []
    for line in lines[start + 2 :]:
        if not line.startswith("| "):
            break
        table.append([cell.strip() for cell in line.strip().strip("|").split(" | ")])
    return table


def test_the_docs_list_exactly_the_names_accepted() -> None:
    regions = _doc_table("## Regions")
    assert [r[0] for r in regions] == list(IRAQ.names)
    for name, aliases in regions:
        for alias in aliases.split(", "):
            assert canonical_region(alias) == name, alias
    languages = {code.strip("`"): names.split(", ") for code, names in _doc_table("## Languages")}
    assert {code: tuple(n.casefold() for n in names) for code, names in languages.items()} == {
        code: tuple(n.casefold() for n in names) for code, names in LANGUAGE_NAMES.items()
    }
    text = DOCS.read_text(encoding="utf-8")
    for names in HEADER_NAMES.values():
        for name in names:
            assert name in text, name


def test_any_region_keeps_the_label_as_written(lite: Referendums) -> None:
    found = problems(lite, "phone,region\n07701234567,North\n07711234567," + "x" * 65 + "\n", regions=None)
    assert found == [(3, "a region has at most 64 characters; this one has 65")]
    run(lite, "phone,region\n07701234567,  North   bank \n07711234567,\n", regions=None)
    assert [r[2] for r in registrations(lite)] == ["North bank", None]


def test_languages_by_code_or_name() -> None:
    for text, code in (
        ("ar", "ar"),
        ("Arabic", "ar"),
        ("العربية", "ar"),
        ("CKB", "ckb"),
        ("Sorani", "ckb"),
        ("کوردی", "ckb"),
        ("كردي", "ckb"),
        ("english", "en"),
        ("انكليزي", "en"),
    ):
        assert language_code(text) == code, text
    with pytest.raises(DecodeError, match="'fr' is not a language"):
        language_code("fr")


def test_the_default_language_fills_empty_cells(lite: Referendums) -> None:
    run(lite, "phone,language\n07701234567,\n07711234567,ar\n", default_language="Kurdish")
    assert [r[3] for r in registrations(lite)] == ["ckb", "ar"]


def test_columns_found_by_name_or_mapped() -> None:
    assert find_columns(["Name", " Mobile Number ", "GOVERNORATE"]).names == {
        "phone": "Mobile Number",
        "region": "GOVERNORATE",
    }
    mapped = find_columns(["Tel", "Zone"], {"phone": "tel", "region": "ZONE"})
    assert (mapped.phone, mapped.region, mapped.language, mapped.width) == (0, 1, None, 2)
    for header, column_map, says in (
        (["phone", "mobile"], None, "columns 'phone', 'mobile' could each be the phone"),
        (["Tel"], {"phone": "Telephone"}, "no column is called 'Telephone'"),
        (["phone"], {"colour": "x"}, "there is no field 'colour'"),
        (["phone", "region"], {"language": "phone"}, "column 'phone' cannot be two fields"),
    ):
        with pytest.raises(DecodeError, match=says):
            find_columns(header, column_map)


# --- the command ---


def cli(tmp_path: Path, *args: str) -> Result:
    env = {"COLUMNS": "100", "ISTIFTA_DATA_DIR": None, "ISTIFTA_DATABASE_URL": None}
    return CliRunner().invoke(app, [*args, "--data-dir", str(tmp_path / "data")], env=env)


def test_the_command_imports_phones_and_shows_the_counts(lite: Referendums, tmp_path: Path) -> None:
    path = tmp_path / "voters.csv"
    path.write_text("Name,Tel,Zone\nAli,07701234567,Basra\nOmar,07711234567,basrah\nSara,07721234567,Erbil\n")
    options = ("--column", "phone=Tel", "--column", "region=zone")
    dry = cli(tmp_path, "electorate", "import", SLUG, str(path), *options, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "dry run: 3 voters would be added" in dry.stdout and counts(lite) == (0, 0)
    result = cli(tmp_path, "electorate", "import", SLUG, str(path), *options, "--default-language", "en")
    assert result.exit_code == 0, result.output
    assert "3 voters added to test-referendum" in result.stdout
    assert "phone from 'Tel', region from 'Zone'" in result.stdout
    assert re.search(r"│ Basra +│ +2 │", result.stdout) and re.search(r"│ en +│ +3 │", result.stdout)
    assert counts(lite) == (3, 3)
    assert (tmp_path / "data" / "sms.key").stat().st_mode & 0o077 == 0


def test_the_command_lists_bad_rows_and_changes_nothing(lite: Referendums, tmp_path: Path) -> None:
    path = tmp_path / "voters.csv"
    path.write_text("phone\n" + "".join(f"0770{i:03d}\n" for i in range(25)) + "07701234567\n")
    result = cli(tmp_path, "electorate", "import", SLUG, str(path))
    assert result.exit_code == 2 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0] == f"error: {path}: 25 bad rows; nothing imported"
    assert lines[1] == "  line 2: '0770000' is not a phone number in Iraq"
    assert lines[20] == "  line 21: '0770019' is not a phone number in Iraq"
    assert lines[21:] == ["  … and 5 more"]
    assert counts(lite) == (0, 0)
    for args, says in (
        (("--column", "phone"), "--column phone: expected FIELD=HEADER"),
        (("--country", "XX"), "'XX' is not a country code"),
        (("--default-language", "fr"), "'fr' is not a language"),
    ):
        refused = cli(tmp_path, "electorate", "import", SLUG, str(path), *args)
        assert refused.exit_code == 2 and says in refused.stderr, refused.output
    credentials = tmp_path / "credentials.csv"
    credentials.write_text("credential,region\n" + "ab" * 32 + ",Basra\n")
    for args, says in (
        (("--dry-run",), "holds public credentials: --dry-run and the other options are for files of phones"),
        ((), "credentials.csv, line 2: credential"),
    ):
        refused = cli(tmp_path, "electorate", "import", SLUG, str(credentials), *args)
        assert refused.exit_code == 2 and says in " ".join(refused.stderr.split()), refused.output


# --- a million rows ---


def _write_voters(path: Path, count: int) -> None:
    """Valid Iraqi mobiles in the two usual forms, every governorate in turn."""
    names = IRAQ.names
    with path.open("w", encoding="utf-8") as f:
        f.write("phone,region,language\n")
        for i in range(count):
            phone = f"+96478{i:08d}" if i % 2 else f"07{7 + i % 3}{i:08d}"
            f.write(f"{phone},{names[i % 18]},{('ar', 'ckb', 'en')[i % 3]}\n")


def test_a_million_rows_in_bounded_memory(tmp_path: Path) -> None:
    """The import streams: its peak Python allocation stays under 32 MB while a
    million registrations land. A batch of 5,000 rows in flight is a few MB
    (3 MB measured for the whole import); anything kept per row would break
    the bound: a set of the million phones alone is 100 MB."""
    rows = 1_000_000
    path = tmp_path / "voters.csv"
    _write_voters(path, rows)
    refs = Referendums.open(tmp_path / "data")
    try:
        refs.create(manifest_json())
        tracemalloc.start()
        started = time.perf_counter()
        report = import_registrations(refs, SLUG, path, BOX, dry_run=False)
        seconds = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"{rows:,} rows in {seconds:.1f} s under tracemalloc, peak {peak / 1e6:.1f} MB")
        assert report.imported == rows
        assert peak < 32e6, f"peak {peak / 1e6:.1f} MB"
        assert counts(refs) == (rows, rows)
        assert report.by_region["Basra"] == rows // 18 + (IRAQ.names.index("Basra") < rows % 18)
    finally:
        refs.close_store()
