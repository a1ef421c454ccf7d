"""registrations (phones, sealed codes) and the SMS dispatch queue

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "registrations",
        sa.Column("election_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("phone", sa.String(length=16), nullable=False),
        sa.Column("region", sa.String(length=64), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("credential", sa.LargeBinary(length=32), nullable=False),
        sa.Column("code_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("line", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["election_id"], ["elections.id"]),
        sa.PrimaryKeyConstraint("election_id", "number"),
        sa.UniqueConstraint("election_id", "phone", name="uq_registration_phone"),
    )
    op.create_index("ix_registration_credential", "registrations", ["election_id", "credential"])
    op.create_table(
        "sms_messages",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("election_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("gateway", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("segments", sa.SmallInteger(), nullable=False),
        sa.Column("attempts", sa.SmallInteger(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("gateway_id", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["election_id"], ["elections.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("election_id", "number", "kind", "round", name="uq_sms_once"),
    )
    op.create_index("ix_sms_due", "sms_messages", ["election_id", "state", "next_attempt_at"])
    op.create_index("ix_sms_gateway_id", "sms_messages", ["gateway", "gateway_id"])


def downgrade() -> None:
    op.drop_index("ix_sms_gateway_id", table_name="sms_messages")
    op.drop_index("ix_sms_due", table_name="sms_messages")
    op.drop_table("sms_messages")
    op.drop_index("ix_registration_credential", table_name="registrations")
    op.drop_table("registrations")
