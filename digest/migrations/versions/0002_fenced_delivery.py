"""fenced delivery claims, self-pausing editions, and folded delivery history

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import digest.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DELIVERY_STATES = (
    "queued",
    "sending",
    "sent",
    "deferred",
    "failed",
    "bounced",
    "suppressed",
    "cancelled",
)


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claim_token", sa.String(length=32), nullable=True))
    with op.batch_alter_table("editions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pause_reason", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("folded_at", digest.db.UTCDateTime(timezone=True), nullable=True)
        )
    op.create_table(
        "edition_town_counts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("edition_id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(*DELIVERY_STATES, name="deliverystatus", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_edition_town_counts_community_id_communities"),
        ),
        sa.ForeignKeyConstraint(
            ["edition_id"],
            ["editions.id"],
            name=op.f("fk_edition_town_counts_edition_id_editions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_edition_town_counts")),
        sa.UniqueConstraint(
            "edition_id",
            "community_id",
            "status",
            name=op.f("uq_edition_town_counts_edition_id_community_id_status"),
        ),
    )


def downgrade() -> None:
    op.drop_table("edition_town_counts")
    with op.batch_alter_table("editions", schema=None) as batch_op:
        batch_op.drop_column("folded_at")
        batch_op.drop_column("pause_reason")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("claim_token")
