"""redaction plans: what a released copy hides, one attributed version per change

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # AC-9 (issue 20): faces, a reviewer's boxes and mute ranges for a redacted copy; a
    # changed plan is a new version with who made it and when, never an update.
    op.create_table(
        "redaction_plan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("evidence_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("plan", sa.JSON(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("author", sa.String(length=128), nullable=False),
        sa.Column("os_user", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(["evidence_id"], ["evidence.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("evidence_id", "version"),
    )
    with op.batch_alter_table("redaction_plan", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_redaction_plan_evidence_id"), ["evidence_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("redaction_plan", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_redaction_plan_evidence_id"))
    op.drop_table("redaction_plan")
