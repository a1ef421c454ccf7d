"""each voter's leaf index in the frozen electorate, and live turnout counters

Revision ID: 0005
Revises: 0004

A public credential's inclusion proof needs its leaf's index; a referendum's
live turnout needs, by region, the voters and those who have voted. Both
used to be counted on every request (an index walk of up to the whole
electorate, and the set of every voted credential). ``open`` now stores the
index of each leaf and the eligible voters by region; the board's writer adds
each credential's first ballot to ``voted``. Referendums already open are
brought up to date here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_OPENED = "SELECT id FROM elections WHERE state != 'draft'"


def upgrade() -> None:
    op.add_column("electorate", sa.Column("leaf_index", sa.BigInteger(), nullable=True))
    op.create_table(
        "turnout_counts",
        sa.Column("election_id", sa.Integer(), nullable=False),
        sa.Column("region", sa.String(length=64), nullable=False),
        sa.Column("eligible", sa.BigInteger(), nullable=False),
        sa.Column("voted", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["election_id"], ["elections.id"]),
        sa.PrimaryKeyConstraint("election_id", "region"),
    )
    op.execute(
        "UPDATE electorate SET leaf_index = ranked.leaf_index FROM ("
        " SELECT election_id, credential,"
        " row_number() OVER (PARTITION BY election_id ORDER BY credential) - 1 AS leaf_index"
        f" FROM electorate WHERE election_id IN ({_OPENED})) AS ranked"
        " WHERE electorate.election_id = ranked.election_id AND electorate.credential = ranked.credential"
    )
    op.execute(
        "INSERT INTO turnout_counts (election_id, region, eligible, voted)"
        " SELECT e.election_id, COALESCE(e.region, ''), count(*), count(v.credential)"
        " FROM electorate AS e LEFT JOIN ("
        "  SELECT DISTINCT election_id, credential FROM board_entries WHERE kind = 'ballot'"
        " ) AS v ON v.election_id = e.election_id AND v.credential = e.credential"
        f" WHERE e.election_id IN ({_OPENED})"
        " GROUP BY e.election_id, COALESCE(e.region, '')"
    )


def downgrade() -> None:
    op.drop_table("turnout_counts")
    op.drop_column("electorate", "leaf_index")
