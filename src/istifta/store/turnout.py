"""The frozen electorate's leaf indices and the live turnout counters.

When a referendum opens, :func:`freeze_electorate` stores each voter's leaf
index (its place among the sorted leaves, PROTOCOL.md §4) and the eligible
voters of each region; from then on the board's writer calls
:func:`count_first_ballots` with every batch of ballots it appends, in the
batch's transaction, so the counters always say what the board says. A
credential's inclusion proof and the turnout are then a few indexed reads,
whatever the electorate's size.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.orm import Session

from istifta.store.models import BoardEntry, TurnoutCount, Voter

__all__ = ["NO_REGION", "count_first_ballots", "freeze_electorate", "read_turnout"]

NO_REGION = ""
"""The counters' region for voters without one (a region is 1 to 64 characters)."""
CHUNK = 500
"""Credentials looked up per query (SQLite binds at most 32,766 parameters a statement)."""

_LEAF_INDICES = text(
    "UPDATE electorate SET leaf_index = ranked.leaf_index FROM ("
    " SELECT credential, row_number() OVER (ORDER BY credential) - 1 AS leaf_index"
    " FROM electorate WHERE election_id = :election) AS ranked"
    " WHERE electorate.election_id = :election AND electorate.credential = ranked.credential"
)


def freeze_electorate(session: Session, election_id: int) -> None:
    """Store every voter's leaf index and the eligible voters by region (at opening)."""
    session.execute(_LEAF_INDICES, {"election": election_id})
    region = func.coalesce(Voter.region, NO_REGION)
    eligible = session.execute(
        select(region, func.count()).where(Voter.election_id == election_id).group_by(region)
    ).all()
    rows = [{"election_id": election_id, "region": r, "eligible": n, "voted": 0} for r, n in eligible]
    if rows:
        session.execute(insert(TurnoutCount), rows)


def count_first_ballots(session: Session, election_id: int, credentials: Iterable[bytes]) -> None:
    """Add to the turnout the credentials among ``credentials`` (a batch about to be
    appended, in the writer's transaction) that have no ballot on the board yet."""
    new = list(dict.fromkeys(credentials))
    voted: set[bytes] = set()
    regions: dict[str, int] = {}
    for start in range(0, len(new), CHUNK):
        chunk = new[start : start + CHUNK]
        seen = session.execute(
            select(BoardEntry.credential)
            .where(BoardEntry.election_id == election_id, BoardEntry.credential.in_(chunk))
            .distinct()
        ).scalars()
        voted.update(c for c in seen if c is not None)
        first = [c for c in chunk if c not in voted]
        if not first:
            continue
        found = session.execute(
            select(func.coalesce(Voter.region, NO_REGION)).where(
                Voter.election_id == election_id, Voter.credential.in_(first)
            )
        ).scalars()
        for region in found:
            regions[region] = regions.get(region, 0) + 1
    for region, n in regions.items():
        session.execute(
            update(TurnoutCount)
            .where(TurnoutCount.election_id == election_id, TurnoutCount.region == region)
            .values(voted=TurnoutCount.voted + n)
        )


def read_turnout(session: Session, election_id: int) -> list[tuple[str | None, int, int]]:
    """(region or ``None``, eligible, voted) of an opened referendum, by region."""
    rows = session.execute(
        select(TurnoutCount.region, TurnoutCount.eligible, TurnoutCount.voted).where(
            TurnoutCount.election_id == election_id
        )
    ).all()
    return [(r or None, int(e), int(v)) for r, e, v in rows]
