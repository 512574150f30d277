"""unique clickers (sketches on link_clicks, town_clickers) and list hygiene settings and state

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import digest.db

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC_TIME = digest.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("link_clicks") as batch:
        batch.add_column(
            sa.Column("unique_clicks", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("clickers", sa.LargeBinary(), nullable=True))
    op.create_table(
        "town_clickers",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("edition_id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("unique_clicks", sa.Integer(), nullable=False),
        sa.Column("clickers", sa.LargeBinary(), nullable=True),
        sa.Column("last_click_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_town_clickers_community_id_communities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["edition_id"],
            ["editions.id"],
            name=op.f("fk_town_clickers_edition_id_editions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_town_clickers")),
        sa.UniqueConstraint(
            "edition_id", "community_id", name=op.f("uq_town_clickers_edition_id_community_id")
        ),
    )
    op.create_index(
        op.f("ix_town_clickers_last_click_at"), "town_clickers", ["last_click_at"], unique=False
    )
    with op.batch_alter_table("newsletters") as batch:
        batch.add_column(
            sa.Column("hygiene", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(
            sa.Column("hygiene_after_editions", sa.Integer(), nullable=False, server_default="10")
        )
        batch.add_column(
            sa.Column("hygiene_grace_editions", sa.Integer(), nullable=False, server_default="3")
        )
        batch.add_column(sa.Column("hygiene_since", UTC_TIME, nullable=True))
    with op.batch_alter_table("subscriptions") as batch:
        batch.add_column(sa.Column("reengage_state", sa.String(16), nullable=True))
        batch.add_column(sa.Column("reengaged_at", UTC_TIME, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_column("reengaged_at")
        batch.drop_column("reengage_state")
    with op.batch_alter_table("newsletters") as batch:
        batch.drop_column("hygiene_since")
        batch.drop_column("hygiene_grace_editions")
        batch.drop_column("hygiene_after_editions")
        batch.drop_column("hygiene")
    op.drop_index(op.f("ix_town_clickers_last_click_at"), table_name="town_clickers")
    op.drop_table("town_clickers")
    with op.batch_alter_table("link_clicks") as batch:
        batch.drop_column("clickers")
        batch.drop_column("unique_clicks")
