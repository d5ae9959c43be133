"""units: one registered unit and the other names it goes by (the camera's, the cases')

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Issue 16: a filter by unit finds every record of that unit, however the camera, the
    # case or the principal spelled it; the records keep their strings as written.
    op.create_table(
        "org_unit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("org_unit", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_org_unit_name"), ["name"], unique=True)
    op.create_table(
        "org_unit_alias",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alias", sa.String(length=128), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(["unit_id"], ["org_unit.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("org_unit_alias", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_org_unit_alias_alias"), ["alias"], unique=True)
        batch_op.create_index(batch_op.f("ix_org_unit_alias_unit_id"), ["unit_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("org_unit_alias", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_org_unit_alias_unit_id"))
        batch_op.drop_index(batch_op.f("ix_org_unit_alias_alias"))
    op.drop_table("org_unit_alias")
    with op.batch_alter_table("org_unit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_org_unit_name"))
    op.drop_table("org_unit")
