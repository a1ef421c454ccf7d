"""The console's sign-in throttle (issue 13, finding 6), on real ``istifta serve``
processes: failures are counted in the store, so that a lock one worker sets
holds in every other; and password hashing is capped per process, so that a
flood of anonymous sign-ins neither takes every thread nor 64 MiB each."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from istifta.store.accounts import ACCOUNT_FAILURES, Accounts
from istifta.store.passwords import HASHING_AT_ONCE
from istifta.store.referendums import Referendums

from .process import Server, serving

PASSWORD = "correct horse battery"
MiB = 1 << 20


def _sign_in(server: Server, username: str, password: str, address: str) -> str:
    """Where the sign-in form sends a client from ``address`` (the proxy's X-Forwarded-For)."""
    with httpx.Client(base_url=server.url, headers={"x-forwarded-for": address}, timeout=60) as client:
        page = client.get("/console/login").text
        csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
        assert csrf
        form = {"username": username, "password": password, "csrf": csrf.group(1)}
        answer = client.post("/console/login", data=form)
        assert answer.status_code == 303, answer.text
        return str(answer.headers["location"])


def _accounts(data_dir: Path, url: str | None) -> None:
    refs = Referendums.open(data_dir, url)
    Accounts(refs.store).create("org", PASSWORD, "organiser")
    refs.close_store()


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_a_lock_set_through_one_worker_holds_in_another(tmp_path: Path, store_url: str) -> None:
    url = store_url
    _accounts(tmp_path / "data", url)
    environ = {"ISTIFTA_DATABASE_URL": url, "ISTIFTA_TRUST_FORWARDED": "true"}
    with (
        serving(tmp_path / "data", tmp_path / "tmp-a", **environ) as first,
        serving(tmp_path / "data", tmp_path / "tmp-b", **environ) as second,
    ):
        for n in range(ACCOUNT_FAILURES):  # half through each worker, each guess from a new address
            worker = (first, second)[n % 2]
            assert _sign_in(worker, "org", f"guess {n}", f"198.51.100.{n}") == "/console/login?failed=wrong"
        for worker in (first, second):  # locked everywhere, even with the right password
            assert _sign_in(worker, "org", PASSWORD, "203.0.113.7").startswith("/console/login?failed=locked")


def test_a_flood_of_sign_ins_hashes_a_few_passwords_at_a_time(tmp_path: Path) -> None:
    _accounts(tmp_path / "data", None)
    with serving(tmp_path / "data", tmp_path / "tmp", ISTIFTA_TRUST_FORWARDED="true") as server:
        assert _sign_in(server, "org", PASSWORD, "192.0.2.1") == "/console"  # one argon2id, at least
        before = server.peak_memory()
        with ThreadPoolExecutor(24) as pool:  # 24 anonymous guesses at once, each from its own address
            answers = list(
                pool.map(lambda n: _sign_in(server, f"nobody{n}", "a guess", f"198.51.100.{n}"), range(24))
            )
        assert answers == ["/console/login?failed=wrong"] * 24
        grown = server.peak_memory() - before
        # argon2id takes 64 MiB a hash: 24 at once would be 1.5 GiB
        assert grown < (HASHING_AT_ONCE + 2) * 64 * MiB, f"{grown / MiB:.0f} MiB"
        assert _sign_in(server, "org", PASSWORD, "192.0.2.1") == "/console"  # and the organiser gets in
