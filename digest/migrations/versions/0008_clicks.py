"""click analytics: link_clicks (aggregates), click_events (per reader), click_batches

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import digest.db

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC_TIME = digest.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("newsletters") as batch:
        batch.add_column(
            sa.Column("utm_params", sa.String(length=500), server_default="", nullable=False)
        )
    with op.batch_alter_table("subscribers") as batch:
        batch.add_column(
            sa.Column("click_opt_out", sa.Boolean(), server_default="0", nullable=False)
        )
    op.create_table(
        "link_clicks",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("edition_id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("link_key", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("clicks", sa.Integer(), nullable=False),
        sa.Column("scanner_head", sa.Integer(), nullable=False),
        sa.Column("scanner_early", sa.Integer(), nullable=False),
        sa.Column("scanner_agent", sa.Integer(), nullable=False),
        sa.Column("scanner_burst", sa.Integer(), nullable=False),
        sa.Column("last_click_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_link_clicks_community_id_communities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["edition_id"],
            ["editions.id"],
            name=op.f("fk_link_clicks_edition_id_editions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_clicks")),
        sa.UniqueConstraint(
            "edition_id",
            "community_id",
            "link_key",
            name=op.f("uq_link_clicks_edition_id_community_id_link_key"),
        ),
    )
    op.create_index(op.f("ix_link_clicks_item_id"), "link_clicks", ["item_id"])
    op.create_index(op.f("ix_link_clicks_last_click_at"), "link_clicks", ["last_click_at"])
    op.create_table(
        "click_events",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("edition_id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", BIG_ID, nullable=False),
        sa.Column("link_key", sa.String(length=64), nullable=False),
        sa.Column("clicked_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_click_events_community_id_communities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["edition_id"],
            ["editions.id"],
            name=op.f("fk_click_events_edition_id_editions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_click_events_subscriber_id_subscribers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_click_events")),
    )
    op.create_index(op.f("ix_click_events_clicked_at"), "click_events", ["clicked_at"])
    op.create_index(
        "ix_click_events_subscriber_clicked", "click_events", ["subscriber_id", "clicked_at"]
    )
    op.create_table(
        "click_batches",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("flushed_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_click_batches")),
    )
    op.create_index(op.f("ix_click_batches_flushed_at"), "click_batches", ["flushed_at"])


def downgrade() -> None:
    op.drop_table("click_batches")
    op.drop_table("click_events")
    op.drop_table("link_clicks")
    with op.batch_alter_table("subscribers") as batch:
        batch.drop_column("click_opt_out")
    with op.batch_alter_table("newsletters") as batch:
        batch.drop_column("utm_params")
