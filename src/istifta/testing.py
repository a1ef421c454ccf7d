"""A whole election in memory, for tests, benchmarks and the published vectors.

:func:`make_election` runs the trustees' ceremony, issues credentials and
freezes the parameters, all from one :data:`RandomSource`, so that a seeded
source reproduces everything. Nothing here is for a real election: a real
ceremony runs on the trustees' own machines and nobody holds every share.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from istifta.crypto.credentials import credential_secret, new_code, public_credential
from istifta.crypto.group import Point, RandomSource, Scalar
from istifta.crypto.threshold import (
    TrusteeSecret,
    check_share,
    combine_shares,
    generate_trustee,
)
from istifta.protocol.electorate import Eligible, electorate_leaves, electorate_root
from istifta.protocol.manifest import parse_manifest
from istifta.protocol.parameters import ElectionParameters, freeze_parameters
from istifta.trustee.room import Ceremony, run_ceremony  # noqa: F401 (for the tests)

__all__ = ["Election", "make_election", "manifest_json", "question_json"]


def question_json(
    options: Sequence[str], low: int = 1, high: int = 1, text: str = "Question?"
) -> dict[str, Any]:
    """A question in every demo language (the same text in each, for tests)."""
    return {
        "text": {"ar": text, "ckb": text, "en": text},
        "options": [{"label": {"ar": o, "ckb": o, "en": o}} for o in options],
        "min": low,
        "max": high,
    }


def manifest_json(
    questions: Sequence[dict[str, Any]] | None = None,
    n: int = 3,
    threshold: int = 2,
    slug: str = "test-referendum",
) -> dict[str, Any]:
    """A well-formed manifest; a single yes/no question unless ``questions`` says otherwise."""
    return {
        "version": "istifta/1",
        "slug": slug,
        "title": {"ar": "استفتاء تجريبي", "ckb": "ڕاپرسیی تاقیکردنەوە", "en": "Test referendum"},
        "questions": list(questions) if questions else [question_json(["yes", "no"])],
        "opens_at": "2024-01-20T06:00:00Z",
        "closes_at": "2024-01-21T18:00:00Z",
        "trustees": {"n": n, "threshold": threshold},
    }


@dataclass(frozen=True)
class Election:
    params: ElectionParameters = field(repr=False)
    trustee_secrets: tuple[TrusteeSecret, ...] = field(repr=False)
    shares: dict[int, Scalar] = field(repr=False)
    """``s_j`` per trustee index."""
    codes: tuple[str, ...] = field(repr=False)
    """Each voter's credential code, in the order they were issued."""
    credentials: tuple[Point, ...] = field(repr=False)
    """Each voter's ``P``, in the order of ``codes``."""
    regions: tuple[str | None, ...] = field(repr=False)
    _eligible: frozenset[Point] = field(init=False, repr=False, compare=False)

    def __repr__(self) -> str:
        return f"Election({self.params.manifest.slug}, {len(self.codes)} voters)"

    def __post_init__(self) -> None:
        object.__setattr__(self, "_eligible", frozenset(self.credentials))

    def is_eligible(self, P: Point) -> bool:  # noqa: N803
        """Membership in the electorate, as :func:`verify_ballot` asks it."""
        return P in self._eligible


def make_election(
    rng: RandomSource,
    manifest: dict[str, Any] | None = None,
    voters: int = 4,
    regions: Sequence[str] = (),
) -> Election:
    """Ceremony, credentials and parameters for ``voters`` voters; each voter's
    region cycles through ``regions`` (none when empty). Draws: each trustee's
    coefficients and proof in index order, then each voter's code."""
    m = parse_manifest(manifest if manifest is not None else manifest_json())
    mh = bytes.fromhex(m.manifest_hash)
    generated = [generate_trustee(i, m.threshold, mh, rng) for i in range(1, m.n + 1)]
    shares: dict[int, Scalar] = {}
    for j in range(1, m.n + 1):
        for secret, public in generated:
            check_share(public, j, secret.share_for(j))
        shares[j] = combine_shares(secret.share_for(j) for secret, _ in generated)
    codes = tuple(new_code(rng) for _ in range(voters))
    credentials = tuple(public_credential(credential_secret(mh, c)) for c in codes)
    assigned = tuple(regions[i % len(regions)] if regions else None for i in range(voters))
    leaves = electorate_leaves(Eligible(P, r) for P, r in zip(credentials, assigned, strict=True))
    params = freeze_parameters(m, [p for _, p in generated], len(leaves), electorate_root(leaves))
    return Election(params, tuple(s for s, _ in generated), shares, codes, credentials, assigned)


# --- a whole election record (PROTOCOL.md §8), for tests and benchmarks ---

# Imported where used (and for types only here), so that this section only appends to the module.
from typing import TYPE_CHECKING  # noqa: E402

