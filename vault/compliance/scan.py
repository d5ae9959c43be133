"""`evault compliance scan`: bring sessions and gaps up to date, record each clip whose bytes
arrived from more than one camera (IN-6, vault.compliance.copies), then listen to the opening
of each session (RC-1) and of each clip that resumed after an interruption (RC-3).

Idempotent, so a timer may run it as often as it likes: a clip is analysed once per setting
of the window and the minimum speech, and again only when a better source appears (the audio
extract, a salvage copy). The bytes are read the way media work reads them (a private copy,
re-hashed on the way: vault.media.derivatives.fetch); no database transaction is held while
the model listens.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from vault.compliance import copies as camera_copies
from vault.compliance import sessions as grouping
from vault.compliance.narration import (
    NarrationError,
    NarrationResult,
    Transcriber,
    analyse_opening,
    load_transcriber,
)
from vault.compliance.openings import opening
from vault.config import ComplianceSettings
from vault.context import Vault
from vault.db import audit
from vault.db.models import (
    Evidence,
    NarrationCheck,
    RecordingGap,
    RecordingSession,
    SessionClip,
)
from vault.logs import kv
from vault.media import derivatives
from vault.media.runner import MediaError
from vault.media.tasks import suffix_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Target:
    """A clip whose opening must hold speech, and the bytes to listen to."""

    evidence_id: int
    file_name: str
    rule: str  # RC-1 (session opening) | RC-3 (resume after an interruption)
    source: str  # audio | salvage | original
    key: str
    sha256: str
    suffix: str


@dataclass
class ScanReport:
    sessions: int = 0
    new_sessions: int = 0
    merged_sessions: list[int] = field(default_factory=list)
    gaps: int = 0
    new_gaps: int = 0
    waiting_for_probe: int = 0
    checked: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    up_to_date: int = 0
    # IN-6: records whose bytes arrived from more than one camera; new: recorded this scan
    copies: list[dict[str, Any]] = field(default_factory=list)
    new_copies: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_json(self) -> dict[str, Any]:
        return {
            "sessions": self.sessions,
            "new_sessions": self.new_sessions,
            "merged_sessions": self.merged_sessions,
            "gaps": self.gaps,
            "new_gaps": self.new_gaps,
            "waiting_for_probe": self.waiting_for_probe,
            "checked": self.checked,
            "failed": self.failed,
            "up_to_date": self.up_to_date,
            "copied_between_cameras": self.copies,
            "new_copies": self.new_copies,
            "ok": self.ok,
        }


def scan(vault: Vault, since: datetime | None = None) -> ScanReport:
    settings = vault.settings.compliance
    opening(settings)  # a window too short for the preset's opening: a ConfigError, first
    report = ScanReport()
    with vault.session() as session:
        result = grouping.recompute(session, settings, vault.clock.now(), since)
        session.commit()
        report.sessions, report.new_sessions = result.sessions, result.new_sessions
        report.merged_sessions = result.merged
        report.gaps, report.new_gaps = result.gaps, result.new_gaps
        report.waiting_for_probe = result.waiting
        copies = camera_copies.find_copies(session)
        new = camera_copies.record_new(
            session, copies, vault.actor("compliance"), vault.clock.now()
        )
        session.commit()
        report.copies, report.new_copies = [c.to_json() for c in copies], len(new)
        targets, report.up_to_date = plan(session, settings, since)
        session.commit()  # read only: lets go of the database before the long part
    kv(
        log,
        logging.INFO,
        "compliance scan planned",
        since=since,
        sessions=report.sessions,
        new_sessions=report.new_sessions,
        merged_sessions=len(report.merged_sessions),
        gaps=report.gaps,
        new_gaps=report.new_gaps,
        waiting_for_probe=report.waiting_for_probe,
        to_check=len(targets),
        up_to_date=report.up_to_date,
        copied_between_cameras=len(report.copies),
        new_copies=report.new_copies,
    )
    transcriber = load_transcriber(settings.transcript_model_dir) if targets else None
    folder = derivatives.work_root(vault) / f"{os.getpid()}-compliance"
    try:
        for target in targets:
            _check_one(vault, target, folder, transcriber, report)
    finally:
        derivatives.clear_workdir(folder)
    with vault.session() as session:
        audit.append(
            session,
            vault.actor("compliance"),
            at=vault.clock.now(),
            action="compliance.scanned",
            detail={
                "since": since.isoformat() if since else None,
                "sessions": report.sessions,
                "gaps": report.gaps,
                "checked": len(report.checked),
                "failed": len(report.failed),
            },
        )
        session.commit()
    kv(
        log,
        logging.INFO,
        "compliance scan done",
        checked=len(report.checked),
        not_narrated=sum(1 for entry in report.checked if not entry["narrated"]),
        failed=len(report.failed),
    )
    return report


def targets_of(session: Session, since: datetime | None) -> list[tuple[Evidence, str]]:
    """Each current session's first clip (RC-1) and each current gap's resumed clip (RC-3)."""
    query = select(RecordingSession).where(RecordingSession.state == "current")
    if since is not None:
        query = query.where(col(RecordingSession.ends_at) >= since)
    found: list[tuple[Evidence, str]] = []
    for row in session.exec(query.order_by(col(RecordingSession.id))):
        first = session.exec(
            select(Evidence)
            .join(SessionClip, col(SessionClip.evidence_id) == Evidence.id)
            .where(SessionClip.session_id == row.id, SessionClip.position == 0)
        ).first()
        if first is not None:
            found.append((first, "RC-1"))
        resumed = session.exec(
            select(Evidence)
            .join(RecordingGap, col(RecordingGap.before_evidence_id) == Evidence.id)
            .where(RecordingGap.session_id == row.id, col(RecordingGap.is_current))
            .order_by(col(RecordingGap.gap_to))
        )
        found.extend((evidence, "RC-3") for evidence in resumed)
    return found


def source_of(session: Session, evidence: Evidence) -> tuple[str, str, str, str] | None:
    """(kind, key, sha256, suffix) of the best bytes to listen to: the 16 kHz audio extract
    the media worker made for speech analysis, else a damaged clip's salvage copy, else the
    original. None when the bytes are gone (purged)."""
    assert evidence.id is not None
    if evidence.purged_at is not None:
        return None
    audio = derivatives.find(session, evidence.id, "audio")
    if audio is not None:
        suffix = ".flac" if audio.media_type == "audio/flac" else ".wav"
        return "audio", audio.storage_key, audio.sha256, suffix
    if evidence.media_state == "damaged":
        salvage = derivatives.find(session, evidence.id, "salvage")
        if salvage is not None:
            return "salvage", salvage.storage_key, salvage.sha256, ".mp4"
    return "original", evidence.storage_key, evidence.sha256, suffix_of(evidence.file_name)


def min_speech_s(settings: ComplianceSettings, rule: str) -> float:
    """The speech an opening needs (RC-1: the preset's elements, vault.compliance.openings)
    or a resume (RC-3: its reason)."""
    if rule == "RC-1":
        return opening(settings).min_speech_s
    return settings.min_resume_speech_s


def _up_to_date(
    check: NarrationCheck | None, sha256: str, settings: ComplianceSettings, rule: str
) -> bool:
    if check is None or check.source_sha256 != sha256:
        return False
    if check.state == "failed":
        return True  # the same bytes would fail the same way: wait for a better source
    return (check.window_s, check.min_speech_s) == (
        settings.narration_window_s,
        min_speech_s(settings, rule),
    )


def plan(
    session: Session, settings: ComplianceSettings, since: datetime | None
) -> tuple[list[Target], int]:
    targets: list[Target] = []
    seen: set[int] = set()
    fresh = 0
    for evidence, rule in targets_of(session, since):
        assert evidence.id is not None
        if evidence.id in seen:
            continue
        seen.add(evidence.id)
        source = source_of(session, evidence)
        if source is None:
            continue
        kind, key, sha256, suffix = source
        check = session.exec(
            select(NarrationCheck).where(NarrationCheck.evidence_id == evidence.id)
        ).first()
        if _up_to_date(check, sha256, settings, rule):
            fresh += 1
            continue
        targets.append(Target(evidence.id, evidence.file_name, rule, kind, key, sha256, suffix))
    return targets, fresh


def _check_one(
    vault: Vault,
    target: Target,
    folder: Path,
    transcriber: Transcriber | None,
    report: ScanReport,
) -> None:
    settings = vault.settings.compliance
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    copy = folder / f"{target.sha256}{target.suffix}"
    result: NarrationResult | None = None
    error: str | None = None
    try:
        derivatives.fetch(vault, target.key, target.sha256, copy)
        result = analyse_opening(
            copy,
            settings.narration_window_s,
            min_speech_s=min_speech_s(settings, target.rule),
            transcriber=transcriber,
            timeout_s=vault.settings.media.timeout_s,
        )
    except (NarrationError, MediaError) as exc:
        error = str(exc)
    finally:
        copy.unlink(missing_ok=True)
    entry: dict[str, Any] = {
        "evidence_id": target.evidence_id,
        "file_name": target.file_name,
        "rule": target.rule,
        "source": target.source,
    }
    record(vault, target, result, error)
    facts = {"evidence": target.evidence_id, "rule": target.rule, "source": target.source}
    if result is None:
        kv(log, logging.WARNING, "narration check failed", **facts, error=error)
        report.failed.append(entry | {"error": error})
        return
    # Never the transcript: it is what was said on the recording.
    kv(
        log,
        logging.INFO,
        "narration checked",
        **facts,
        narrated=result.narrated,
        has_audio=result.has_audio,
        speech_s=result.speech_s,
    )
    report.checked.append(
        entry
        | {
            "narrated": result.narrated,
            "has_audio": result.has_audio,
            "speech_s": result.speech_s,
            "transcript": result.transcript,
        }
    )


def record(vault: Vault, target: Target, result: NarrationResult | None, error: str | None) -> None:
    """Store the finding (one row per clip, replaced when re-analysed) and audit it."""
    for attempt in (1, 2):
        with vault.session() as session:
            try:
                _write(vault, session, target, result, error)
                session.commit()
                return
            except IntegrityError:  # another scan stored it meanwhile: replace theirs
                session.rollback()
                if attempt == 2:
                    raise


def _write(
    vault: Vault,
    session: Session,
    target: Target,
    result: NarrationResult | None,
    error: str | None,
) -> None:
    settings = vault.settings.compliance
    least = min_speech_s(settings, target.rule)
    now = vault.clock.now()
    row = session.exec(
        select(NarrationCheck).where(NarrationCheck.evidence_id == target.evidence_id)
    ).first() or NarrationCheck(
        evidence_id=target.evidence_id,
        state="done",
        window_s=settings.narration_window_s,
        min_speech_s=least,
        checked_at=now,
    )
    row.state, row.error = ("done", None) if result else ("failed", error)
    row.source, row.source_sha256 = target.source, target.sha256
    row.window_s, row.min_speech_s = settings.narration_window_s, least
    row.speech = [[s.start_s, s.end_s] for s in result.speech] if result else []
    row.speech_s = result.speech_s if result else 0.0
    row.narrated = result.narrated if result else False
    row.has_audio = result.has_audio if result else False
    row.transcript = result.transcript if result else None
    row.engine = result.engine if result else None
    row.checked_at = now
    session.add(row)
    # The interruptions this clip resumes, and the session it opens, follow what was heard
    # (RecordingGap.resume_unnarrated, RecordingSession.opening_unnarrated).
    unnarrated = row.state == "done" and not row.narrated
    session.execute(
        update(RecordingGap)
        .where(col(RecordingGap.before_evidence_id) == target.evidence_id)
        .values(resume_unnarrated=unnarrated)
    )
    opened = select(SessionClip.session_id).where(
        SessionClip.evidence_id == target.evidence_id, SessionClip.position == 0
    )
    session.execute(
        update(RecordingSession)
        .where(col(RecordingSession.id).in_(opened))
        .values(opening_unnarrated=unnarrated)
    )
    detail: dict[str, object] = {"rule": target.rule, "source": target.source}
    if result:
        detail |= {"narrated": result.narrated, "speech_s": result.speech_s}
        detail |= {"engine": result.engine}
    else:
        detail |= {"error": error}
    audit.append(
        session,
        vault.actor("compliance"),
        at=now,
        action="compliance.narration_checked" if result else "compliance.narration_failed",
        subject=f"evidence:{target.evidence_id}",
        detail=detail,
    )
