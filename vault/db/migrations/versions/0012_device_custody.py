"""camera custody: checkout, return, the pre-use check, upkeep and loss (DV-3, DV-5, DV-6)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Issue 18 part 8: the usage 台账 (Pingdingshan 第4条) as events that are only added to.
    op.create_table(
        "device_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_pk", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("officer_pk", sa.Integer(), nullable=True),
        sa.Column("recorded_by", sa.String(length=128), nullable=False),
        sa.Column("note", sa.String(length=2000), nullable=True),
        sa.Column("battery_percent", sa.Integer(), nullable=True),
        sa.Column("free_bytes", sa.BigInteger(), nullable=True),
        sa.Column("clock_ok", sa.Boolean(), nullable=True),
        sa.Column("check_source", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["device_pk"], ["device.id"]),
        sa.ForeignKeyConstraint(["officer_pk"], ["officer.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("device_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_device_event_device_pk"), ["device_pk"], unique=False)
        batch_op.create_index(batch_op.f("ix_device_event_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_device_event_at"), ["at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_device_event_officer_pk"), ["officer_pk"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("device_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_event_officer_pk"))
        batch_op.drop_index(batch_op.f("ix_device_event_at"))
        batch_op.drop_index(batch_op.f("ix_device_event_kind"))
        batch_op.drop_index(batch_op.f("ix_device_event_device_pk"))
    op.drop_table("device_event")
