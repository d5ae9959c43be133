"""Recording compliance: sessions, gaps, narration checks, stop records, late reasons and
spot checks (DV-2, RC-1..RC-4, IN-1, OV-2, OV-3).

Sessions and gaps are recomputed from the clips; their ids stay stable so that what people
wrote about them (a gap's reason, a reviewer's finding) survives every recomputation.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from vault.db.models.types import utc_column


class RecordingSession(SQLModel, table=True):
    """Clips of one camera and officer recorded as one continuous activity (RC-2)."""

    __tablename__ = "recording_session"

    id: int | None = Field(default=None, primary_key=True)
    device_pk: int = Field(foreign_key="device.id", index=True)
    officer_pk: int | None = Field(default=None, foreign_key="officer.id", index=True)
    starts_at: datetime = Field(sa_column=utc_column(nullable=False, index=True))  # corrected
    ends_at: datetime = Field(sa_column=utc_column(nullable=False, index=True))
    clip_count: int = 0
    recorded_s: float = 0.0  # sum of the clips' durations
    # current | merged (a clip docked later joined it to another session: merged_into)
    state: str = Field(default="current", max_length=16, index=True)
    merged_into: int | None = Field(default=None, foreign_key="recording_session.id")
    computed_at: datetime = Field(sa_column=utc_column(nullable=False))
    # The opening clip's narration check is done and heard no narration (RC-1): kept by the
    # scan and by each narration check, as RecordingGap.resume_unnarrated is.
    opening_unnarrated: bool = Field(default=False, index=True)


class SessionClip(SQLModel, table=True):
    """Which session a clip belongs to, and where in it."""

    __tablename__ = "session_clip"

    id: int | None = Field(default=None, primary_key=True)
    session_id: int = Field(foreign_key="recording_session.id", index=True)
    evidence_id: int = Field(foreign_key="evidence.id", unique=True, index=True)
    position: int
    duration_s: float | None = None  # None: unknown (no probe, damaged and not salvaged)


class RecordingGap(SQLModel, table=True):
    """An interruption inside a session, keyed by the clips on either side (RC-3); a gap that
    a later recomputation no longer finds keeps its row (is_current = False) and its reason."""

    __tablename__ = "recording_gap"
    __table_args__ = (
        UniqueConstraint("after_evidence_id", "before_evidence_id"),
        # The interruptions that may wait for a reason (RC-3) are one range of an index.
        Index("ix_recording_gap_open", "resume_unnarrated", "reason"),
    )

    id: int | None = Field(default=None, primary_key=True)
    session_id: int = Field(foreign_key="recording_session.id", index=True)
    after_evidence_id: int = Field(foreign_key="evidence.id", index=True)  # ends before the gap
    before_evidence_id: int = Field(foreign_key="evidence.id", index=True)  # resumes after it
    gap_from: datetime = Field(sa_column=utc_column(nullable=False))  # corrected times
    gap_to: datetime = Field(sa_column=utc_column(nullable=False))
    seconds: float
    is_current: bool = Field(default=True, index=True)
    # The resume's narration check is done and heard no narration: kept by the scan and by
    # each narration check (vault.compliance.scan), so the to-do finds the interruptions
    # that may need a reason without reading every session; the report judges each itself.
    resume_unnarrated: bool = False
    # The written reason (RC-3): device_fault | battery | storage_full | weather | ...
    reason: str | None = Field(default=None, max_length=32)
    note: str | None = None
    annotated_by: str | None = Field(default=None, max_length=128)
    annotated_at: datetime | None = Field(default=None, sa_column=utc_column())


class AnnotationVersion(SQLModel, table=True):
    """Every written reason ever given, one attributed version each (RC-3, RC-6, IN-1): an
    interruption's reason (gap_id) or a late clip's (evidence_id). A changed reason is a new
    version, never a replacement; the gap's or late reason's own columns hold the newest."""

    __tablename__ = "annotation_version"

    id: int | None = Field(default=None, primary_key=True)
    gap_id: int | None = Field(default=None, foreign_key="recording_gap.id", index=True)
    evidence_id: int | None = Field(default=None, foreign_key="evidence.id", index=True)
    # A session that ended without resuming (UnresumedStop, RC-3): its explanation's versions.
    session_id: int | None = Field(default=None, foreign_key="recording_session.id", index=True)
    version: int  # 1, 2, ... per gap, late clip or unresumed session
    reason: str | None = Field(default=None, max_length=32)  # a gap's reason code
    note: str
    given_by: str = Field(max_length=128)
    given_at: datetime = Field(sa_column=utc_column(nullable=False))
    # RC-3: the immediate report (立即报告) an unresumed session's version states.
    reported_to: str | None = Field(default=None, max_length=128)
    reported_at: datetime | None = Field(default=None, sa_column=utc_column())
    # RC-6: the review of this version: accepted | rejected (None: not reviewed yet).
    review: str | None = Field(default=None, max_length=16, index=True)  # the rejected: few
    review_note: str | None = None
    reviewed_by: str | None = Field(default=None, max_length=128)
    reviewed_at: datetime | None = Field(default=None, sa_column=utc_column())


class NarrationCheck(SQLModel, table=True):
    """Speech found at the start of a clip (RC-1 for an opening, RC-3 for a resume)."""

    __tablename__ = "narration_check"

    id: int | None = Field(default=None, primary_key=True)
    evidence_id: int = Field(foreign_key="evidence.id", unique=True, index=True)
    state: str = Field(max_length=16)  # done | failed
    error: str | None = None
    source: str | None = Field(default=None, max_length=16)  # audio derivative | original
    source_sha256: str | None = Field(default=None, max_length=64)
    window_s: float
    min_speech_s: float
    speech: list[list[float]] = Field(default_factory=list, sa_column=Column(JSON))
    speech_s: float = 0.0
    narrated: bool = False
    has_audio: bool = False
    transcript: str | None = None
    engine: str | None = Field(default=None, max_length=64)
    checked_at: datetime = Field(sa_column=utc_column(nullable=False))


class StopRecord(SQLModel, table=True):
    """A permitted stop's work record, reviewed by a supervisor (RC-4)."""

    __tablename__ = "stop_record"

    id: int | None = Field(default=None, primary_key=True)
    device_pk: int = Field(foreign_key="device.id", index=True)
    officer_pk: int = Field(foreign_key="officer.id", index=True)
    stop_from: datetime = Field(sa_column=utc_column(nullable=False))
    stop_to: datetime = Field(sa_column=utc_column(nullable=False))
    reason: str = Field(max_length=32)
    basis: str
    # The requester's signed statement, sealed in the WORM store (witness request, secrets).
    statement_name: str | None = Field(default=None, max_length=255)
    statement_sha256: str | None = Field(default=None, max_length=64)
    statement_size: int | None = Field(default=None, sa_type=BigInteger)
    statement_key: str | None = Field(default=None, max_length=512)
    statement_version: str | None = Field(default=None, max_length=1024)
    filed_by: str = Field(max_length=128)
    filed_at: datetime = Field(sa_column=utc_column(nullable=False))
    status: str = Field(default="pending", max_length=16, index=True)  # pending | approved
    approved_by: str | None = Field(default=None, max_length=128)
    approved_at: datetime | None = Field(default=None, sa_column=utc_column())


