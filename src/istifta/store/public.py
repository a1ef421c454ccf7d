"""What anyone may read of a referendum: the board, its proofs, the live
turnout, a credential's ballots, the electorate's inclusion proofs, the result.

:class:`PublicViews` only reads; the web layer and the API call it. Every
figure here can also be recomputed from the record (PROTOCOL.md §8).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import func, select

from istifta.board.merkle import MemoryTree, inclusion_proof, leaf_hash
from istifta.crypto.group import Point
from istifta.errors import StoreMismatch, UnknownElection
from istifta.protocol.electorate import Eligible
from istifta.protocol.parameters import ElectionParameters
from istifta.store.board import Receipt, index_of_tracker
from istifta.store.models import BoardEntry, Election, Registration, TreeHeadRow, Voter
from istifta.store.referendums import Referendums
from istifta.store.turnout import NO_REGION, read_turnout

__all__ = ["BallotOnBoard", "ElectorateCounts", "EntryRow", "PublicViews", "RegionTurnout", "Summary"]


@dataclass(frozen=True)
class Summary:
    slug: str
    manifest: dict[str, Any]
    state: str
    board_size: int
    election_hash: str | None
    closed_at: str | None = None
    """When the board's close entry says voting closed (early or on time), once it has."""


@dataclass(frozen=True)
class EntryRow:
    index: int
    kind: str
    tracker: str | None
    data: bytes

    def entry(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.data)
        return parsed


@dataclass(frozen=True)
class BallotOnBoard:
    index: int
    tracker: str
    received_at: str


@dataclass(frozen=True)
class RegionTurnout:
    region: str | None
    eligible: int
    voted: int


@dataclass(frozen=True)
class ElectorateCounts:
    total: int
    by_region: dict[str | None, int]
    by_language: dict[str, int]
    """Of the voters imported with their phones."""


