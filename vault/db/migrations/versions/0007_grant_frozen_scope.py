"""a grant's scope frozen at approval

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A case-wide grant covers the evidence linked when it was approved, not what is linked
    # later (issue 13). Grants approved before this column existed keep NULL: covered as the
    # case is now, as they were when approved.
    with op.batch_alter_table("access_grant") as batch:
        batch.add_column(sa.Column("evidence_ids", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("access_grant") as batch:
        batch.drop_column("evidence_ids")
