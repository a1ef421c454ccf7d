"""Failed attempts counted in the store, so that every worker process sees the
same ones: the console's sign-in and join throttle.

A key names what a failure counts against (``account:NAME``,
``address:PREFIX``); a key with ``limit`` failures in the last ``window`` is
locked until the oldest of them is ``window`` old. Failures older than the
window are deleted whenever one is added, so the table holds only recent ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select

from istifta.errors import LifecycleError
from istifta.store.db import Store
from istifta.store.models import SignInFailure

__all__ = ["Failures", "Throttled"]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Throttled(LifecycleError):
    """Too many failures lately: ``wait`` seconds before the next attempt is heard."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"too many failed attempts: try again in {int(wait // 60) + 1} minutes")
        self.wait = wait


@dataclass(frozen=True)
class Failures:
    store: Store
    window: timedelta

    def wait(self, limits: dict[str, int]) -> float:
        """The seconds until every key of ``limits`` (key → failures allowed in the
        window) is below its limit; 0 when none is locked."""
        now = datetime.now(UTC)
        since = now - self.window
        with self.store.session() as session:
            counted = session.execute(
                select(SignInFailure.key, func.count(), func.min(SignInFailure.at))
                .where(SignInFailure.key.in_(list(limits)), SignInFailure.at > since)
                .group_by(SignInFailure.key)
            ).all()
        waits = [
            (_aware(oldest) + self.window - now).total_seconds()
            for key, count, oldest in counted
            if count >= limits[key]
        ]
        return max([0.0, *waits])

    def add(self, *keys: str) -> None:
        """Count one failure against each key, and forget those older than the window."""
        now = datetime.now(UTC)
        with self.store.write_session() as session, session.begin():
            session.execute(delete(SignInFailure).where(SignInFailure.at <= now - self.window))
            session.add_all(SignInFailure(key=key[:128], at=now) for key in keys)

    def clear(self, key: str) -> None:
        with self.store.write_session() as session, session.begin():
            session.execute(delete(SignInFailure).where(SignInFailure.key == key[:128]))
