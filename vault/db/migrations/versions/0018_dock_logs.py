"""the camera's own logs sealed with each docking (OV-4)

Revision ID: 0018
Revises: 0016
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Issue 18 part 9: custody records of a docking (a log naming a file that never arrived,
    # or a deletion, is a finding).
    op.create_table(
        "dock_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dock_session_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("record", sa.String(length=256), nullable=False),
        sa.Column("sealed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded", sa.JSON(), nullable=True),
        sa.Column("deleted", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["dock_session_id"], ["dock_session.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("dock_log", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dock_log_dock_session_id"), ["dock_session_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_dock_log_sha256"), ["sha256"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("dock_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dock_log_sha256"))
        batch_op.drop_index(batch_op.f("ix_dock_log_dock_session_id"))
    op.drop_table("dock_log")
