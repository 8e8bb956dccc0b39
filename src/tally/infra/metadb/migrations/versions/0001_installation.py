"""the installation record

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Alembic's own alembic_version says which revision applies; this table says when the
    # database was set up and by which Tally, for support and for the next migrations.
    op.create_table(
        "tally_installation",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.Column("tally_version", sa.String(32), nullable=False),
    )  # fmt: skip
    op.bulk_insert(
        sa.table("tally_installation", sa.column("id"), sa.column("tally_version")),
        [{"id": 1, "tally_version": "0.1.0"}],
    )


def downgrade() -> None:
    op.drop_table("tally_installation")
