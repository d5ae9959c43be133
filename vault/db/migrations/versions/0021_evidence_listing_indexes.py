"""evidence listing indexes (issue 22): a camera's and an officer's clips by recording time

Revision ID: 0021
Revises: 0019
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # `evidence list --device/--officer --from --to`: one range of an index, where the
    # single-column indexes gave every clip of the camera or officer to test (the composite
    # ones serve a lookup by the camera or officer alone just as well). On a large vault this
    # builds two indexes over the evidence table: minutes at ten million rows.
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.create_index(
            "ix_evidence_device_pk_recorded", ["device_pk", "recorded_at_corrected"], unique=False
        )
        batch_op.create_index(
            "ix_evidence_officer_pk_recorded",
            ["officer_pk", "recorded_at_corrected"],
            unique=False,
        )
        batch_op.drop_index("ix_evidence_device_pk")
        batch_op.drop_index("ix_evidence_officer_pk")


def downgrade() -> None:
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.create_index("ix_evidence_officer_pk", ["officer_pk"], unique=False)
        batch_op.create_index("ix_evidence_device_pk", ["device_pk"], unique=False)
        batch_op.drop_index("ix_evidence_officer_pk_recorded")
        batch_op.drop_index("ix_evidence_device_pk_recorded")
