"""purge lists: drawn, marked, signed, then run (RT-1, RT-5)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Issue 18 part 3: the timer only draws up the list of what may be cleared (待清除清单);
    # a records keeper marks each item, an approver signs (Pingdingshan 第15条).
    op.create_table(
        "purge_list",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("drawn_by", sa.String(length=128), nullable=False),
        sa.Column("drawn_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("signed_by", sa.String(length=128), nullable=True),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sign_note", sa.String(length=2000), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("purge_list", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_purge_list_status"), ["status"], unique=False)
    op.create_table(
        "purge_list_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("evidence_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=True),
        sa.Column("officer_id", sa.String(length=32), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("retain_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mark", sa.String(length=16), nullable=True),
        sa.Column("mark_reason", sa.String(length=2000), nullable=True),
        sa.Column("marked_by", sa.String(length=128), nullable=True),
        sa.Column("marked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("outcome_reason", sa.String(length=2000), nullable=True),
        sa.Column("outcome_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["evidence_id"], ["evidence.id"]),
        sa.ForeignKeyConstraint(["job_id"], ["purge_job.id"]),
        sa.ForeignKeyConstraint(["list_id"], ["purge_list.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("list_id", "evidence_id"),
    )
    with op.batch_alter_table("purge_list_item", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_purge_list_item_evidence_id"), ["evidence_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_purge_list_item_list_id"), ["list_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("purge_list_item", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_purge_list_item_list_id"))
        batch_op.drop_index(batch_op.f("ix_purge_list_item_evidence_id"))
    op.drop_table("purge_list_item")
    with op.batch_alter_table("purge_list", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_purge_list_status"))
    op.drop_table("purge_list")
