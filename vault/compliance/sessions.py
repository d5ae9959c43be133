"""Recording sessions (RC-2): the clips of one camera and officer, in corrected time, grouped
into continuous recordings, with every interruption inside them found (RC-3).

Cameras split a recording into files every 10-30 minutes: a clip that starts within
`continuity_tolerance_s` of the previous clip's end continues it. A longer pause, up to
`session_gap_s`, is an interruption inside the session, whose resume must be narrated or
explained; beyond that a new session starts (and must open with narration, RC-1).

Sessions and gaps are stored so that people can write about them. Recomputing keeps their
ids: a session keeps the id its clips already had, a gap is keyed by the pair of clips
around it, and a gap that is no longer there (a missing clip docked later filled it) keeps
its row and its reason, marked not current.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from vault.config import ComplianceSettings
from vault.db.models import (
    Derivative,
    Evidence,
    NarrationCheck,
    RecordingGap,
    RecordingSession,
    SessionClip,
)
from vault.timeutil import as_utc


@dataclass(frozen=True)
class Clip:
    evidence_id: int
    file_name: str
    start: datetime  # corrected (DV-2), UTC
    duration_s: float | None  # None: unknown (damaged and not salvaged)

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=self.duration_s or 0.0)


@dataclass(frozen=True)
class Gap:
    """An interruption: `after` ended, `before` resumed `seconds` later."""

    after: Clip
    before: Clip
    seconds: float


@dataclass
class Group:
    clips: list[Clip] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)

    @property
    def start(self) -> datetime:
        return self.clips[0].start

    @property
    def end(self) -> datetime:
        return max(c.end for c in self.clips)

    @property
    def recorded_s(self) -> float:
        return sum(c.duration_s or 0.0 for c in self.clips)


def group_clips(clips: list[Clip], continuity_s: float, session_gap_s: float) -> list[Group]:
    """RC-2: continuous within continuity_s, an interruption up to session_gap_s, else a new
    session. Overlapping clips (a clock step) count as continuous."""
    groups: list[Group] = []
    for clip in sorted(clips, key=lambda c: (c.start, c.evidence_id)):
        if not groups:
            groups.append(Group([clip]))
            continue
        current = groups[-1]
        pause = (clip.start - current.end).total_seconds()
        if pause > session_gap_s:
            groups.append(Group([clip]))
            continue
        if pause > continuity_s:
            previous = max(current.clips, key=lambda c: (c.end, c.evidence_id))
            current.gaps.append(Gap(previous, clip, round(pause, 3)))
        current.clips.append(clip)
    return groups


def duration_of(evidence: Evidence, salvaged_s: float | None) -> float | None:
    """From the probe (Evidence.media); a damaged clip counts what its salvage recovered."""
    media = evidence.media or {}
    duration = media.get("duration_s")
    if isinstance(duration, int | float) and duration > 0:
        return float(duration)
    return salvaged_s


Pair = tuple[int, int | None]  # (device pk, officer pk)


@dataclass
class Recomputed:
    sessions: int = 0
    new_sessions: int = 0
    merged: list[int] = field(default_factory=list)
    gaps: int = 0
    new_gaps: int = 0
    waiting: int = 0  # video clips whose media probe has not run yet


def _clips_of(session: Session, pair: Pair) -> tuple[list[Clip], int]:
    device_pk, officer_pk = pair
    query = select(Evidence).where(
        Evidence.kind == "video",
        Evidence.device_pk == device_pk,
        col(Evidence.recorded_at_corrected).is_not(None),
    )
    if officer_pk is None:
        query = query.where(col(Evidence.officer_pk).is_(None))
    else:
        query = query.where(Evidence.officer_pk == officer_pk)
    rows = list(session.exec(query))
    ids = [e.id for e in rows]
    salvaged = dict(
        session.exec(
            select(Derivative.evidence_id, Derivative.recovered_s).where(
                col(Derivative.evidence_id).in_(ids), Derivative.kind == "salvage"
            )
        ).all()
    )
    clips, waiting = [], 0
    for evidence in rows:
        assert evidence.id is not None and evidence.recorded_at_corrected is not None
        if evidence.media_state == "pending":
            waiting += 1  # its duration is not known yet: the next scan takes it
            continue
        clips.append(
            Clip(
                evidence.id,
                evidence.file_name,
                as_utc(evidence.recorded_at_corrected),
                duration_of(evidence, salvaged.get(evidence.id)),
            )
        )
    return clips, waiting


def pairs_to_scan(session: Session, since: datetime | None) -> list[Pair]:
    query = select(Evidence.device_pk, Evidence.officer_pk).where(
        Evidence.kind == "video", col(Evidence.device_pk).is_not(None)
    )
    if since is not None:
        query = query.where(col(Evidence.recorded_at_corrected) >= since)
    found = {(d, o) for d, o in session.exec(query.distinct()) if d is not None}
    return sorted(found, key=lambda p: (p[0], p[1] or 0))


def recompute(
    session: Session, settings: ComplianceSettings, now: datetime, since: datetime | None = None
) -> Recomputed:
    """Group every camera's clips into sessions and store them; the caller commits."""
    result = Recomputed()
    for pair in pairs_to_scan(session, since):
        clips, waiting = _clips_of(session, pair)
        result.waiting += waiting
        groups = group_clips(clips, settings.continuity_tolerance_s, settings.session_gap_s)
        _store_pair(session, pair, groups, now, result)
    return result


