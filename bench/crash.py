"""Durability under crashes: ``istifta serve`` killed with SIGKILL while ballots pour in, as one JSON object.

    .venv/bin/python bench/crash.py [--quick] [--ballots N] [--clients C] [--kills K] [--workers W]
                                    [--seed S] [--store sqlite|postgresql]… [--database URL]

On each store: a fresh yes/no referendum of N voters, ``istifta serve`` on it,
and C concurrent clients casting one ballot per voter (the ballots of
bench/cast.py, built beforehand and cached). K times, at a random moment while
the clients cast (after a random number of receipts, then a random few
milliseconds), every process of the server gets SIGKILL at once; the server is
started again on the same data and the clients carry on. A client whose request
failed (the connection reset, refused while the server is down) sends the same
ballot again until it gets a receipt, as a phone would. Every receipt and every
signed tree head the clients saw (in receipts, and polling ``/tree-head``) is
kept, noting which server process issued it.

At the end, with the last server still up, each tree head seen is checked
against the final one with a consistency proof from the API; then the server
stops and the board in the store is read: every receipt's ballot must be at its
index with its tracker (``lost`` counts those that are not), every head's root
must be the root of the board's first ``size`` entries, every ballot must be on
the board exactly once. Any failure exits with status 1, after the JSON.

A SIGKILL tests the server's promise that a receipt means committed; it does
not test the disk (the operating system still writes what was committed): for
that the store's settings (``synchronous=FULL``, PostgreSQL's ``fsync``) are
reported beside the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import httpx
from sqlalchemy import select

from cast import (
    FAILURES,
    JSON_HEADERS,
    SLUG,
    Ballots,
    Board,
    Server,
    add_cache_argument,
    durability,
    fresh_store,
    head_key,
    http_client,
    prepare,
    store_url,
)
from common import add_store_arguments, chosen_stores, figure, load_average, machine, say, sig
from istifta.board.merkle import verify_consistency
from istifta.protocol.treehead import verify_tree_head
from istifta.store.db import Store
from istifta.store.models import Election

JsonHead = dict[str, Any]
"""A signed tree head as the API and receipts give it."""


@dataclass(frozen=True)
class Settings:
    mode: str
    ballots: int
    clients: int
    kills: int
    workers: int
    seed: str


QUICK = Settings("quick", 200, 8, 2, 1, "1")
FULL = Settings("full", 6000, 16, 5, 1, "1")
RETRY_S = 0.05
"""How long a client waits before sending a ballot again after a failure."""
POLL_S = 0.2
"""How often a monitor asks for the newest tree head."""


@dataclass
class Crashes:
    """What the clients saw while the server was being killed."""

    receipts: dict[int, tuple[dict[str, Any], int]] = field(default_factory=dict)
    """Ballot number → its receipt and the kills before it came (0 for the first server's)."""
    heads: dict[tuple[int, str, str, str], JsonHead] = field(default_factory=dict)
    generation: int = 0
    """Kills so far."""
    in_flight: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    """Requests that got no receipt, by status or exception; each is sent again."""
    retried: set[int] = field(default_factory=set)
    rejected: dict[int, int] = field(default_factory=dict)
    """Ballots refused for good (a 4xx other than 429), with the status: none are expected."""
    kills: list[dict[str, Any]] = field(default_factory=list)
    done: bool = False

    def saw(self, head: JsonHead) -> None:
        self.heads.setdefault(head_key(head), head)


async def cast_through_crashes(
    server: Server, bodies: Sequence[bytes], clients: int, kill_points: Sequence[int], rng: random.Random
) -> Crashes:
    seen, pending = Crashes(), iter(enumerate(bodies))
    path = f"/api/referendums/{SLUG}/ballots"

    async def one_client(client: httpx.AsyncClient) -> None:
        async with client:
            for number, body in pending:
                while number not in seen.receipts and number not in seen.rejected:
                    seen.in_flight += 1
                    try:
                        answer = await client.post(path, content=body, headers=JSON_HEADERS)
                    except httpx.TransportError as exc:
                        answer, failure = None, type(exc).__name__
                    finally:
                        seen.in_flight -= 1
                    if answer is not None and answer.is_success:
                        receipt = answer.json()
                        seen.receipts[number] = (receipt, seen.generation)
                        seen.saw(receipt["tree_head"])
                        continue
                    if answer is not None:
                        failure = str(answer.status_code)
                        if 400 <= answer.status_code < 500 and answer.status_code != 429:
                            seen.rejected[number] = answer.status_code
                    seen.failures[failure] += 1
                    seen.retried.add(number)
                    await asyncio.sleep(RETRY_S)

    async def monitor(client: httpx.AsyncClient) -> None:
        async with client:
            while not seen.done:
                try:
                    answer = await client.get(f"/api/referendums/{SLUG}/tree-head")
                    if answer.is_success:
                        seen.saw(answer.json())
                except httpx.TransportError:
                    pass
                await asyncio.sleep(POLL_S)

    async def killer() -> None:
        for point in kill_points:
            while len(seen.receipts) < point and not seen.done:
                await asyncio.sleep(0.002)
            await asyncio.sleep(rng.uniform(0, 0.02))
            kill: dict[str, Any] = {"receipts_before": len(seen.receipts), "in_flight": seen.in_flight}
            started = time.perf_counter()
            server.kill()
            seen.generation += 1
            kill["board_size"] = await asyncio.to_thread(board_size, server)
            await asyncio.to_thread(server.start)
            kill |= {"down_s": time.perf_counter() - started, "ready_s": server.ready_s}
            seen.kills.append(kill)
            say(f"    killed at {kill['receipts_before']:,} receipts; answering {kill['down_s']:.1f} s later")

    made = [http_client(server.base, keep_alive=False) for _ in range(clients)]  # a phone each
    watching = asyncio.create_task(monitor(http_client(server.base)))
    killing = asyncio.create_task(killer())
    await asyncio.gather(*(one_client(client) for client in made))
    seen.done = True
    await asyncio.gather(watching, killing)
    return seen


def board_size(server: Server) -> int:
    """The board's size in the store, read while no server runs."""
    store = Store(store_url(server.data_dir, server.url))
    try:
        with store.session() as session:
            return session.execute(select(Election.board_size).where(Election.slug == SLUG)).scalar_one()
    finally:
        store.close()


def committed_unanswered(seen: Crashes) -> int:
    """Ballots sent again after a kill whose receipt then named an index the board already had
    when the server died: committed, but the answer died with the server; sending the ballot
    again got the same place back, and appended nothing."""
    return sum(
        1
        for number in seen.retried
        for receipt, kills in [seen.receipts.get(number, ({}, 0))]
        if kills > 0 and receipt.get("index", 1 << 62) < seen.kills[kills - 1]["board_size"]
    )


async def consistency_from_api(base: str, heads: Sequence[JsonHead]) -> dict[str, Any]:
    """Each head against the newest one, with the API's consistency proofs, as a monitor does."""
    async with http_client(base) as client:
        board_key = bytes.fromhex((await client.get(f"/api/referendums/{SLUG}")).json()["board_key"])
        final: JsonHead = (await client.get(f"/api/referendums/{SLUG}/tree-head")).json()
        new_root = bytes.fromhex(final["root"])
        failed = 0
        for head in heads:
            answer = await client.get(
                f"/api/referendums/{SLUG}/proofs/consistency",
                params={"first": head["size"], "second": final["size"]},
            )
            proof = [bytes.fromhex(p) for p in answer.json()["proof"]] if answer.is_success else None
            old_root = bytes.fromhex(head["root"])
            if not (
                proof is not None
                and verify_tree_head(head, board_key)
                and verify_consistency(head["size"], final["size"], old_root, new_root, proof)
            ):
                failed += 1
    return {"proofs_checked": len(heads), "failed": failed, "final_size": final["size"]}


def draw_kill_points(ballots: int, kills: int, rng: random.Random) -> list[int]:
    """Receipt counts at which to kill: one drawn uniformly in each of ``kills`` equal slices
    of [N/10, 9N/10), so that the kills spread over the run."""
    low, span = ballots // 10, ballots * 8 // 10
    edges = [low + span * k // kills for k in range(kills + 1)]
    return [rng.randrange(a, max(a + 1, b)) for a, b in pairwise(edges)]


def bench_store(kind: str, url: str | None, s: Settings, ballots: Ballots) -> dict[str, Any]:
    say(f"[{s.mode}] {kind}: {s.ballots:,} ballots, {s.clients} clients, {s.kills} kills")
    started = time.perf_counter()
    rng = random.Random(f"bench crash {s.seed} {kind}")
    kill_points = draw_kill_points(s.ballots, s.kills, rng)
    with fresh_store(url, s.ballots, ballots.params) as (data_dir, scoped):
        server = Server(data_dir, scoped, s.workers)
        server.start()
        try:
            seen = asyncio.run(cast_through_crashes(server, ballots.bodies, s.clients, kill_points, rng))
            say(f"  checking {len(seen.heads):,} tree heads with consistency proofs from the API")
            api = asyncio.run(consistency_from_api(server.base, list(seen.heads.values())))
        finally:
            server.stop()
        board = Board.read(data_dir, scoped)
        store = durability(data_dir, scoped)
    receipts = [(ballots.bodies[n], r) for n, (r, _) in sorted(seen.receipts.items())]
    checked = board.check(receipts, seen.heads.values())
    before_a_kill = sum(1 for _, g in seen.receipts.values() if g < len(seen.kills))
    return {
        "store": store,
        "kills": len(seen.kills),
        "kill_points": [k["receipts_before"] for k in seen.kills],
        "board_size_at_kills": [k["board_size"] for k in seen.kills],
        "in_flight_at_kills": [k["in_flight"] for k in seen.kills],
        "restart_s": figure([k["down_s"] for k in seen.kills], "s"),
        "ready_s": figure([k["ready_s"] for k in seen.kills], "s"),
        "receipts": {
            "checked": checked["receipts_checked"],
            "received_before_a_kill": before_a_kill,
            "lost": checked["lost"],
            "bad_inclusion_proofs": checked["bad_inclusion_proofs"],
            "committed_but_unanswered_at_a_kill": committed_unanswered(seen),
        },
        "tree_heads": {
            "checked": checked["tree_heads_checked"],
            "inconsistent": checked["tree_heads_inconsistent"],
            "consistency_proofs_from_api": api["proofs_checked"],
            "consistency_proofs_failed": api["failed"],
        },
        "board": {
            "size": checked["board_size"],
            "ballots": checked["ballots_on_board"],
            "duplicate_trackers": checked["duplicate_trackers"],
            "every_ballot_has_a_receipt": len(seen.receipts) == s.ballots,
            "board_is_ballots_plus_election_entry": checked["board_size"] == s.ballots + 1,
            "tree_heads_stored": checked["tree_heads_stored"],
        },
        "retries": {
            "ballots_sent_again": len(seen.retried),
            "failed_requests": dict(sorted(seen.failures.items())),
            "rejected": len(seen.rejected),
        },
        "elapsed_s": sig(time.perf_counter() - started),
        "_failed": sum(checked[k] for k in FAILURES) + api["failed"] + len(seen.rejected),
    }


def run(s: Settings, stores: dict[str, str | None], ballots: Ballots) -> tuple[dict[str, Any], int]:
    started, load_before = time.perf_counter(), load_average()
    results = {kind: bench_store(kind, url, s, ballots) for kind, url in stores.items()}
    failed = sum(r.pop("_failed") for r in results.values())
    whole = ("every_ballot_has_a_receipt", "board_is_ballots_plus_election_entry")
    failed += sum(not all(r["board"][k] for k in whole) for r in results.values())
    return {
        "benchmark": "istifta bench/crash.py",
        "mode": s.mode,
        "machine": {**machine(), "load_average_1min": [load_before, load_average()]},
        "setup": {
            "ballots": s.ballots,
            "clients": s.clients,
            "kills": s.kills,
            "workers": s.workers,
            "seed": s.seed,
            "kill": "SIGKILL to every process of the server's session at once",
            "kill_moment": "after a receipt count drawn in each of K slices of [N/10, 9N/10), then 0-20 ms",
            "retry_after_s": RETRY_S,
            "tree_head_poll_s": POLL_S,
            "ballots_cached": ballots.cached,
        },
        "stores": results,
        "elapsed_s": sig(time.perf_counter() - started),
    }, failed


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="200 ballots, 2 kills (the test's)")
    parser.add_argument("--ballots", type=int, help=f"voters, one ballot each (default {FULL.ballots:,})")
    parser.add_argument("--clients", type=int, help=f"concurrent clients (default {FULL.clients})")
    parser.add_argument("--kills", type=int, help=f"SIGKILLs (default {FULL.kills})")
    parser.add_argument("--workers", type=int, help="server workers (default 1)")
    parser.add_argument("--seed", help="draws the kill moments (default 1)")
    add_store_arguments(parser)
    add_cache_argument(parser)
    args = parser.parse_args(argv)
    base = QUICK if args.quick else FULL
    s = Settings(
        base.mode,
        args.ballots or base.ballots,
        args.clients or base.clients,
        base.kills if args.kills is None else args.kills,
        args.workers or base.workers,
        args.seed or base.seed,
    )
    if s.ballots < 50 or s.clients < 1 or not 0 <= s.kills <= s.ballots // 2:
        parser.error("at least 50 ballots and 1 client, and at most a kill for 2 ballots")
    stores = chosen_stores(parser, args)
    ballots = prepare(s.ballots, args.cache)
    report, failed = run(s, stores, ballots)
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")
    if failed:
        say(f"FAILED: {failed} check(s) did not hold; see the figures")
        sys.exit(1)


if __name__ == "__main__":
    main()