class PublicViews:
    def __init__(self, refs: Referendums) -> None:
        self.refs = refs
        self.store = refs.store
        self._electorates: dict[str, MemoryTree] = {}
        self._lock = threading.Lock()

    def summaries(self, drafts: bool = False) -> list[Summary]:
        """The referendums, newest first; drafts only when asked (for the console)."""
        query = select(Election).order_by(Election.created_at.desc())
        if not drafts:
            query = query.where(Election.state != "draft")
        with self.store.session() as session:
            return [_summary(row) for row in session.execute(query).scalars().all()]

    def summary(self, slug: str, drafts: bool = False) -> Summary:
        """A referendum's summary; a draft is unknown unless ``drafts`` (for the console)."""
        with self.store.session() as session:
            row = self.refs.row(session, slug)
            if row.state == "draft" and not drafts:
                raise UnknownElection(f"no referendum is called {slug!r}")
            closed_at = None
            if row.state in ("closed", "tallied", "published"):
                entry = BoardEntry.election_id == row.id, BoardEntry.kind == "close"
                data = session.execute(select(BoardEntry.data).where(*entry)).scalar()
                closed_at = json.loads(data)["at"] if data is not None else None
            return replace(_summary(row), closed_at=closed_at)

    def parameters_text(self, slug: str) -> str:
        """The frozen parameters exactly as stored (their ``jhash`` is the election hash)."""
        with self.store.session() as session:
            row = self.refs.row(session, slug)
            if row.parameters is None:
                raise UnknownElection(f"no referendum is called {slug!r}")
            return row.parameters

    # --- the board ---

    def entries(self, slug: str, start: int, limit: int) -> list[EntryRow]:
        election_id = self.refs.public_id(slug)
        with self.store.session() as session:
            rows = session.execute(
                select(BoardEntry.index, BoardEntry.kind, BoardEntry.tracker, BoardEntry.data)
                .where(BoardEntry.election_id == election_id, BoardEntry.index >= start)
                .order_by(BoardEntry.index)
                .limit(limit)
            )
            return [EntryRow(i, k, t, bytes(d)) for i, k, t, d in rows]

    def entry(self, slug: str, index: int) -> EntryRow | None:
        rows = self.entries(slug, index, 1)
        return rows[0] if rows and rows[0].index == index else None

    def receipt_for(self, slug: str, tracker: str) -> Receipt | None:
        """The receipt of the ballot with this tracker, against the latest tree head."""
        election_id = self.refs.public_id(slug)
        with self.store.session() as session:
            index = index_of_tracker(session, election_id, tracker)
        return None if index is None else self.refs.board.receipt(election_id, index, tracker)

    def find_tracker(self, slug: str, prefix: str) -> int | None:
        """The board index of the ballot whose tracker starts with ``prefix``
        (at least 8 hex characters, the short form read aloud), if exactly one does."""
        if len(prefix) < 8 or len(prefix) > 64 or any(ch not in "0123456789abcdef" for ch in prefix):
            return None
        election_id = self.refs.public_id(slug)
        upper = prefix + "g"  # every tracker with the prefix sorts below this
        with self.store.session() as session:
            found = session.execute(
                select(BoardEntry.index)
                .where(
                    BoardEntry.election_id == election_id,
                    BoardEntry.tracker >= prefix,
                    BoardEntry.tracker < upper,
                )
                .limit(2)
            ).all()
        return found[0][0] if len(found) == 1 else None

    def ballots_of(self, slug: str, credential: Point) -> list[BallotOnBoard]:
        """Every ballot this credential cast, in board order: the last one counts."""
        election_id = self.refs.public_id(slug)
        with self.store.session() as session:
            rows = session.execute(
                select(BoardEntry.index, BoardEntry.tracker, BoardEntry.data)
                .where(BoardEntry.election_id == election_id, BoardEntry.credential == credential.to_bytes())
                .order_by(BoardEntry.index)
            )
            return [BallotOnBoard(i, str(t), json.loads(d)["received_at"]) for i, t, d in rows]

    def tree_heads(self, slug: str, limit: int) -> list[dict[str, Any]]:
        election_id = self.refs.public_id(slug)
        with self.store.session() as session:
            rows = session.execute(
                select(TreeHeadRow)
                .where(TreeHeadRow.election_id == election_id)
                .order_by(TreeHeadRow.size.desc())
                .limit(limit)
            ).scalars()
            return [r.head().to_json() for r in rows]

    def result(self, slug: str) -> dict[str, Any] | None:
        election_id = self.refs.public_id(slug)
        with self.store.session() as session:
            data = session.execute(
                select(BoardEntry.data).where(
                    BoardEntry.election_id == election_id, BoardEntry.kind == "result"
                )
            ).scalar()
        if data is None:
            return None
        parsed: dict[str, Any] = json.loads(data)
        return parsed

    # --- turnout and the electorate ---

    def turnout(self, slug: str, drafts: bool = False) -> list[RegionTurnout]:
        """Eligible voters and those with a ballot on the board, by region (``None``:
        no region), from the counters the board's writer keeps. A draft's (for the
        console, with ``drafts``) are counted from its electorate as it stands."""
        with self.store.session() as session:
            row = self.refs.row(session, slug)
            if row.state != "draft":
                rows = read_turnout(session, row.id)
            elif drafts:
                region = func.coalesce(Voter.region, NO_REGION)
                counted = select(region, func.count()).where(Voter.election_id == row.id).group_by(region)
                rows = [(r or None, int(n), 0) for r, n in session.execute(counted).all()]
            else:
                raise UnknownElection(f"no referendum is called {slug!r}")
        rows.sort(key=lambda r: (r[0] is None, r[0] or ""))
        return [RegionTurnout(r, e, v) for r, e, v in rows]

    def electorate_counts(self, slug: str) -> ElectorateCounts:
        """The voters of ``slug`` by region, and those with a phone by language (for
        the console: figures only, no voter)."""
        with self.store.session() as session:
            election_id = self.refs.row(session, slug).id
            regions = session.execute(
                select(Voter.region, func.count())
                .where(Voter.election_id == election_id)
                .group_by(Voter.region)
            ).all()
            languages = session.execute(
                select(Registration.language, func.count())
                .where(Registration.election_id == election_id)
                .group_by(Registration.language)
            ).all()
        by_region: dict[str | None, int] = {region: n for region, n in regions}
        return ElectorateCounts(
            sum(by_region.values()), by_region, {language: n for language, n in languages}
        )

    def electorate_proof(self, slug: str, credential: Point) -> dict[str, Any] | None:
        """The leaf of this credential and its RFC 9162 inclusion proof in the
        frozen electorate's tree (PROTOCOL.md §4), or ``None`` if it is not eligible.
        Before the referendum opens there is no frozen electorate to prove against:
        the referendum is unknown (:class:`UnknownElection`)."""
        election_id = self.refs.public_id(slug)
        with self.store.session() as session:
            found = session.execute(
                select(Voter.region, Voter.leaf_index).where(
                    Voter.election_id == election_id, Voter.credential == credential.to_bytes()
                )
            ).first()
        if found is None:
            return None
        region, index = found
        tree = self._electorate_tree(election_id, self.refs.parameters(slug))
        leaf = Eligible(credential, region).leaf()
        size = len(tree.levels[0])
        if index is None or not 0 <= index < size or tree.levels[0][index] != leaf_hash(leaf):
            raise StoreMismatch(f"{slug}: the stored electorate has no leaf {index} for this credential")
        return {
            "leaf": leaf.decode(),
            "index": index,
            "size": size,
            "root": tree.root().hex(),
            "proof": [p.hex() for p in inclusion_proof(index, size, tree.node)],
        }

    def _electorate_tree(self, election_id: int, params: ElectionParameters) -> MemoryTree:
        """The frozen electorate's tree, built once per election hash and used only
        when its size and root are the parameters' (PROTOCOL.md §2)."""
        with self._lock:
            tree = self._electorates.get(params.election_hash)
            if tree is None:
                tree = self._build_tree(election_id, params)
                self._electorates[params.election_hash] = tree
            return tree

    def _build_tree(self, election_id: int, params: ElectionParameters) -> MemoryTree:
        with self.store.session() as session:
            rows = session.execute(
                select(Voter.credential, Voter.region)
                .where(Voter.election_id == election_id)
                .order_by(Voter.credential)
                .execution_options(yield_per=10_000)
            )
            hashes = [leaf_hash(Eligible(Point.decode(c, "credential"), r).leaf()) for c, r in rows]
        tree = MemoryTree(hashes)
        if len(hashes) != params.electorate_size or tree.root().hex() != params.electorate_root:
            raise StoreMismatch(
                f"{params.manifest.slug}: the stored electorate ({len(hashes)} voters, root "
                f"{tree.root().hex()[:16]}…) is not the frozen one ({params.electorate_size} voters, "
                f"root {params.electorate_root[:16]}…)"
            )
        return tree


def _summary(row: Election) -> Summary:
    return Summary(row.slug, json.loads(row.manifest), row.state, row.board_size, row.election_hash)
