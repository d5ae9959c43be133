"""unresumed recordings with their immediate report; reviewed written reasons

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-20
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # RC-3 (Gansu-Eco 第42条, Gansu-Radio 第19条): a recording that could not be resumed is
    # reported at once (to whom, when) and explained in writing afterwards.
    op.create_table(
        "unresumed_stop",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("reported_to", sa.String(length=128), nullable=True),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.String(), nullable=True),
        sa.Column("given_by", sa.String(length=128), nullable=False),
        sa.Column("given_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["session_id"], ["recording_session.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("unresumed_stop", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_unresumed_stop_session_id"), ["session_id"], unique=True
        )
    # RC-6: every version keeps its review (who accepted or rejected it, when, why), and an
    # unresumed session's explanation keeps its versions like a gap's reason.
    with op.batch_alter_table("annotation_version", schema=None) as batch_op:
        batch_op.add_column(sa.Column("session_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("reported_to", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("review", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("review_note", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("reviewed_by", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_annotation_version_session_id"), ["session_id"], unique=False
        )
        batch_op.create_foreign_key(
            "fk_annotation_version_session_id",
            "recording_session",
            ["session_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("annotation_version", schema=None) as batch_op:
        batch_op.drop_constraint("fk_annotation_version_session_id", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_annotation_version_session_id"))
        for column in (
            "reviewed_at",
            "reviewed_by",
            "review_note",
            "review",
            "reported_at",
            "reported_to",
            "session_id",
        ):
            batch_op.drop_column(column)
    with op.batch_alter_table("unresumed_stop", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_unresumed_stop_session_id"))
    op.drop_table("unresumed_stop")
