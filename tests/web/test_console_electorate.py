"""The console's Electorate page: the counts by region and language, and a file
of voters uploaded, checked (every bad row named, nothing imported) and then
imported, by an organiser or a registrar, only while the referendum is a draft."""

from __future__ import annotations

import html
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from istifta.crypto.credentials import credential_secret, public_credential
from istifta.store.accounts import Accounts
from istifta.testing import live_manifest
from istifta.web.console import uploads as console_uploads

from .conftest import Live, serve
from .test_console import PASSWORD, sign_in

DRAFT = "draft-one"
BAD = (
    "phone,region,language\n"
    "0770 123 4567,Basra,ar\n"
    "07701234,Baghdad,ar\n"
    "+964 750 111 2222,هەولێر,کوردی\n"
    "0781 234 5678,Atlantis,\n"
)
GOOD = BAD.replace("07701234,", "0771 234 5678,").replace("Atlantis", "Basrah")


@pytest.fixture
def site(tmp_path: Path, store_url: str | None) -> Iterator[Live]:
    for live in serve(tmp_path, store_url):
        live.refs.create(live_manifest(slug=DRAFT))
        accounts = Accounts(live.refs.store)
        accounts.create("org", PASSWORD, "organiser")
        accounts.create("reg", PASSWORD, "registrar")
        accounts.create("watcher", PASSWORD, "observer")
        yield live


def csrf_of(client: TestClient, slug: str = DRAFT) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', client.get(f"/console/r/{slug}/electorate").text)
    assert found
    return found.group(1)


def upload(client: TestClient, text: str, csrf: str | None, slug: str = DRAFT, **fields: str) -> Response:
    data = {"default_language": "ar", "country": "IQ", **fields}
    if csrf is not None:
        data["csrf"] = csrf
    return client.post(
        f"/console/r/{slug}/electorate/check?lang=en",
        data=data,
        files={"file": ("voters.csv", text.encode(), "text/csv")},
        follow_redirects=False,
    )


def apply(client: TestClient, upload_id: str, csrf: str, slug: str = DRAFT) -> Response:
    return client.post(
        f"/console/r/{slug}/electorate/apply?lang=en",
        data={"upload": upload_id, "csrf": csrf},
        follow_redirects=False,
    )


def upload_id(page: Response) -> str:
    found = re.search(r'name="upload" value="([0-9a-f]{32})"', page.text)
    assert found, page.text
    return found.group(1)


def text(page: Response) -> str:
    return html.unescape(re.sub(r"\s+", " ", page.text))


def uploads_left(site: Live) -> list[str]:
    return sorted(p.name for p in (site_data(site) / "uploads").glob("*"))


def site_data(site: Live) -> Path:
    settings = site.client.app.state.services.settings  # type: ignore[attr-defined]
    return Path(settings.data_dir)


def test_bad_rows_are_all_named_and_nothing_is_imported_then_the_fixed_file_is(site: Live) -> None:
    sign_in(site.client, "org")
    csrf = csrf_of(site.client)
    refused = upload(site.client, BAD, csrf)
    assert refused.status_code == 422
    page = text(refused)
    assert "voters.csv: 2 bad rows" in page
    assert "<td>3</td><td dir=\"ltr\">'07701234' is not a phone number in Iraq</td>" in page
    assert "<td>5</td><td dir=\"ltr\">'Atlantis' is not one of Iraq's 18 governorates" in page
    assert "Nothing was imported; fix the file and upload it again." in page
    assert "Import these" not in page
    assert site.views.electorate_counts(DRAFT).total == 0
    assert uploads_left(site) == []

    checked = upload(site.client, GOOD, csrf)
    assert checked.status_code == 200
    page = text(checked)
    assert "voters.csv is ready to import" in page and "Import these 4 voters" in page
    assert "phone ← “phone”" in page and "region ← “region”" in page
    assert site.views.electorate_counts(DRAFT).total == 0  # the dry run changed nothing

    done = apply(site.client, upload_id(checked), csrf)
    assert done.status_code == 303
    after = text(site.client.get(done.headers["location"] + "&lang=en"))
    assert "4 voters imported." in after
    rows = re.findall(r"<tr><td>([^<]+)</td><td>([^<]+)</td></tr>", after)
    assert rows[:3] == [("Basra", "2"), ("Baghdad", "1"), ("Erbil", "1")]  # the most voters first
    assert "<td>Arabic</td><td>3</td>" in after and "<td>Sorani Kurdish</td><td>1</td>" in after
    counts = site.views.electorate_counts(DRAFT)
    assert (counts.total, counts.by_region) == (4, {"Basra": 2, "Baghdad": 1, "Erbil": 1})
    assert uploads_left(site) == []
    assert "import electorate: draft-one: 4 voters" in text(site.client.get("/console?lang=en"))

    again = apply(site.client, upload_id(checked), csrf)  # the same upload, a second time
    assert again.status_code == 404 and "unknown or has expired" in again.text
    assert site.views.electorate_counts(DRAFT).total == 4


