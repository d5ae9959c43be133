"""the 事项 and 环节 of the bureau's must-record list a case states; the 环节 a link records

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # RC-5 (issue 18 part 4): a case states which 事项 and 环节 of the 音像记录事项清单 it
    # involves (Pingdingshan 附件1, Gansu-Eco 第9、13条); each link says which 环节 it records.
    with op.batch_alter_table("case_file", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stages", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("record_list", sa.String(length=256), nullable=True))
    with op.batch_alter_table("case_link", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stage", sa.String(length=128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("case_link", schema=None) as batch_op:
        batch_op.drop_column("stage")
    with op.batch_alter_table("case_file", schema=None) as batch_op:
        batch_op.drop_column("record_list")
        batch_op.drop_column("stages")
