"""RC-2: grouping clips into recording sessions: split files continue, short pauses are
interruptions inside a session, long ones start a new session."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from vault.compliance.sessions import Clip, duration_of, group_clips
from vault.db.models import Evidence

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def clip(n: int, start_s: float, duration_s: float | None = 600.0) -> Clip:
    return Clip(n, f"clip{n}.MP4", T0 + timedelta(seconds=start_s), duration_s)


def test_files_split_by_the_camera_are_one_continuous_session() -> None:
    """Cameras split every 10 minutes; the next file starts within the tolerance."""
    clips = [clip(1, 0), clip(2, 601.5), clip(3, 1203)]
    (group,) = group_clips(clips, continuity_s=2, session_gap_s=1800)
    assert [c.evidence_id for c in group.clips] == [1, 2, 3]
    assert group.gaps == []
    assert group.recorded_s == 1800


def test_pause_beyond_tolerance_is_an_interruption_and_beyond_gap_a_new_session() -> None:
    clips = [clip(3, 1300), clip(1, 0), clip(2, 605), clip(4, 1900 + 1801)]  # any order in
    first, second = group_clips(clips, continuity_s=2, session_gap_s=1800)
    assert [c.evidence_id for c in first.clips] == [1, 2, 3]
    assert [(g.after.evidence_id, g.before.evidence_id, g.seconds) for g in first.gaps] == [
        (1, 2, 5.0),
        (2, 3, 95.0),
    ]
    assert [c.evidence_id for c in second.clips] == [4]


def test_exactly_at_the_limits() -> None:
    at_tolerance = group_clips([clip(1, 0), clip(2, 602)], continuity_s=2, session_gap_s=1800)
    assert at_tolerance[0].gaps == []
    at_gap = group_clips([clip(1, 0), clip(2, 2400)], continuity_s=2, session_gap_s=1800)
    assert len(at_gap) == 1 and at_gap[0].gaps[0].seconds == 1800


def test_overlapping_clips_are_continuous_and_the_gap_follows_the_latest_end() -> None:
    """A clock step can make clips overlap; the gap is measured from the latest end."""
    clips = [clip(1, 0, 600), clip(2, 10, 100), clip(3, 700, 60)]
    (group,) = group_clips(clips, continuity_s=2, session_gap_s=1800)
    assert [(g.after.evidence_id, g.seconds) for g in group.gaps] == [(1, 100.0)]


def test_unknown_duration_counts_from_the_start() -> None:
    (group,) = group_clips([clip(1, 0, None), clip(2, 30)], continuity_s=2, session_gap_s=1800)
    assert group.gaps[0].seconds == 30


def test_duration_comes_from_the_probe_else_the_salvage() -> None:
    probed = Evidence(media={"duration_s": 612.4})
    damaged = Evidence(media=None)
    assert duration_of(probed, None) == 612.4
    assert duration_of(damaged, 41.0) == 41.0
    assert duration_of(damaged, None) is None
