"""The record's download (issue 13, finding 2): never during the vote, built from
the store's cursors into one file on disk per tree head, at most one build at a
time, answered as a file (length, ranges), in memory that does not follow the
record's size. Measured on a real ``istifta serve`` process."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from istifta.crypto.rng import SeededRandom
from istifta.protocol.ballot import build_ballot
from istifta.record.io import read_record
from istifta.store.referendums import Referendums
from istifta.testing import live_manifest, open_referendum

from .process import serving

VOTERS = 40_000
BALLOTS = 120


def _referendum(data_dir: Path, close: bool) -> tuple[str, int]:
    """A referendum of :data:`VOTERS` voters and :data:`BALLOTS` ballots; the size of its record's files."""
    refs = Referendums.open(data_dir)
    rng = SeededRandom("record download")
    opened = open_referendum(refs, live_manifest(), VOTERS, ("Baghdad", "Basra", "Erbil"), rng)
    for voter in range(BALLOTS):
        refs.cast(opened.slug, build_ballot(opened.params, opened.codes[voter], [[voter % 2]], rng).to_json())
    if close:
        refs.close(opened.slug)
    record = refs.record(opened.slug)
    size = sum(map(len, record.board)) + sum(map(len, record.electorate))
    refs.close_store()
    return opened.slug, size


def test_the_record_is_not_built_while_voting_is_open(tmp_path: Path) -> None:
    slug, _ = _referendum(tmp_path / "data", close=False)
    with serving(tmp_path / "data", tmp_path / "tmp") as server:
        answer = httpx.get(f"{server.url}/api/referendums/{slug}/record.zip", timeout=30)
        assert answer.status_code == 409 and answer.json()["code"] == "record_not_ready"
        assert "/board" in answer.json()["message"]
        ballot_page = httpx.get(f"{server.url}/v/{slug}", timeout=30)
        assert ballot_page.status_code == 200  # the vote goes on
    assert not (tmp_path / "data" / "records").exists()


def test_downloads_after_the_close_share_one_file_built_in_bounded_memory(tmp_path: Path) -> None:
    slug, size = _referendum(tmp_path / "data", close=True)
    with serving(tmp_path / "data", tmp_path / "tmp") as server:
        url = f"{server.url}/api/referendums/{slug}/record.zip"
        httpx.get(f"{server.url}/api/referendums/{slug}/board?limit=1000", timeout=30)  # warmed up
        before = server.peak_memory()

        def download(_: int) -> httpx.Response:
            for _ in range(20):
                answer = httpx.get(url, timeout=60)
                if answer.status_code != 503:
                    return answer
                assert answer.headers["retry-after"]
            raise AssertionError("the record was never ready")

        with ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(download, range(6)))
        grown = server.peak_memory() - before
        assert {a.status_code for a in answers} == {200}
        assert len({a.content for a in answers}) == 1
        body = answers[0].content
        assert int(answers[0].headers["content-length"]) == len(body)
        assert answers[0].headers["content-type"] == "application/zip"
        # The record's files are about 4 MB; holding them, as the server once did three
        # times over, would grow it by more than that. Streamed, it grows by the buffers.
        assert size > 4_000_000
        assert grown < size // 2, f"the server grew by {grown:,} bytes for a {size:,}-byte record"
        assert server.tmp_bytes() == 0

        resumed = httpx.get(url, headers={"Range": f"bytes={len(body) - 100}-"}, timeout=30)
        assert resumed.status_code == 206 and resumed.content == body[-100:]
    folder = tmp_path / "data" / "records"
    assert [p.name for p in folder.glob("*.zip")] == [f"{slug}-{BALLOTS + 2}.zip"]
    assert folder.stat().st_mode & 0o777 == 0o700
    target = tmp_path / "record.zip"
    target.write_bytes(body)
    record = read_record(target)
    assert (len(record.board), len(record.electorate)) == (BALLOTS + 2, VOTERS)
    assert record.tree_head["size"] == BALLOTS + 2
