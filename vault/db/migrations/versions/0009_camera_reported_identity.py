"""what the camera says of itself (ZFY_INFO) beside the files; the keeper's badge carried

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # DV-1 (issue 21): the badge, name and unit a GA/T 947.4 camera reports at docking,
    # kept beside the officer its files name; and when it carried its keeper's badge.
    with op.batch_alter_table("dock_session", schema=None) as batch_op:
        batch_op.add_column(sa.Column("camera_officer_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("camera_officer_name", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("camera_unit_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("camera_unit_name", sa.String(length=64), nullable=True))
    with op.batch_alter_table("device_assignment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("carried_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("device_assignment", schema=None) as batch_op:
        batch_op.drop_column("carried_at")
    with op.batch_alter_table("dock_session", schema=None) as batch_op:
        batch_op.drop_column("camera_unit_name")
        batch_op.drop_column("camera_unit_id")
        batch_op.drop_column("camera_officer_name")
        batch_op.drop_column("camera_officer_id")
