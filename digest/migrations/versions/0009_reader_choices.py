"""readers' choices: interests, frequency, other towns, pause; audience segments; alerts

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import digest.db

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # server_default only fills the rows already there; the models set these values themselves.
    with op.batch_alter_table("newsletters") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="digest"))
    with op.batch_alter_table("subscribers") as batch:
        batch.add_column(
            sa.Column("paused_until", digest.db.UTCDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("subscriptions") as batch:
        batch.add_column(sa.Column("interests", sa.JSON(), nullable=True))
        batch.add_column(
            sa.Column("frequency", sa.String(16), nullable=False, server_default="daily")
        )
        batch.add_column(sa.Column("audience", sa.String(255), nullable=False, server_default=""))
    with op.batch_alter_table("editions") as batch:
        batch.add_column(sa.Column("story_id", BIG_ID, nullable=True))
        batch.create_foreign_key(
            op.f("fk_editions_story_id_stories"),
            "stories",
            ["story_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_unique_constraint(
            op.f("uq_editions_newsletter_id_story_id"), ["newsletter_id", "story_id"]
        )
    with op.batch_alter_table("edition_segments") as batch:
        batch.add_column(sa.Column("audience", sa.String(255), nullable=False, server_default=""))
        batch.drop_constraint("uq_edition_segments_edition_id_community_id", type_="unique")
        batch.create_unique_constraint(
            op.f("uq_edition_segments_edition_id_community_id_audience"),
            ["edition_id", "community_id", "audience"],
        )
    # The server defaults stay: rows written by plain SQL (bulk imports, benchmarks) get them.
    op.create_table(
        "subscriber_towns",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("subscriber_id", BIG_ID, nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_subscriber_towns_community_id_communities"),
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_subscriber_towns_subscriber_id_subscribers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriber_towns")),
        sa.UniqueConstraint(
            "subscriber_id",
            "community_id",
            name=op.f("uq_subscriber_towns_subscriber_id_community_id"),
        ),
    )


def downgrade() -> None:
    op.drop_table("subscriber_towns")
    with op.batch_alter_table("edition_segments") as batch:
        batch.drop_constraint(
            "uq_edition_segments_edition_id_community_id_audience", type_="unique"
        )
        batch.create_unique_constraint(
            "uq_edition_segments_edition_id_community_id", ["edition_id", "community_id"]
        )
        batch.drop_column("audience")
    with op.batch_alter_table("editions") as batch:
        batch.drop_constraint("uq_editions_newsletter_id_story_id", type_="unique")
        batch.drop_constraint("fk_editions_story_id_stories", type_="foreignkey")
        batch.drop_column("story_id")
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_column("audience")
        batch.drop_column("frequency")
        batch.drop_column("interests")
    with op.batch_alter_table("subscribers") as batch:
        batch.drop_column("paused_until")
    with op.batch_alter_table("newsletters") as batch:
        batch.drop_column("kind")
