"""evidence use (EV-1): the place and the object of proof of a case, and of a request

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Issue 18 part 7: the written statement names the place (Gansu-Eco 第44条, Xiangxi 第16条)
    # and what the footage is to prove (证明对象), from the case or the request.
    with op.batch_alter_table("case_file", schema=None) as batch_op:
        batch_op.add_column(sa.Column("place", sa.String(length=256), nullable=True))
        batch_op.add_column(sa.Column("to_prove", sa.String(), nullable=True))
    with op.batch_alter_table("access_request", schema=None) as batch_op:
        batch_op.add_column(sa.Column("to_prove", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("access_request", schema=None) as batch_op:
        batch_op.drop_column("to_prove")
    with op.batch_alter_table("case_file", schema=None) as batch_op:
        batch_op.drop_column("to_prove")
        batch_op.drop_column("place")
