"""What every step of a referendum's life shares (PROTOCOL.md §2–§8): the
store, the board's key and writer, the clock, and looking a referendum up by
its slug. :class:`~istifta.store.referendums.Referendums` is built on it, from
:class:`~istifta.store.setting_up.SettingUp` and
:class:`~istifta.store.counting.Counting`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from nacl.signing import SigningKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from istifta.errors import UnknownElection, WrongState
from istifta.protocol.manifest import Manifest, parse_manifest
from istifta.protocol.parameters import ElectionParameters, parse_parameters
from istifta.store.board import BoardLog
from istifta.store.db import Store
from istifta.store.models import Election
from istifta.store.private import BOARD_KEY, load_key

__all__ = ["IMPORT_BATCH", "Clock", "OpenReferendum", "ReferendumBase", "load_board_key"]

Clock = Callable[[], datetime]
IMPORT_BATCH = 10_000


def load_board_key(data_dir: Path) -> SigningKey:
    """The board's Ed25519 key in ``data_dir/board.key`` (hex seed, mode 0600), made on first use."""
    return SigningKey(load_key(data_dir / BOARD_KEY))


@dataclass(frozen=True)
class OpenReferendum:
    """What casting needs of an open referendum, kept in memory."""

    id: int
    params: ElectionParameters


class ReferendumBase:
    def __init__(
        self, store: Store, key: SigningKey, clock: Clock | None = None, data_dir: Path | None = None
    ) -> None:
        self.data_dir = data_dir
        """The data directory it was opened from (its keys live there), if any."""
        self.store = store
        self.key = key
        self.clock: Clock = clock or (lambda: datetime.now(UTC))
        self.board = BoardLog(store, key, self.clock)
        self._params: dict[str, OpenReferendum] = {}

    def close_store(self) -> None:
        self.board.stop()
        self.store.close()

    @property
    def board_key(self) -> bytes:
        return bytes(self.key.verify_key)

    # --- looking up ---

    def _row(self, session: Session, slug: str) -> Election:
        row = session.execute(select(Election).where(Election.slug == slug)).scalar()
        if row is None:
            raise UnknownElection(f"no referendum is called {slug!r}")
        return row

    def election_id(self, slug: str) -> int:
        """The referendum's row id, in any state (raises :class:`UnknownElection`)."""
        cached = self._params.get(slug)
        if cached is not None:
            return cached.id
        with self.store.session() as session:
            return self._row(session, slug).id

    def public_id(self, slug: str) -> int:
        """The row id of a referendum that has opened. A draft exists only for the
        console: to anyone else it is unknown (:class:`UnknownElection`, the same
        words as for a slug that names nothing)."""
        cached = self._params.get(slug)
        if cached is not None:
            return cached.id
        with self.store.session() as session:
            row = self._row(session, slug)
            if row.state == "draft":
                raise UnknownElection(f"no referendum is called {slug!r}")
            return row.id

    def row(self, session: Session, slug: str) -> Election:
        """The referendum's row in ``session`` (raises :class:`UnknownElection`)."""
        return self._row(session, slug)

    def state(self, slug: str) -> str:
        with self.store.session() as session:
            return self._row(session, slug).state

    def manifest(self, slug: str) -> Manifest:
        with self.store.session() as session:
            return parse_manifest(json.loads(self._row(session, slug).manifest))

    def parameters(self, slug: str) -> ElectionParameters:
        return self._opened(slug).params

    def _opened(self, slug: str) -> OpenReferendum:
        cached = self._params.get(slug)
        if cached is not None:
            return cached
        with self.store.session() as session:
            row = self._row(session, slug)
            if row.parameters is None:
                raise WrongState(f"{slug} is not open yet: its parameters are not frozen", row.state)
            opened = OpenReferendum(row.id, parse_parameters(json.loads(row.parameters)))
        self._params[slug] = opened
        return opened
