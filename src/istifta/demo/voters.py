"""The demo's simulated voters: each takes the code from their SMS link, builds
a ballot as the ballot page does (``protocol.ballot.build_ballot``, the same
construction as the page's JavaScript) and casts it through the server's
HTTP API, many at once. One in twenty votes again (the last ballot counts);
a few send bad ballots — a broken proof, a code that is not in the
electorate, a ballot for another referendum, garbage — which the server must
refuse, each with a 4xx answer and nothing on the board.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from istifta.crypto.credentials import new_code
from istifta.protocol.ballot import build_ballot
from istifta.protocol.parameters import ElectionParameters, parse_parameters

__all__ = ["Simulation", "simulate"]

REVOTE_EVERY = 20
BAD_EVERY = 100
YES_SHARE = 0.7


@dataclass
class Simulation:
    voters: int
    ballots: int = 0
    accepted: int = 0
    revotes: int = 0
    bad_sent: int = 0
    bad_refused: Counter[str] = field(default_factory=Counter)
    """Refused bad ballots by the error code the server gave."""
    failures: list[str] = field(default_factory=list)
    """Anything unexpected: a good ballot refused, a bad one accepted."""
    expected: list[int] = field(default_factory=lambda: [0, 0])
    """What the voters' last ballots say, yes and no: the published result must match."""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failures and sum(self.bad_refused.values()) == self.bad_sent


def _code(link: str) -> str:
    return urlsplit(link).fragment


def _bad_ballots(
    params: ElectionParameters, good: dict[str, Any], other: dict[str, Any], rng: random.Random
) -> list[Any]:
    """A voter's ballot carrying another's encrypted answer (its proofs no longer hold),
    a code from outside the electorate, another referendum's ballot, and garbage."""
    copied = {**good, "answers": other["answers"]}
    stranger = build_ballot(params, new_code(os.urandom), [[0]], os.urandom).to_json()
    foreign = {**good, "election_hash": "00" * 32}
    kinds = [copied, stranger, foreign, {"not": "a ballot"}]
    rng.shuffle(kinds)
    return kinds[: 1 + rng.randrange(len(kinds))]


async def _cast(client: httpx.AsyncClient, url: str, body: Any, gate: asyncio.Semaphore) -> httpx.Response:
    async with gate:
        return await client.post(url, json=body)


async def _run(base: str, slug: str, links: list[str], concurrency: int, sim: Simulation) -> None:
    rng = random.Random(len(links))
    api = f"{base}/api/referendums/{slug}"
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        params = parse_parameters((await client.get(f"{api}/parameters")).json())
        first: list[tuple[int, dict[str, Any]]] = []
        again: list[tuple[int, dict[str, Any]]] = []
        choices: dict[int, int] = {}
        for i, link in enumerate(links):
            choice = 0 if rng.random() < YES_SHARE else 1
            choices[i] = choice
            first.append((i, build_ballot(params, _code(link), [[choice]], os.urandom).to_json()))
            if i % REVOTE_EVERY == REVOTE_EVERY - 1:
                choices[i] = 1 - choice
                again.append((i, build_ballot(params, _code(link), [[1 - choice]], os.urandom).to_json()))
        bad = [
            b
            for i in range(7, len(first) - 1, BAD_EVERY)
            for b in _bad_ballots(params, first[i][1], first[i + 1][1], rng)
        ]
        gate = asyncio.Semaphore(concurrency)
        started = time.perf_counter()
        for wave in (first, again):
            answers = await asyncio.gather(*(_cast(client, f"{api}/ballots", b, gate) for _, b in wave))
            for (i, _), answer in zip(wave, answers, strict=True):
                if answer.status_code == 200:
                    sim.accepted += 1
                else:
                    sim.failures.append(
                        f"voter {i}: a good ballot was refused ({answer.status_code} {answer.text})"
                    )
        answers = await asyncio.gather(*(_cast(client, f"{api}/ballots", b, gate) for b in bad))
        sim.seconds = time.perf_counter() - started
        for answer in answers:
            if 400 <= answer.status_code < 500:
                sim.bad_refused[answer.json().get("code", str(answer.status_code))] += 1
            else:
                sim.failures.append(f"a bad ballot was answered {answer.status_code}")
    sim.ballots, sim.revotes, sim.bad_sent = len(first) + len(again), len(again), len(bad)
    for choice in choices.values():
        sim.expected[choice] += 1


def simulate(base: str, slug: str, links: list[str], concurrency: int = 16) -> Simulation:
    """Every voter of ``links`` votes through the API at ``base``; see the module's docstring."""
    sim = Simulation(len(links))
    asyncio.run(_run(base, slug, links, concurrency, sim))
    return sim
