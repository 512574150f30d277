"""the editor's desk: picks per edition and town, hold for approval

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import digest.db

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PICK_KINDS = ("note", "pin", "drop", "add", "swap")


def upgrade() -> None:
    with op.batch_alter_table("newsletters") as batch:
        batch.add_column(
            sa.Column("hold_for_approval", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch.add_column(
            sa.Column("if_unapproved", sa.String(length=8), server_default="send", nullable=False)
        )
        batch.add_column(
            sa.Column("approval_grace_minutes", sa.Integer(), server_default="30", nullable=False)
        )
    with op.batch_alter_table("editions") as batch:
        batch.add_column(
            sa.Column("approved_at", digest.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("approved_by", sa.String(length=200), nullable=True))
    with op.batch_alter_table("edition_segments") as batch:
        batch.add_column(sa.Column("curated", sa.JSON(), server_default="{}", nullable=False))
    op.create_table(
        "edition_picks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("edition_id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=True),
        sa.Column(
            "kind",
            sa.Enum(*PICK_KINDS, name="pickkind", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("story_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("cluster_key", sa.String(length=64), nullable=True),
        sa.Column("section", sa.String(length=32), nullable=True),
        sa.Column("position", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.Column("created_at", digest.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_edition_picks_community_id_communities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["edition_id"],
            ["editions.id"],
            name=op.f("fk_edition_picks_edition_id_editions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["story_id"],
            ["stories.id"],
            name=op.f("fk_edition_picks_story_id_stories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_edition_picks")),
    )
    op.create_index(
        "ix_edition_picks_edition", "edition_picks", ["edition_id", "community_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_edition_picks_edition", table_name="edition_picks")
    op.drop_table("edition_picks")
    with op.batch_alter_table("edition_segments") as batch:
        batch.drop_column("curated")
    with op.batch_alter_table("editions") as batch:
        batch.drop_column("approved_by")
        batch.drop_column("approved_at")
    with op.batch_alter_table("newsletters") as batch:
        batch.drop_column("approval_grace_minutes")
        batch.drop_column("if_unapproved")
        batch.drop_column("hold_for_approval")
