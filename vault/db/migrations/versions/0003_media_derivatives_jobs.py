"""media derivatives jobs

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "derivative",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("evidence_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("storage_key", sa.String(length=512), nullable=False),
        sa.Column("storage_version", sa.String(length=1024), nullable=True),
        sa.Column("media_type", sa.String(length=64), nullable=False),
        sa.Column("encoder", sa.String(length=32), nullable=True),
        sa.Column("params", sa.JSON(), nullable=True),
        sa.Column("recovered_s", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["evidence_id"],
            ["evidence.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("evidence_id", "kind"),
    )
    with op.batch_alter_table("derivative", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_derivative_evidence_id"), ["evidence_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_derivative_sha256"), ["sha256"], unique=False)

    op.create_table(
        "media_job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("evidence_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=128), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["evidence_id"],
            ["evidence.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("evidence_id", "kind"),
    )
    with op.batch_alter_table("media_job", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_media_job_evidence_id"), ["evidence_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_media_job_not_before"), ["not_before"], unique=False)
        batch_op.create_index(batch_op.f("ix_media_job_state"), ["state"], unique=False)

    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("media_state", sa.String(length=16), nullable=False, server_default="pending")
        )
        batch_op.add_column(sa.Column("media", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("damage", sa.String(), nullable=True))
        batch_op.create_index(batch_op.f("ix_evidence_media_state"), ["media_state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evidence_media_state"))
        batch_op.drop_column("damage")
        batch_op.drop_column("media")
        batch_op.drop_column("media_state")

    with op.batch_alter_table("media_job", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_media_job_state"))
        batch_op.drop_index(batch_op.f("ix_media_job_not_before"))
        batch_op.drop_index(batch_op.f("ix_media_job_evidence_id"))

    op.drop_table("media_job")
    with op.batch_alter_table("derivative", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_derivative_sha256"))
        batch_op.drop_index(batch_op.f("ix_derivative_evidence_id"))

    op.drop_table("derivative")
