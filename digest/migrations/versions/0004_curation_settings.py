"""curation weights and subject templates of a newsletter; when a segment was built

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import digest.db

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("newsletters") as batch:
        batch.add_column(sa.Column("weights", sa.JSON(), nullable=False, server_default="{}"))
        batch.add_column(
            sa.Column("subject_template", sa.String(length=200), nullable=False, server_default="")
        )
        batch.add_column(
            sa.Column(
                "preheader_template", sa.String(length=200), nullable=False, server_default=""
            )
        )

    with op.batch_alter_table("edition_segments") as batch:
        batch.add_column(sa.Column("built_at", digest.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("edition_segments") as batch:
        batch.drop_column("built_at")
    with op.batch_alter_table("newsletters") as batch:
        batch.drop_column("preheader_template")
        batch.drop_column("subject_template")
        batch.drop_column("weights")