if TYPE_CHECKING:
    from datetime import datetime

    from nacl.signing import SigningKey

    from istifta.protocol.ballot import Ballot
    from istifta.protocol.record import Record

Vote = tuple[int, Sequence[Sequence[int]]]
"""``(voter, selections)``: the voter's index in :attr:`Election.codes` and the
chosen option indices per question. A voter who appears again revotes."""

RECORD_TIMESTAMP = "2024-01-21T19:00:00.000Z"
"""The tree head's time in test records: after the demo manifest closes."""


def make_record(
    election: Election,
    votes: Sequence[Vote],
    *,
    rng: RandomSource,
    board_key: SigningKey,
    absent_trustees: Sequence[int] = (),
    timestamp: str = RECORD_TIMESTAMP,
) -> Record:
    """A complete, valid :class:`~istifta.protocol.record.Record`: the election,
    one ballot per vote in order (received at even steps across the schedule),
    the close at ``closes_at``, the tally, a partial decryption from every
    trustee not in ``absent_trustees`` and the result with its turnout, under
    a tree head that ``board_key`` (a ``nacl.signing.SigningKey``) signs.
    Draws from ``rng``: each ballot in order, then each partial decryption."""
    from istifta.protocol.ballot import build_ballot

    params = election.params
    ballots = [build_ballot(params, election.codes[voter], chosen, rng) for voter, chosen in votes]
    return record_from_ballots(
        election,
        ballots,
        rng=rng,
        board_key=board_key,
        absent_trustees=absent_trustees,
        timestamp=timestamp,
    )


def spread_times(opens_at: datetime, closes_at: datetime, count: int) -> list[datetime]:
    """``count`` times strictly inside the schedule, evenly spaced, in order."""
    step = (closes_at - opens_at) / (count + 1)
    return [opens_at + step * (k + 1) for k in range(count)]


def record_from_ballots(
    election: Election,
    ballots: Sequence[Ballot],
    *,
    rng: RandomSource,
    board_key: SigningKey,
    absent_trustees: Sequence[int] = (),
    timestamp: str = RECORD_TIMESTAMP,
) -> Record:
    """:func:`make_record` from ballots already built (e.g. in parallel)."""
    from istifta.protocol import record as r
    from istifta.protocol.tally import combine, counted_ballots, partial_decrypt, tally

    params = election.params
    m = params.manifest
    times = spread_times(m.opens_at, m.closes_at, len(ballots))
    entries = [r.election_entry(params)]
    entries += [r.ballot_entry(b, at) for b, at in zip(ballots, times, strict=True)]
    entries.append(r.close_entry(m.closes_at))
    t = tally(params, ballots)
    entries.append(r.tally_entry(t))
    present = [j for j in range(1, m.n + 1) if j not in absent_trustees]
    partials = [partial_decrypt(params, t, j, election.shares[j], rng) for j in present]
    entries += [r.partial_decryption_entry(pd) for pd in partials]
    counted = [b.credential.to_bytes() for b in counted_ballots(ballots)]
    voters = list(zip(election.credentials, election.regions, strict=True))
    turnout = r.turnout([(P.to_bytes(), region) for P, region in voters], counted)
    entries.append(r.result_entry(present, combine(params, t, partials), turnout))
    leaves = electorate_leaves(Eligible(P, region) for P, region in voters)
    return sign_record([r.entry_bytes(e) for e in entries], leaves, board_key, timestamp)


def sign_record(
    board: Sequence[bytes],
    electorate: Sequence[bytes],
    board_key: SigningKey,
    timestamp: str = RECORD_TIMESTAMP,
) -> Record:
    """A record of these entries and leaves under a tree head ``board_key`` signs."""
    from istifta.board.merkle import tree_hash
    from istifta.protocol.record import Record
    from istifta.protocol.treehead import TreeHead

    head = TreeHead.sign(len(board), tree_hash(board), timestamp, board_key)
    return Record(tuple(board), tuple(electorate), head.to_json(), bytes(board_key.verify_key))


def resign_record(record: Record, board_key: SigningKey) -> Record:
    """The record under a fresh tree head over its (perhaps changed) board: what a
    dishonest board holding its key would publish after changing entries."""
    return sign_record(record.board, record.electorate, board_key, record.tree_head["timestamp"])


__all__ += ["make_record", "record_from_ballots", "resign_record", "sign_record", "spread_times"]


# --- a referendum on a store, open now (web tests, the demo) ---

if TYPE_CHECKING:
    from istifta.store.referendums import Referendums


@dataclass(frozen=True)
class Opened:
    slug: str
    params: ElectionParameters = field(repr=False)
    codes: tuple[str, ...] = field(repr=False)
    regions: tuple[str | None, ...] = field(repr=False)
    shares: dict[int, Scalar] = field(repr=False)


