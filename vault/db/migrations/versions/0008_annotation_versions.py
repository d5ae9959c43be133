"""written reasons kept as attributed versions

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # RC-6 (issue 13): a changed reason for an interruption or a late upload is a new
    # version with who gave it and when, never a silent replacement of the old one.
    op.create_table(
        "annotation_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("gap_id", sa.Integer(), nullable=True),
        sa.Column("evidence_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("note", sa.String(), nullable=False),
        sa.Column("given_by", sa.String(length=128), nullable=False),
        sa.Column("given_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["evidence_id"], ["evidence.id"]),
        sa.ForeignKeyConstraint(["gap_id"], ["recording_gap.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("annotation_version", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_annotation_version_evidence_id"), ["evidence_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_annotation_version_gap_id"), ["gap_id"], unique=False)
    # The reasons given before this revision become each one's first version (the audit
    # chain holds any they replaced).
    op.execute(
        "INSERT INTO annotation_version "
        "(gap_id, evidence_id, version, reason, note, given_by, given_at) "
        "SELECT id, NULL, 1, reason, COALESCE(note, ''), COALESCE(annotated_by, '?'), "
        "annotated_at FROM recording_gap "
        "WHERE reason IS NOT NULL AND annotated_at IS NOT NULL"
    )
    op.execute(
        "INSERT INTO annotation_version "
        "(gap_id, evidence_id, version, reason, note, given_by, given_at) "
        "SELECT NULL, evidence_id, 1, NULL, note, given_by, given_at FROM late_reason"
    )


def downgrade() -> None:
    with op.batch_alter_table("annotation_version", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_annotation_version_gap_id"))
        batch_op.drop_index(batch_op.f("ix_annotation_version_evidence_id"))
    op.drop_table("annotation_version")