def _store_pair(
    session: Session, pair: Pair, groups: list[Group], now: datetime, result: Recomputed
) -> None:
    ids = [c.evidence_id for g in groups for c in g.clips]
    members = {
        m.evidence_id: m
        for m in session.exec(select(SessionClip).where(col(SessionClip.evidence_id).in_(ids)))
    }
    device_pk, officer_pk = pair
    query = select(RecordingSession).where(
        RecordingSession.device_pk == device_pk, RecordingSession.state == "current"
    )
    if officer_pk is None:
        query = query.where(col(RecordingSession.officer_pk).is_(None))
    else:
        query = query.where(RecordingSession.officer_pk == officer_pk)
    previous = {s.id: s for s in session.exec(query) if s.id is not None}
    owner: dict[int, int] = {}  # old session id -> new session id, for merges
    assigned: set[int] = set()
    for group in groups:
        old_ids = [
            members[c.evidence_id].session_id for c in group.clips if c.evidence_id in members
        ]
        reuse = next((sid for sid in old_ids if sid not in assigned), None)
        row = session.get(RecordingSession, reuse) if reuse is not None else None
        if row is None:
            row = RecordingSession(
                device_pk=device_pk,
                officer_pk=officer_pk,
                starts_at=group.start,
                ends_at=group.end,
                computed_at=now,
            )
            result.new_sessions += 1
        row.starts_at, row.ends_at = group.start, group.end
        row.clip_count, row.recorded_s = len(group.clips), round(group.recorded_s, 3)
        row.state, row.merged_into, row.computed_at = "current", None, now
        row.opening_unnarrated = heard_unnarrated(session, group.clips[0].evidence_id)
        session.add(row)
        session.flush()
        assert row.id is not None
        assigned.add(row.id)
        for old_id, _count in Counter(old_ids).most_common():
            owner.setdefault(old_id, row.id)
        for position, clip in enumerate(group.clips):
            member = members.get(clip.evidence_id) or SessionClip(
                session_id=row.id, evidence_id=clip.evidence_id, position=position
            )
            member.session_id, member.position = row.id, position
            member.duration_s = clip.duration_s
            session.add(member)
        _store_gaps(session, row.id, group, result)
        result.sessions += 1
    for previous_id, old in previous.items():
        if previous_id not in assigned:  # its clips now belong to another session
            old.state, old.merged_into, old.clip_count = "merged", owner.get(previous_id), 0
            old.computed_at = now
            session.add(old)
            result.merged.append(previous_id)
    _retire_gaps(session, ids, groups)


def _store_gaps(session: Session, session_id: int, group: Group, result: Recomputed) -> None:
    for gap in group.gaps:
        row = session.exec(
            select(RecordingGap).where(
                RecordingGap.after_evidence_id == gap.after.evidence_id,
                RecordingGap.before_evidence_id == gap.before.evidence_id,
            )
        ).first()
        if row is None:
            row = RecordingGap(
                session_id=session_id,
                after_evidence_id=gap.after.evidence_id,
                before_evidence_id=gap.before.evidence_id,
                gap_from=gap.after.end,
                gap_to=gap.before.start,
                seconds=gap.seconds,
            )
            result.new_gaps += 1
        row.session_id, row.gap_from, row.gap_to = session_id, gap.after.end, gap.before.start
        row.seconds, row.is_current = gap.seconds, True
        row.resume_unnarrated = heard_unnarrated(session, gap.before.evidence_id)
        session.add(row)
        result.gaps += 1


def heard_unnarrated(session: Session, evidence_id: int) -> bool:
    """RecordingGap.resume_unnarrated for a gap resumed by EVIDENCE_ID: its narration check
    is done and found no narration."""
    check = session.exec(
        select(NarrationCheck.state, NarrationCheck.narrated).where(
            NarrationCheck.evidence_id == evidence_id
        )
    ).first()
    return check is not None and check[0] == "done" and not check[1]


def _retire_gaps(session: Session, ids: list[int], groups: list[Group]) -> None:
    """Gaps between these clips that the new grouping no longer has: kept, not current."""
    wanted = {(g.after.evidence_id, g.before.evidence_id) for grp in groups for g in grp.gaps}
    stale = session.exec(
        select(RecordingGap).where(
            col(RecordingGap.before_evidence_id).in_(ids), col(RecordingGap.is_current)
        )
    )
    for row in stale:
        if (row.after_evidence_id, row.before_evidence_id) not in wanted:
            row.is_current = False
            session.add(row)
