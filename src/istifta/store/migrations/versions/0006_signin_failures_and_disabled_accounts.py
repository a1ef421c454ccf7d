"""sign-in failures kept in the store, and accounts that can be disabled

Revision ID: 0006
Revises: 0005

The console's sign-in throttle used to count failures in each worker's
memory, per (name, address), and never forgot them. Every worker now sees the
same failures, counted per account and per address, and old ones are
deleted. An organiser may disable an account (its sessions end at once)
without deleting it, so that the audit log still names who did what.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signin_failures",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_signin_failures_key_at", "signin_failures", ["key", "at"])
    op.add_column("accounts", sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("disabled_at")
    op.drop_index("ix_signin_failures_key_at", table_name="signin_failures")
    op.drop_table("signin_failures")
