"""Opening a store: SQLite in a data directory (the embedded default) or
PostgreSQL from a URL, migrated to the current schema by Alembic."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from istifta.store.private import DATABASE, check_private, create_private, private_dir

__all__ = ["POOL_SIZE", "Store", "open_store"]

MIGRATIONS = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")  # a returned receipt survives a power cut
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_manual_transactions(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # let the "begin" event issue BEGIN


def _sqlite_begin_immediate(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


POOL_SIZE = 20
"""Connections each process keeps open: as many as the web server's worker threads
(``istifta.web.app`` sets their number to this), so that a busy server does not open
and close a connection per request; ``POOL_OVERFLOW`` more are opened, and closed
again, when other threads (the board's writer, the SMS senders) need them too."""
POOL_OVERFLOW = 20


class Store:
    """An engine and its sessions. ``url`` is a SQLAlchemy URL."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            self.engine: Engine = create_engine(
                url, connect_args={"timeout": 30}, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW
            )
            event.listen(self.engine, "connect", _sqlite_pragmas)
            # Writers take SQLite's write lock when they begin, not at their first
            # write, so that what they read (the board's size) cannot go stale.
            self.writer: Engine = create_engine(url, connect_args={"timeout": 30})
            event.listen(self.writer, "connect", _sqlite_pragmas)
            event.listen(self.writer, "connect", _sqlite_manual_transactions)
            event.listen(self.writer, "begin", _sqlite_begin_immediate)
        else:
            self.engine = create_engine(
                url, pool_pre_ping=True, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW
            )
            self.writer = self.engine  # SELECT … FOR UPDATE does the locking
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.write_sessions = sessionmaker(self.writer, expire_on_commit=False)

    def session(self) -> Session:
        """A session for reading (and writes that need no board lock)."""
        return self.sessions()

    def write_session(self) -> Session:
        """A session whose transactions hold the write lock from their start."""
        return self.write_sessions()

    def migrate(self) -> None:
        """Bring the schema to the newest migration (idempotent)."""
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def close(self) -> None:
        self.engine.dispose()
        self.writer.dispose()


def open_store(data_dir: Path, url: str | None = None) -> Store:
    """The store for ``data_dir``: PostgreSQL when ``url`` is given, else SQLite
    in ``data_dir/istifta.db``. The directory (0700) and the database (0600) are
    made private before anything is written; SQLite gives its side files that mode."""
    private_dir(data_dir)
    if not url:
        path = data_dir / DATABASE
        create_private(path)
        check_private(path, path.with_name(f"{DATABASE}-wal"), path.with_name(f"{DATABASE}-shm"))
        url = f"sqlite:///{path}"
    store = Store(url)
    store.migrate()
    return store
