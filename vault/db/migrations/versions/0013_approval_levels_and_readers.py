"""approval levels, a party's own case, and the natural person who looks (AC-0, AC-4, AC-5)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Issue 18 parts 1 and 2. Approvers of an older vault keep NULL: no level, so they
    # decide nothing until a records keeper sets it (`evault principal level`).
    with op.batch_alter_table("principal") as batch:
        batch.add_column(sa.Column("approver_level", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("case_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_principal_case_id", "case_file", ["case_id"], ["id"])
    with op.batch_alter_table("access_request") as batch:
        batch.add_column(sa.Column("reader", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("reader_id_number", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("access_request") as batch:
        batch.drop_column("reader_id_number")
        batch.drop_column("reader")
    with op.batch_alter_table("principal") as batch:
        batch.drop_constraint("fk_principal_case_id", type_="foreignkey")
        batch.drop_column("case_id")
        batch.drop_column("approver_level")