def draft_referendum(refs: Referendums, manifest: dict[str, Any], rng: RandomSource) -> dict[int, Scalar]:
    """Create, and run every trustee's part of the ceremony here (tests and demos
    only: real trustees keep their secrets on their own machines); the trustees'
    key shares. The referendum is left a draft, without an electorate."""
    from nacl.public import PrivateKey

    from istifta.trustee.files import TrusteeFile

    m = refs.create(manifest)
    mh = bytes.fromhex(m.manifest_hash)
    generated = [generate_trustee(i, m.threshold, mh, rng) for i in range(1, m.n + 1)]
    refs.add_trustees(
        m.slug,
        [
            (TrusteeFile(m.manifest_hash, public, PrivateKey.generate().public_key).to_json(), f"trustee {i}")
            for i, (_, public) in enumerate(generated, 1)
        ],
    )
    return {j: combine_shares(s.share_for(j) for s, _ in generated) for j in range(1, m.n + 1)}


def open_referendum(
    refs: Referendums,
    manifest: dict[str, Any],
    voters: int,
    regions: Sequence[str],
    rng: RandomSource,
    box: Any = None,
    languages: Sequence[str] = ("ar",),
) -> Opened:
    """:func:`draft_referendum`, then make the electorate and open. Returns what
    the test needs: codes and shares. With a code ``box``, voters are registered
    with phones (:func:`register_voters`)."""
    shares = draft_referendum(refs, manifest, rng)
    slug = manifest["slug"]
    if box is None:
        made = refs.generate_electorate(slug, voters, tuple(regions), rng)
        codes, assigned = tuple(c for c, _ in made), tuple(r for _, r in made)
    else:
        registered = register_voters(refs, slug, voters, box, languages, rng)
        codes, assigned = tuple(c for c, _ in registered), tuple(None for _ in registered)
    params = refs.open_election(slug)
    return Opened(slug, params, codes, assigned, shares)


def live_manifest(
    questions: Sequence[dict[str, Any]] | None = None,
    slug: str = "test-referendum",
    now: datetime | None = None,
    hours: float = 2,
) -> dict[str, Any]:
    """A manifest open from an hour ago for ``hours`` hours: for a server on a real clock."""
    from datetime import UTC, datetime, timedelta

    start = (now or datetime.now(UTC)).replace(microsecond=0) - timedelta(hours=1)
    m = manifest_json(questions, slug=slug)
    m["opens_at"] = start.strftime("%Y-%m-%dT%H:%M:%SZ")
    m["closes_at"] = (start + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return m


CHROMIUM_FLAGS = (
    "--no-sandbox",  # the tests and benchmarks run as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",  # no calls home: the machines have no internet
    "--disable-component-update",
    "--disable-sync",
)
"""How the browser tests and bench/page.py start Debian's headless Chromium."""


def register_voters(
    refs: Referendums,
    slug: str,
    count: int,
    box: Any,
    languages: Sequence[str] = ("ar",),
    rng: RandomSource | None = None,
) -> list[tuple[str, str]]:
    """For tests: ``count`` voters with phones +96477000NNNNN, codes sealed
    with ``box``, languages cycling; returns each (code, phone). The real
    path is ``istifta electorate import`` (electorate/importer.py)."""
    from sqlalchemy import insert

    from istifta.crypto.rng import SeededRandom
    from istifta.store.models import Registration

    rng = rng or SeededRandom(f"voters of {slug}")
    mh = bytes.fromhex(refs.manifest(slug).manifest_hash)
    made = [(new_code(rng), f"+96477{i:08d}") for i in range(count)]
    credentials = [public_credential(credential_secret(mh, code)) for code, _ in made]
    refs.import_electorate(slug, (Eligible(P, None) for P in credentials))
    election_id = refs.election_id(slug)
    rows = [
        {
            "election_id": election_id,
            "number": i + 1,
            "phone": phone,
            "region": None,
            "language": languages[i % len(languages)],
            "credential": P.to_bytes(),
            "code_sealed": box.seal(code),
            "line": i + 2,
        }
        for i, ((code, phone), P) in enumerate(zip(made, credentials, strict=True))
    ]
    with refs.store.session() as session, session.begin():
        session.execute(insert(Registration), rows)
    return made


class SteppingClock:
    """A clock inside the test manifest's schedule (2024-01-20 07:00 UTC on),
    moving on one second a reading: for a :class:`~istifta.store.referendums.Referendums`
    whose board needs times that always go forward."""

    def __init__(self) -> None:
        from datetime import UTC, datetime

        self.now = datetime(2024, 1, 20, 7, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        from datetime import timedelta

        self.now += timedelta(seconds=1)
        return self.now
