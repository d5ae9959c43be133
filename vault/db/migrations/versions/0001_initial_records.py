"""initial records

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=128), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("hash"),
        sa.UniqueConstraint("prev_hash"),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_event_action"), ["action"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_event_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_event_subject"), ["subject"], unique=False)

    op.create_table(
        "officer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("officer_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=True),
        sa.Column("unit", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("officer", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_officer_officer_id"), ["officer_id"], unique=True)

    op.create_table(
        "device",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=128), nullable=True),
        sa.Column("vendor", sa.String(length=128), nullable=True),
        sa.Column("firmware", sa.String(length=64), nullable=True),
        sa.Column("profile", sa.String(length=64), nullable=False),
        sa.Column("keeper_officer_id", sa.Integer(), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["keeper_officer_id"],
            ["officer.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("device", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_device_device_id"), ["device_id"], unique=True)

    op.create_table(
        "dock_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("device_pk", sa.Integer(), nullable=True),
        sa.Column("officer_pk", sa.Integer(), nullable=True),
        sa.Column("profile", sa.String(length=64), nullable=False),
        sa.Column("volume", sa.String(length=1024), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("error", sa.String(), nullable=True),
        sa.Column("device_info", sa.JSON(), nullable=True),
        sa.Column("device_time_raw", sa.String(length=64), nullable=True),
        sa.Column("device_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("station_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("clock_offset_s", sa.Float(), nullable=True),
        sa.Column("battery_percent", sa.Integer(), nullable=True),
        sa.Column("free_bytes", sa.BigInteger(), nullable=True),
        sa.Column("clips_sealed", sa.Integer(), nullable=False),
        sa.Column("clips_seen", sa.Integer(), nullable=False),
        sa.Column("bytes_read", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_pk"],
            ["device.id"],
        ),
        sa.ForeignKeyConstraint(
            ["officer_pk"],
            ["officer.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("dock_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dock_session_device_pk"), ["device_pk"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_dock_session_officer_pk"), ["officer_pk"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_dock_session_started_at"), ["started_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_dock_session_station_id"), ["station_id"], unique=False
        )

    op.create_table(
        "evidence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("device_pk", sa.Integer(), nullable=True),
        sa.Column("officer_pk", sa.Integer(), nullable=True),
        sa.Column("dock_session_id", sa.Integer(), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("camera_folder", sa.String(length=1024), nullable=False),
        sa.Column("important", sa.Boolean(), nullable=False),
        sa.Column("sequence", sa.String(length=16), nullable=True),
        sa.Column("camera_time", sa.String(length=32), nullable=True),
        sa.Column("camera_time_source", sa.String(length=16), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recorded_at_corrected", sa.DateTime(timezone=True), nullable=True),
        sa.Column("docked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sealed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verify_error", sa.String(), nullable=True),
        sa.Column("storage_backend", sa.String(length=16), nullable=False),
        sa.Column("storage_key", sa.String(length=512), nullable=False),
        sa.Column("immutable_applied", sa.Boolean(), nullable=False),
        sa.Column("retain_until", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_pk"],
            ["device.id"],
        ),
        sa.ForeignKeyConstraint(
            ["dock_session_id"],
            ["dock_session.id"],
        ),
        sa.ForeignKeyConstraint(
            ["officer_pk"],
            ["officer.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_evidence_device_pk"), ["device_pk"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_evidence_dock_session_id"), ["dock_session_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_evidence_officer_pk"), ["officer_pk"], unique=False)
        batch_op.create_index(batch_op.f("ix_evidence_recorded_at"), ["recorded_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_evidence_recorded_at_corrected"), ["recorded_at_corrected"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_evidence_sha256"), ["sha256"], unique=True)
        batch_op.create_index(batch_op.f("ix_evidence_status"), ["status"], unique=False)

    op.create_table(
        "sighting",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("evidence_id", sa.Integer(), nullable=False),
        sa.Column("dock_session_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("mtime", sa.DateTime(timezone=True), nullable=True),
        sa.Column("important", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["dock_session_id"],
            ["dock_session.id"],
        ),
        sa.ForeignKeyConstraint(
            ["evidence_id"],
            ["evidence.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dock_session_id", "path"),
    )
    with op.batch_alter_table("sighting", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sighting_dock_session_id"), ["dock_session_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_sighting_evidence_id"), ["evidence_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sighting", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sighting_evidence_id"))
        batch_op.drop_index(batch_op.f("ix_sighting_dock_session_id"))

    op.drop_table("sighting")
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evidence_status"))
        batch_op.drop_index(batch_op.f("ix_evidence_sha256"))
        batch_op.drop_index(batch_op.f("ix_evidence_recorded_at_corrected"))
        batch_op.drop_index(batch_op.f("ix_evidence_recorded_at"))
        batch_op.drop_index(batch_op.f("ix_evidence_officer_pk"))
        batch_op.drop_index(batch_op.f("ix_evidence_dock_session_id"))
        batch_op.drop_index(batch_op.f("ix_evidence_device_pk"))

    op.drop_table("evidence")
    with op.batch_alter_table("dock_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dock_session_station_id"))
        batch_op.drop_index(batch_op.f("ix_dock_session_started_at"))
        batch_op.drop_index(batch_op.f("ix_dock_session_officer_pk"))
        batch_op.drop_index(batch_op.f("ix_dock_session_device_pk"))

    op.drop_table("dock_session")
    with op.batch_alter_table("device", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_device_id"))

    op.drop_table("device")
    with op.batch_alter_table("officer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_officer_officer_id"))

    op.drop_table("officer")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_event_subject"))
        batch_op.drop_index(batch_op.f("ix_audit_event_at"))
        batch_op.drop_index(batch_op.f("ix_audit_event_action"))

    op.drop_table("audit_event")
