"""sponsors, campaigns, creatives, the slots frozen with each segment, the editor's swaps

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import digest.db

revision: str = "0007"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sponsors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("contact", sa.String(length=320), nullable=True),
        sa.Column("created_at", digest.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sponsors")),
        sa.UniqueConstraint("slug", name=op.f("uq_sponsors_slug")),
    )
    op.create_table(
        "creatives",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sponsor_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=40), nullable=False),
        sa.Column("headline", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("image_url", sa.String(length=2048), nullable=True),
        sa.Column("image_alt", sa.String(length=300), nullable=False),
        sa.Column("link_url", sa.String(length=2048), nullable=False),
        sa.Column("created_at", digest.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["sponsor_id"], ["sponsors.id"], name=op.f("fk_creatives_sponsor_id_sponsors")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_creatives")),
    )
    with op.batch_alter_table("creatives", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_creatives_sponsor_id"), ["sponsor_id"], unique=False)

    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("sponsor_id", sa.Integer(), nullable=False),
        sa.Column("creative_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.String(length=16), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("newsletter_ids", sa.JSON(), nullable=False),
        sa.Column("community_ids", sa.JSON(), nullable=False),
        sa.Column("house", sa.Boolean(), nullable=False),
        sa.Column("cancelled_at", digest.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", digest.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["creative_id"], ["creatives.id"], name=op.f("fk_campaigns_creative_id_creatives")
        ),
        sa.ForeignKeyConstraint(
            ["sponsor_id"], ["sponsors.id"], name=op.f("fk_campaigns_sponsor_id_sponsors")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
        sa.UniqueConstraint("slug", name=op.f("uq_campaigns_slug")),
    )
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_campaigns_sponsor_id"), ["sponsor_id"], unique=False)

    op.create_table(
        "sponsor_placements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("segment_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.String(length=16), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("creative_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_sponsor_placements_campaign_id_campaigns"),
        ),
        sa.ForeignKeyConstraint(
            ["creative_id"],
            ["creatives.id"],
            name=op.f("fk_sponsor_placements_creative_id_creatives"),
        ),
        sa.ForeignKeyConstraint(
            ["segment_id"],
            ["edition_segments.id"],
            name=op.f("fk_sponsor_placements_segment_id_edition_segments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sponsor_placements")),
        sa.UniqueConstraint(
            "segment_id", "position", name=op.f("uq_sponsor_placements_segment_id_position")
        ),
    )
    with op.batch_alter_table("sponsor_placements", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sponsor_placements_campaign_id"), ["campaign_id"], unique=False
        )

    op.create_table(
        "sponsor_swaps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("newsletter_id", sa.Integer(), nullable=False),
        sa.Column("edition_date", sa.Date(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.String(length=16), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("created_at", digest.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_sponsor_swaps_campaign_id_campaigns")
        ),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_sponsor_swaps_community_id_communities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["newsletter_id"],
            ["newsletters.id"],
            name=op.f("fk_sponsor_swaps_newsletter_id_newsletters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sponsor_swaps")),
        sa.UniqueConstraint(
            "newsletter_id",
            "edition_date",
            "community_id",
            "position",
            name=op.f("uq_sponsor_swaps_newsletter_id_edition_date_community_id_position"),
        ),
    )


def downgrade() -> None:
    op.drop_table("sponsor_swaps")
    with op.batch_alter_table("sponsor_placements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sponsor_placements_campaign_id"))

    op.drop_table("sponsor_placements")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_campaigns_sponsor_id"))

    op.drop_table("campaigns")
    with op.batch_alter_table("creatives", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_creatives_sponsor_id"))

    op.drop_table("creatives")
    op.drop_table("sponsors")
