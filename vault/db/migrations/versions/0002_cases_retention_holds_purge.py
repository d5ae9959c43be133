"""cases retention holds purge

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_file",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("case_type", sa.String(length=32), nullable=False),
        sa.Column("unit", sa.String(length=128), nullable=False),
        sa.Column("activities", sa.JSON(), nullable=True),
        sa.Column("file_retention_years", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("litigation", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("case_file", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_file_case_type"), ["case_type"], unique=False)
        batch_op.create_index(batch_op.f("ix_case_file_number"), ["number"], unique=True)
        batch_op.create_index(batch_op.f("ix_case_file_status"), ["status"], unique=False)

    op.create_table(
        "purge_job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("deleted", sa.Integer(), nullable=False),
        sa.Column("kept", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "case_handler",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("officer_pk", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["case_file.id"],
        ),
        sa.ForeignKeyConstraint(
            ["officer_pk"],
            ["officer.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "officer_pk"),
    )
    with op.batch_alter_table("case_handler", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_handler_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_case_handler_officer_pk"), ["officer_pk"], unique=False
        )

    op.create_table(
        "case_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("evidence_id", sa.Integer(), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("linked_by", sa.String(length=128), nullable=False),
        sa.Column("unlinked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("unlinked_by", sa.String(length=128), nullable=True),
        sa.Column("unlink_reason", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["case_file.id"],
        ),
        sa.ForeignKeyConstraint(
            ["evidence_id"],
            ["evidence.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("case_link", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_link_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_case_link_evidence_id"), ["evidence_id"], unique=False)

    op.create_table(
        "hold",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("evidence_id", sa.Integer(), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("placed_by", sa.String(length=128), nullable=False),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_by", sa.String(length=128), nullable=True),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("release_reason", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["case_file.id"],
        ),
        sa.ForeignKeyConstraint(
            ["evidence_id"],
            ["evidence.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("hold", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_hold_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_hold_evidence_id"), ["evidence_id"], unique=False)

    op.create_table(
        "purge_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("evidence_id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=True),
        sa.Column("officer_id", sa.String(length=32), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("retain_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("storage_key", sa.String(length=512), nullable=False),
        sa.Column("storage_version", sa.String(length=1024), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["evidence_id"],
            ["evidence.id"],
        ),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["purge_job.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("purge_record", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_purge_record_evidence_id"), ["evidence_id"], unique=True
        )
        batch_op.create_index(batch_op.f("ix_purge_record_job_id"), ["job_id"], unique=False)

    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.add_column(sa.Column("storage_version", sa.String(length=1024), nullable=True))
        batch_op.add_column(
            sa.Column(
                "retention_class", sa.String(length=16), nullable=False, server_default="routine"
            )
        )
        batch_op.add_column(sa.Column("long_term_category", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("retention_reason", sa.String(), nullable=True))
        batch_op.add_column(
            sa.Column("legal_hold", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_evidence_legal_hold"), ["legal_hold"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_evidence_retain_until"), ["retain_until"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_evidence_retention_class"), ["retention_class"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evidence_retention_class"))
        batch_op.drop_index(batch_op.f("ix_evidence_retain_until"))
        batch_op.drop_index(batch_op.f("ix_evidence_legal_hold"))
        batch_op.drop_column("purged_at")
        batch_op.drop_column("legal_hold")
        batch_op.drop_column("retention_reason")
        batch_op.drop_column("long_term_category")
        batch_op.drop_column("retention_class")
        batch_op.drop_column("storage_version")

    with op.batch_alter_table("purge_record", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_purge_record_job_id"))
        batch_op.drop_index(batch_op.f("ix_purge_record_evidence_id"))

    op.drop_table("purge_record")
    with op.batch_alter_table("hold", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hold_evidence_id"))
        batch_op.drop_index(batch_op.f("ix_hold_case_id"))

    op.drop_table("hold")
    with op.batch_alter_table("case_link", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_link_evidence_id"))
        batch_op.drop_index(batch_op.f("ix_case_link_case_id"))

    op.drop_table("case_link")
    with op.batch_alter_table("case_handler", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_handler_officer_pk"))
        batch_op.drop_index(batch_op.f("ix_case_handler_case_id"))

    op.drop_table("case_handler")
    op.drop_table("purge_job")
    with op.batch_alter_table("case_file", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_file_status"))
        batch_op.drop_index(batch_op.f("ix_case_file_number"))
        batch_op.drop_index(batch_op.f("ix_case_file_case_type"))

    op.drop_table("case_file")
