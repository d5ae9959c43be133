"""worklist columns (issue 19): the clips that may be late and the interruptions that may need
a reason are each one range of an index

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Whole seconds from the corrected recording time to sealing: the to-do list's late clips
    # (IN-1) are those with at least 24 h, found by the index instead of judging every clip.
    # Plain ALTER TABLE on both databases (SQLite 3.35 drops a column in place): a batch copy
    # of the evidence table would trip the foreign keys that point at it.
    op.add_column("evidence", sa.Column("upload_delay_s", sa.BigInteger(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "UPDATE evidence SET upload_delay_s = "
            "floor(extract(epoch FROM sealed_at - recorded_at_corrected))::bigint "
            "WHERE recorded_at_corrected IS NOT NULL"
        )
    else:
        # SQLite keeps the times as text, which julianday() reads (to a few microseconds: the
        # half millisecond added keeps a delay of exactly 24 h from reading as 86,399 s; a
        # delay is only a bound there, each clip is still judged by its times). CAST rounds
        # toward zero, which differs from floor only for a clip sealed before it was recorded.
        op.execute(
            "UPDATE evidence SET upload_delay_s = CAST("
            "(julianday(sealed_at) - julianday(recorded_at_corrected)) * 86400 + 0.0005"
            " AS INTEGER) WHERE recorded_at_corrected IS NOT NULL"
        )
    op.create_index("ix_evidence_upload_delay_s", "evidence", ["upload_delay_s"], unique=False)

    # An interruption whose resume was heard without narration (the narration check done,
    # nothing narrated): with no reason written, it may need one (RC-3).
    op.add_column(
        "recording_gap",
        sa.Column("resume_unnarrated", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    gap = sa.table(
        "recording_gap",
        sa.column("before_evidence_id", sa.Integer()),
        sa.column("resume_unnarrated", sa.Boolean()),
    )
    check = sa.table(
        "narration_check",
        sa.column("evidence_id", sa.Integer()),
        sa.column("state", sa.String()),
        sa.column("narrated", sa.Boolean()),
    )
    heard = (
        sa.select(check.c.evidence_id)
        .where(check.c.state == "done", check.c.narrated == sa.false())
        .scalar_subquery()
    )
    op.execute(
        gap.update().where(gap.c.before_evidence_id.in_(heard)).values(resume_unnarrated=True)
    )
    # The server default stays: dropping it is a table copy on SQLite, which the foreign keys
    # pointing at recording_gap refuse; the vault always writes the column itself.
    op.create_index(
        "ix_recording_gap_open", "recording_gap", ["resume_unnarrated", "reason"], unique=False
    )
    # A session whose opening clip was heard without narration (RC-1).
    op.add_column(
        "recording_session",
        sa.Column("opening_unnarrated", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    recording = sa.table(
        "recording_session",
        sa.column("id", sa.Integer()),
        sa.column("opening_unnarrated", sa.Boolean()),
    )
    member = sa.table(
        "session_clip",
        sa.column("session_id", sa.Integer()),
        sa.column("evidence_id", sa.Integer()),
        sa.column("position", sa.Integer()),
    )
    opened = (
        sa.select(member.c.session_id)
        .where(member.c.position == 0, member.c.evidence_id.in_(heard))
        .scalar_subquery()
    )
    op.execute(recording.update().where(recording.c.id.in_(opened)).values(opening_unnarrated=True))
    op.create_index(
        "ix_recording_session_opening_unnarrated",
        "recording_session",
        ["opening_unnarrated"],
        unique=False,
    )
    # The reasons once rejected (RC-6), which bring an interruption back to the to-do.
    op.create_index("ix_annotation_version_review", "annotation_version", ["review"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_recording_session_opening_unnarrated", table_name="recording_session")
    op.drop_column("recording_session", "opening_unnarrated")
    op.drop_index("ix_annotation_version_review", table_name="annotation_version")
    op.drop_index("ix_recording_gap_open", table_name="recording_gap")
    op.drop_column("recording_gap", "resume_unnarrated")
    op.drop_index("ix_evidence_upload_delay_s", table_name="evidence")
    op.drop_column("evidence", "upload_delay_s")
