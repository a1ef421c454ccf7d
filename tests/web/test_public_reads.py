"""Public reads that once cost time in proportion to the electorate (issue 13,
finding 5): the live turnout comes from counters the board's writer keeps,
the electorate proof from each leaf's stored index; a referendum opened before
those existed is brought up to date by the migration; and public reads have a
limit of their own, apart from casting."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from alembic import command
from alembic.config import Config

from istifta.board.merkle import leaf_hash, verify_inclusion
from istifta.crypto.credentials import credential_secret, public_credential
from istifta.crypto.group import Point
from istifta.protocol.ballot import build_ballot
from istifta.store.db import MIGRATIONS
from istifta.store.public import PublicViews

from .conftest import Live, serve


def _credential(live: Live, voter: int) -> Point:
    mh = bytes.fromhex(live.opened.params.manifest.manifest_hash)
    return public_credential(credential_secret(mh, live.opened.codes[voter]))


def _board_turnout(live: Live) -> dict[str, int]:
    """Voters with a ballot on the board, by region, counted from the board's entries."""
    entries = live.client.get(f"{live.api}/board?start=0&limit=1000").json()["entries"]
    credentials = {e["entry"]["ballot"]["credential"] for e in entries if e["entry"].get("type") == "ballot"}
    regions = {_credential(live, v).hex(): region for v, region in enumerate(live.opened.regions)}
    return dict(Counter(regions[c] for c in credentials))


def _api_turnout(live: Live) -> dict[str, int]:
    turnout = live.client.get(f"{live.api}/turnout").json()
    return {r["region"]: r["voted"] for r in turnout["by_region"] if r["voted"]}


def test_the_turnout_counts_each_voter_once_however_their_ballots_arrive(live: Live) -> None:
    params, codes, slug = live.opened.params, live.opened.codes, live.slug
    # voters 0-3 vote in one burst, each twice, so that a batch holds a voter's two ballots
    pending = [
        live.refs.submit_ballot(slug, build_ballot(params, codes[v], [[c]], live.rng).to_json())
        for v in range(4)
        for c in (0, 1)
    ]
    for future in pending:
        future.result()
    for voter, choice in ((4, 0), (4, 1), (0, 1), (5, 0)):  # revotes, one at a time
        live.refs.cast(slug, build_ballot(params, codes[voter], [[choice]], live.rng).to_json())
    same = build_ballot(params, codes[6], [[0]], live.rng).to_json()
    live.refs.cast(slug, same)
    live.refs.cast(slug, same)  # the same ballot again: appended once
    assert _api_turnout(live) == _board_turnout(live)
    assert sum(_api_turnout(live).values()) == 7
    turnout = live.client.get(f"{live.api}/turnout").json()
    assert (turnout["eligible"], turnout["voted"]) == (9, 7)


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def test_a_referendum_opened_before_the_counters_is_brought_up_to_date(live: Live) -> None:
    params, codes, slug = live.opened.params, live.opened.codes, live.slug
    for voter in (0, 1, 1, 2):
        live.refs.cast(slug, build_ballot(params, codes[voter], [[voter % 2]], live.rng).to_json())
    expected = _api_turnout(live)
    store = live.refs.store
    with store.engine.begin() as connection:  # the schema as it was before migration 0005
        config = _config()
        config.attributes["connection"] = connection
        command.downgrade(config, "0004")
    store.migrate()
    views = PublicViews(live.refs)
    assert {r.region: r.voted for r in views.turnout(slug) if r.voted} == expected
    assert sum(r.eligible for r in views.turnout(slug)) == 9
    proof = views.electorate_proof(slug, _credential(live, 7))
    assert proof is not None
    assert verify_inclusion(
        leaf_hash(proof["leaf"].encode()),
        proof["index"],
        proof["size"],
        [bytes.fromhex(p) for p in proof["proof"]],
        bytes.fromhex(params.electorate_root),
    )


def test_public_reads_have_their_own_limit_and_casting_goes_on(tmp_path: Path) -> None:
    for limited in serve(tmp_path, None, read_rate=1.0, read_burst=3, cast_rate=600.0, cast_burst=10):
        answers = [limited.client.get(f"{limited.api}/turnout") for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        assert answers[3].json()["code"] == "rate_limited" and int(answers[3].headers["retry-after"]) >= 1
        assert limited.client.get(f"/r/{limited.slug}").status_code == 429  # the pages share the limit
        params, codes = limited.opened.params, limited.opened.codes
        ballot = build_ballot(params, codes[0], [[0]], limited.rng).to_json()
        assert limited.client.post(f"{limited.api}/ballots", json=ballot).status_code == 200
