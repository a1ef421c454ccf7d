"""Storage: SQLite (embedded default) or PostgreSQL, one code path (SQLAlchemy 2 + Alembic)."""