def test_a_registrar_imports_a_file_of_public_credentials(site: Live) -> None:
    mh = bytes.fromhex(site.refs.manifest(DRAFT).manifest_hash)
    keys = [public_credential(credential_secret(mh, "0" * 25 + str(k))).hex() for k in range(3)]
    sign_in(site.client, "reg")
    csrf = csrf_of(site.client)
    twice = upload(site.client, f"credential,region\n{keys[0]},Mosul\n{keys[0]},Mosul\nnot-hex,\n", csrf)
    assert twice.status_code == 422
    assert "appears twice in the file: lines 2 and 3" in text(twice) and "<td>4</td>" in twice.text
    checked = upload(site.client, f"credential,region\n{keys[0]},Mosul\n{keys[1]},Mosul\n{keys[2]},\n", csrf)
    assert "Import these 3 voters" in text(checked)
    assert apply(site.client, upload_id(checked), csrf).status_code == 303
    assert site.views.electorate_counts(DRAFT).by_region == {"Mosul": 2, None: 1}


def test_an_observer_reads_the_page_but_cannot_upload(site: Live) -> None:
    sign_in(site.client, "watcher")
    page = site.client.get(f"/console/r/{DRAFT}/electorate?lang=en")
    assert page.status_code == 200 and "Electorate" in page.text and "Check the file" not in page.text
    csrf = csrf_of(site.client)
    assert upload(site.client, GOOD, csrf).status_code == 403
    assert apply(site.client, "0" * 32, csrf).status_code == 403
    assert site.views.electorate_counts(DRAFT).total == 0


def test_a_post_without_its_csrf_token_is_refused(site: Live) -> None:
    sign_in(site.client, "org")
    csrf = csrf_of(site.client)
    assert upload(site.client, GOOD, None).status_code == 403
    assert upload(site.client, GOOD, "f" * 64).status_code == 403
    assert uploads_left(site) == []
    checked = upload(site.client, GOOD, csrf)
    no_token = site.client.post(
        f"/console/r/{DRAFT}/electorate/apply", data={"upload": upload_id(checked)}, follow_redirects=False
    )
    assert no_token.status_code == 403
    assert site.views.electorate_counts(DRAFT).total == 0


def test_once_open_the_electorate_is_frozen(site: Live) -> None:
    sign_in(site.client, "org")
    before = site.views.electorate_counts(site.slug).total
    page = text(site.client.get(f"/console/r/{site.slug}/electorate?lang=en"))
    assert "The electorate is frozen" in page and "Check the file" not in page
    refused = upload(site.client, GOOD, csrf_of(site.client, site.slug), slug=site.slug)
    assert refused.status_code == 409 and "The electorate is frozen" in text(refused)
    assert site.views.electorate_counts(site.slug).total == before
    assert uploads_left(site) == []


def test_an_upload_id_names_nothing_outside_the_uploads(site: Live) -> None:
    sign_in(site.client, "org")
    csrf = csrf_of(site.client)
    (site_data(site) / "uploads").mkdir(exist_ok=True)
    (site_data(site) / "secret.json").write_text('{"slug": "draft-one", "filename": "x", "options": {}}')
    (site_data(site) / "secret.csv").write_text(GOOD)  # what uploads/../secret would name
    for bad in ("../secret", "../../data/secret", "0" * 32, "A" * 32, "0" * 31 + "/"):
        answer = apply(site.client, bad, csrf)
        assert answer.status_code == 404, bad
        assert "unknown or has expired" in answer.text
    assert site.views.electorate_counts(DRAFT).total == 0


def test_an_upload_is_imported_only_into_the_referendum_it_was_checked_for(site: Live) -> None:
    site.refs.create(live_manifest(slug="draft-two"))
    sign_in(site.client, "org")
    csrf = csrf_of(site.client)
    checked = upload(site.client, GOOD, csrf)
    elsewhere = apply(site.client, upload_id(checked), csrf, slug="draft-two")
    assert elsewhere.status_code == 404 and "unknown or has expired" in elsewhere.text
    assert site.views.electorate_counts("draft-two").total == 0
    assert apply(site.client, upload_id(checked), csrf).status_code == 303  # still there for its own


def test_a_file_too_large_is_refused_and_not_kept(site: Live, monkeypatch: pytest.MonkeyPatch) -> None:
    sign_in(site.client, "org")
    csrf = csrf_of(site.client)
    monkeypatch.setattr(console_uploads, "MAX_UPLOAD", 64)
    too_large = upload(site.client, GOOD, csrf)
    assert too_large.status_code == 413 and "larger than" in too_large.text
    assert uploads_left(site) == []
    assert site.views.electorate_counts(DRAFT).total == 0


def test_columns_named_otherwise_are_read_as_the_form_says(site: Live) -> None:
    sign_in(site.client, "org")
    csrf = csrf_of(site.client)
    unknown = upload(site.client, "Tel\n0770 123 4567\n", csrf)
    assert unknown.status_code == 400 and "one of them the phone" in text(unknown)
    mapped = upload(site.client, "Tel\n0770 123 4567\n", csrf, column_phone="Tel", default_language="en")
    assert "Import these 1 voters" in text(mapped) and "phone ← “Tel”" in text(mapped)
    assert "<td>English</td><td>1</td>" in mapped.text


def test_old_uploads_are_swept(tmp_path: Path) -> None:
    folder = tmp_path / "uploads"
    folder.mkdir()
    old, new = folder / f"{'a' * 32}.csv", folder / f"{'b' * 32}.csv"
    old.write_text("x")
    new.write_text("x")
    os.utime(old, (time.time() - 2 * console_uploads.KEEP_SECONDS,) * 2)
    console_uploads.sweep(folder)
    assert sorted(p.name for p in folder.iterdir()) == [new.name]