class UnresumedStop(SQLModel, table=True):
    """A recording that stopped and could not be resumed (RC-3: Gansu-Eco 第42条, Gansu-Radio
    第19条, Shanxi 第17条): the reason, the immediate report (to whom, when) and the written
    explanation given afterwards; the newest version (AnnotationVersion.session_id keeps
    every one)."""

    __tablename__ = "unresumed_stop"

    id: int | None = Field(default=None, primary_key=True)
    session_id: int = Field(foreign_key="recording_session.id", unique=True, index=True)
    reason: str = Field(max_length=32)  # a gap reason code (vault.compliance.reasons)
    reported_to: str | None = Field(default=None, max_length=128)
    reported_at: datetime | None = Field(default=None, sa_column=utc_column())
    note: str | None = None  # the written explanation (事后书面说明); None: not yet given
    given_by: str = Field(max_length=128)
    given_at: datetime = Field(sa_column=utc_column(nullable=False))


class LateReason(SQLModel, table=True):
    """The officer's reason for a clip sealed after the upload deadline (IN-1)."""

    __tablename__ = "late_reason"

    id: int | None = Field(default=None, primary_key=True)
    evidence_id: int = Field(foreign_key="evidence.id", unique=True, index=True)
    note: str
    given_by: str = Field(max_length=128)
    given_at: datetime = Field(sa_column=utc_column(nullable=False))


class ReviewDraw(SQLModel, table=True):
    """A random sample of sessions drawn for playback review (OV-2): the seed and the
    population make it reproducible."""

    __tablename__ = "review_draw"

    id: int | None = Field(default=None, primary_key=True)
    seed: str = Field(max_length=64)
    count: int
    range_from: datetime | None = Field(default=None, sa_column=utc_column())
    range_to: datetime | None = Field(default=None, sa_column=utc_column())
    population: int
    session_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON))
    drawn_by: str = Field(max_length=128)
    drawn_at: datetime = Field(sa_column=utc_column(nullable=False))


class SessionReview(SQLModel, table=True):
    """A reviewer's result for one session (OV-2); a finding is reported under OV-3."""

    __tablename__ = "session_review"

    id: int | None = Field(default=None, primary_key=True)
    session_id: int = Field(foreign_key="recording_session.id", index=True)
    draw_id: int | None = Field(default=None, foreign_key="review_draw.id", index=True)
    result: str = Field(max_length=16)  # ok | finding
    note: str
    reviewer: str = Field(max_length=128)
    reviewed_at: datetime = Field(sa_column=utc_column(nullable=False))
