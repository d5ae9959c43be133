"""The life of a clip as a state machine (issue 16, part 2): Hypothesis drives one real vault
(the local WORM store, SQLite or, on the PostgreSQL pass, a database of its own) through
random sequences of what a bureau does: cameras record, dock and re-dock (with and without
erasing), mark clips important (the IMP copy), hand the same bytes to another camera; the
media worker and the compliance scan run; cases are created, linked, unlinked, closed and
put under litigation; clips are classified and held; the purge runs; the clock moves by
minutes to years. A model of the rules (RT-1..RT-5, written here from
../shared/REQUIREMENTS.md, not taken from vault/retention_rules.py) predicts each clip's
retention, what each change may do (RetentionRefused, Conflict and NotFound are expected
outcomes) and what each purge deletes. After every step the invariants are checked against
the database and the store themselves.

`scripts/soak --steps N` runs the same machine at length (`soak_main` below); the budget of
a run here comes from EVAULT_LIFE_PROFILE ("ci", the default, or "soak").
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, Phase, event, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from hypothesis.reporting import with_reporter
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlmodel import col, select

import tests.conftest as shared
from tests.conftest import make_settings
from tests.purge_lists import purge_approved
from vault.cases import cases
from vault.cases.purge import purge
from vault.cases.retention import classify, place_hold, release_hold
from vault.compliance.scan import scan
from vault.context import Vault
from vault.db.models import AuditEvent, Derivative, Evidence, PurgeRecord, Sighting
from vault.errors import Conflict, NotFound, RetentionRefused
from vault.ingest.pipeline import ingest_volume
from vault.media.worker import run_worker
from vault.recovery.chains import check_audit
from vault.recovery.verify import verify
from vault.retrieval import Filters, find_orphans, list_evidence
from vault.timeutil import FixedClock, add_months, as_utc, local_to_utc

# A clip delivered by several cameras or officers is found under each (issue 16, part 3).
# False only while vault/retrieval.py filters by the first camera alone: then the invariant
# checks the first delivery only.
SIGHTINGS_FINDABLE = True
# Bytes docked again after their evidence was purged leave no orphan object in the store,
# keep their record purged, and are not erased from the camera on the strength of a copy
# no record holds; the ingest may list them as sealed-before or skip them with a reason
# (tests/integration/test_life_regressions.py). False only while that is open: then the
# model tolerates what the ingest does with them.
PURGED_BYTES_REDOCKED_SAFELY = True

START = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
TZ = "Asia/Shanghai"
CAMERAS = (("3100001", "010203"), ("3100002", "020304"), ("3100003", "030405"))
CASE_NUMBERS = tuple(f"环罚〔2026〕{n}号" for n in range(1, 5))
# The rules as REQUIREMENTS.md states them, with the embedded defaults' figures.
ROUTINE_MONTHS = 12  # RT-1
LONG_TERM_YEARS = 30  # RT-2
CASE_YEARS = {"行政处罚": 30, "行政检查": 10, "other": 10}  # RT-3: as long as the case file
CLASSES = ("routine", "long_term", "case")
CATEGORIES = ("mass_incident", "personal_safety", "obstruction", "dispute", "major_case")
REAL_CLIPS = 3  # tiny real MP4s (ffmpeg), made once per process

PROFILES = {
    # About 20 s on SQLite, 30 s on PostgreSQL, on the 2-core VM. A failure is reported as
    # found (30 steps at most): shrinking it can take minutes; scripts/soak shrinks.
    "ci": settings(
        max_examples=20,
        stateful_step_count=30,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.reuse, Phase.generate],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    ),
    "soak": settings(
        max_examples=10,
        stateful_step_count=60,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    ),
}
STEPS_RUN = [0]  # steps executed, shrinking included (scripts/soak reports it)
SEEN: Counter[str] = Counter()  # outcomes worth knowing were reached (scripts/soak prints them)


def note(outcome: str) -> None:
    SEEN[outcome] += 1
    if currently_in_test_context():  # a replayed example runs outside Hypothesis
        event(outcome)


@cache
def real_clips() -> tuple[bytes, ...]:
    """A few distinct one-second 64x48 MP4s with sound, so that the media worker and the
    compliance scan have real work; none where ffmpeg is missing (fails under CI=true)."""
    if shutil.which("ffmpeg") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("ffmpeg is not installed")
        return ()
    folder = Path(tempfile.mkdtemp(prefix="life-clips-"))
    made = []
    for n, source in enumerate(("testsrc", "testsrc2", "smptebars")[:REAL_CLIPS]):
        out = folder / f"{n}.mp4"
        video = f"{source}=size=64x48:rate=5:duration=1"
        sound = f"sine=frequency={300 + 200 * n}:duration=1"
        subprocess.run(
            [
                *("ffmpeg", "-nostdin", "-loglevel", "error", "-y"),
                *("-f", "lavfi", "-i", video, "-f", "lavfi", "-i", sound),
                *("-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest", str(out)),
            ],
            check=True,
            capture_output=True,
        )
        made.append(out.read_bytes())
    shutil.rmtree(folder, ignore_errors=True)
    return tuple(made)


def sha_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class CameraFile:
    sha: str
    recorded: datetime  # what the file name says, in UTC


@dataclass
class Camera:
    """A directory standing in for a camera volume (zfy-ref layout)."""

    device_id: str
    officer_id: str
    root: Path
    files: dict[str, CameraFile] = field(default_factory=dict)  # path on the volume
    seq: int = 0
    offset_s: int = 0  # the camera's clock minus the true time (DV-2)

    def __post_init__(self) -> None:
        (self.root / "DCIM" / "100ANDRO").mkdir(parents=True)
        (self.root / "DCIM" / "101ANDRO").mkdir(parents=True)

    def docked_at(self, now: datetime) -> None:
        """What the camera says of itself at a docking, its clock included."""
        clock = (now + timedelta(seconds=self.offset_s)).astimezone(ZoneInfo(TZ))
        (self.root / "DEVICE.TXT").write_text(
            f"device_id={self.device_id}\nofficer_id={self.officer_id}\nunit=一大队\n"
            f"device_time={clock:%Y-%m-%d %H:%M:%S}\n"
        )

    def write(self, data: bytes, recorded: datetime) -> str:
        """A new clip recorded at RECORDED (true time), named by the camera's clock."""
        self.seq += 1
        recorded += timedelta(seconds=self.offset_s)
        local = recorded.astimezone(ZoneInfo(TZ))
        name = f"{self.device_id}_{self.officer_id}_{local:%Y%m%d%H%M%S}_{self.seq:04d}.MP4"
        return self._put(f"DCIM/100ANDRO/{name}", data, recorded)

    def important_copy(self, rel: str) -> str | None:
        """The camera's copy of a clip marked important (same bytes, 101ANDRO, ...IMP)."""
        copy = "DCIM/101ANDRO/" + rel.rpartition("/")[2].replace(".MP4", "IMP.MP4")
        if copy in self.files:
            return None
        return self._put(copy, (self.root / rel).read_bytes(), self.files[rel].recorded)

    def _put(self, rel: str, data: bytes, recorded: datetime) -> str:
        (self.root / rel).write_bytes(data)
        stated = recorded.astimezone(ZoneInfo(TZ)).replace(tzinfo=None, microsecond=0)
        self.files[rel] = CameraFile(sha_of(data), local_to_utc(stated, TZ))
        return rel


@dataclass
class CaseModel:
    case_type: str
    closed_at: datetime | None = None
    litigation: bool = False


@dataclass
class ClipModel:
    """One distinct content, as the rules say it must be kept."""

    sha: str
    size: int
    evidence_id: int
    recorded: datetime
    docked: datetime  # the first docking (RT-1: re-docking moves nothing)
    until: datetime  # what store and records must both hold
    retention_class: str = "routine"
    category: str | None = None
    cases: set[str] = field(default_factory=set)
    holds: set[int] = field(default_factory=set)
    deliverers: list[tuple[str, str]] = field(default_factory=list)  # (device, officer)
    purged_at: datetime | None = None


CAMERA = st.integers(0, len(CAMERAS) - 1)
# Random bytes (a clip only to the vault), or one of the real clips.
CONTENT = st.one_of(st.binary(min_size=1, max_size=48), st.integers(0, REAL_CLIPS - 1))
DELTA = st.one_of(
    st.integers(1, 600).map(lambda n: ("minutes", n)),
    st.integers(1, 90).map(lambda n: ("days", n)),
    st.integers(1, 18).map(lambda n: ("months", n)),
    st.integers(1, 31).map(lambda n: ("years", n)),
)


def years_after(start: datetime, years: int) -> datetime:
    return add_months(start, 12 * years)


class VaultLife(RuleBasedStateMachine):
    """One real vault per run, with its cameras; the model beside it."""

    def __init__(self) -> None:
        super().__init__()
        self.base = Path(tempfile.mkdtemp(prefix="vault-life-"))
        home = self.base / "home"
        home.mkdir()
        self.clock = FixedClock(START)
        self.vault = Vault(make_settings(home), clock=self.clock, user="tester")
        self.cameras = [
            Camera(device, officer, self.base / f"cam-{device}") for device, officer in CAMERAS
        ]
        self.contents: list[bytes] = []  # every content a camera ever recorded
        self.clips: dict[str, ClipModel] = {}
        self.case_models: dict[str, CaseModel] = {}
        self.hold_ids: list[int] = []
        self.docks: list[tuple[int, set[str]]] = []  # each docking's id, and what it saw
        self.released: set[int] = set()
        self.checks = 0

    def teardown(self) -> None:
        STEPS_RUN[0] += max(self.checks - 1, 0)
        self.vault.engine.dispose()
        server = shared._postgres
        if shared.TEST_DATABASE == "postgresql" and isinstance(server, shared.PostgresServer):
            server.drop_under(self.base.resolve())
        shutil.rmtree(self.base, ignore_errors=True)

    # The model of the rules (RT-1..RT-4)

    def blockers(self, clip: ClipModel) -> list[str]:
        found = [f"legal hold ({len(clip.holds)})"] if clip.holds else []
        for number in sorted(clip.cases):
            case = self.case_models[number]
            if case.litigation:
                found.append(f"litigation hold on case {number}")
            if case.closed_at is None:
                found.append(f"open case {number}")
        return found

    def due(self, clip: ClipModel, cases_: set[str], retention_class: str) -> datetime:
        """RT-1 from the later of recording and first docking; RT-2 long-term; RT-3 a closed
        case's file retention from its closing. The latest of them counts."""
        base = max(clip.recorded, clip.docked)
        until = add_months(base, ROUTINE_MONTHS)
        if retention_class == "long_term":
            until = max(until, years_after(base, LONG_TERM_YEARS))
        for number in cases_:
            case = self.case_models[number]
            if case.closed_at is not None:
                until = max(until, years_after(case.closed_at, CASE_YEARS[case.case_type]))
        return until

    def live(self) -> list[ClipModel]:
        return [c for c in self.clips.values() if c.purged_at is None]

    def deletable(self, at: datetime) -> set[int]:
        return {c.evidence_id for c in self.live() if not self.blockers(c) and c.until <= at}

    def pick(self, index: int) -> ClipModel:
        clips = list(self.clips.values())
        return clips[index % len(clips)]

    def regrow(self, clip: ClipModel) -> None:
        """After a change that may only lengthen retention."""
        until = self.due(clip, clip.cases, clip.retention_class)
        assert until >= clip.until, f"the model shortened {clip.sha[:12]}"
        clip.until = until

    # Cameras

    @initialize(contents=st.lists(CONTENT, min_size=1, max_size=3))
    def first_docking(self, contents: list[bytes | int]) -> None:
        """Every run begins with a camera that recorded something and was docked."""
        for content in contents:
            self.record(0, content, 30)
        self.dock(0, False)

    @rule(camera=CAMERA, content=CONTENT, minutes_ago=st.integers(0, 24 * 60))
    def record(self, camera: int, content: bytes | int, minutes_ago: int) -> None:
        real = real_clips()
        if isinstance(content, int):
            if not real:
                return
            content = real[content % len(real)]
        self.contents.append(content)
        self.cameras[camera].write(content, self.clock.now() - timedelta(minutes=minutes_ago))

    @precondition(lambda self: any(c.files for c in self.cameras))
    @rule(camera=CAMERA, index=st.integers(0, 1000))
    def mark_important(self, camera: int, index: int) -> None:
        cam = self.cameras[camera]
        ordinary = sorted(p for p in cam.files if p.startswith("DCIM/100ANDRO/"))
        if ordinary:
            cam.important_copy(ordinary[index % len(ordinary)])

    @precondition(lambda self: self.contents)
    @rule(
        camera=CAMERA,
        index=st.integers(0, 1000),
        minutes_ago=st.integers(0, 600),
    )
    def same_bytes_on_another_camera(self, camera: int, index: int, minutes_ago: int) -> None:
        """A copy between cameras: bytes another camera (or this one) recorded before."""
        data = self.contents[index % len(self.contents)]
        self.cameras[camera].write(data, self.clock.now() - timedelta(minutes=minutes_ago))

    @rule(camera=CAMERA, minutes=st.integers(-12 * 60, 12 * 60))
    def camera_clock(self, camera: int, minutes: int) -> None:
        """The camera's clock drifts or is set wrong (DV-2): its names say other times."""
        self.cameras[camera].offset_s = minutes * 60

    @rule(camera=CAMERA, erase=st.booleans())
    def dock(self, camera: int, erase: bool) -> None:
        cam = self.cameras[camera]
        now = self.clock.now()
        cam.docked_at(now)
        report = ingest_volume(self.vault, cam.root, erase=erase)
        self.docks.append((report.dock_id, {c.sha256 for c in report.clips}))
        assert report.failed == [], report.failed
        # Every clip is sealed, or (bytes whose evidence was purged) skipped with a reason.
        skipped = {path for path, _ in report.skipped if path in cam.files}
        assert sorted(c.path for c in report.clips) == sorted(set(cam.files) - skipped)
        for path in skipped:
            clip = self.clips.get(cam.files[path].sha)
            assert clip is not None and clip.purged_at is not None, (path, report.skipped)
        keep = set(skipped)  # paths whose bytes no live record holds: not to be erased
        for result in report.clips:  # in the order they were read
            on_camera = cam.files[result.path]
            assert result.sha256 == on_camera.sha
            clip = self.clips.get(result.sha256)
            corrected = on_camera.recorded - timedelta(seconds=cam.offset_s)  # DV-2
            if clip is None:
                assert result.status == "sealed", result
                clip = ClipModel(
                    sha=result.sha256,
                    size=result.size,
                    evidence_id=result.evidence_id,
                    recorded=corrected,
                    docked=now,
                    until=add_months(max(corrected, now), ROUTINE_MONTHS),
                )
                self.clips[result.sha256] = clip
            else:
                assert result.evidence_id == clip.evidence_id
                if clip.purged_at is not None:
                    keep.add(result.path)
                    note("dock: bytes of purged evidence again")
                else:
                    assert result.status in ("already_sealed", "duplicate"), result
            if (cam.device_id, cam.officer_id) not in clip.deliverers:
                clip.deliverers.append((cam.device_id, cam.officer_id))
                if len(clip.deliverers) > 1:
                    note("dock: the same bytes from a second camera")
            if result.status == "duplicate":
                note("dock: the same bytes twice in one docking (IMP copy)")
        if not erase:
            assert report.erased == []
            return
        if PURGED_BYTES_REDOCKED_SAFELY:
            # IN-2: erased only what a live record holds, verified; all of that.
            assert sorted(report.erased) == sorted(set(cam.files) - keep)
        for path in report.erased:
            assert path not in keep or not PURGED_BYTES_REDOCKED_SAFELY
            assert not (cam.root / path).exists()
            del cam.files[path]

    # Media work and compliance

    @rule(work=st.sampled_from(("media", "compliance", "verify")))
    def station_work(self, work: str) -> None:
        """The media worker, the compliance scan, or `evault verify` (nothing but warnings:
        no immutable flag here)."""
        if work == "media":
            run_worker(self.vault, until_idle=True, max_jobs=12)
        elif work == "compliance":
            scan(self.vault)
        else:
            found = [f.to_json() for f in verify(self.vault).findings if f.kind != "warnings"]
            if not PURGED_BYTES_REDOCKED_SAFELY:
                found = [f for f in found if "marked purged" not in f["reason"]]
            assert found == [], found

    # Cases (RT-3)

    @rule(number=st.sampled_from(CASE_NUMBERS), case_type=st.sampled_from(sorted(CASE_YEARS)))
    def create_case(self, number: str, case_type: str) -> None:
        if number in self.case_models:
            with pytest.raises(Conflict):
                cases.create_case(self.vault, number, "检查", case_type, "一大队", [], [])
            return
        cases.create_case(self.vault, number, "检查", case_type, "一大队", [], [])
        self.case_models[number] = CaseModel(case_type)

    @precondition(lambda self: self.clips)
    @rule(number=st.sampled_from(CASE_NUMBERS), index=st.integers(0, 1000))
    def link(self, number: str, index: int) -> None:
        clip = self.pick(index)
        if number not in self.case_models:
            with pytest.raises(NotFound):
                cases.link(self.vault, number, [clip.evidence_id], [])
            return
        if clip.purged_at is not None:
            with pytest.raises(Conflict, match="purged"):
                cases.link(self.vault, number, [clip.evidence_id], [])
            return
        linked = cases.link(self.vault, number, [clip.evidence_id], [])
        assert linked == ([] if number in clip.cases else [clip.evidence_id])
        self.linked(clip, number)

    @precondition(lambda self: self.docks)
    @rule(number=st.sampled_from(CASE_NUMBERS), index=st.integers(0, 1000))
    def link_docking(self, number: str, index: int) -> None:
        """`case link --session`: everything seen at one docking."""
        dock_id, seen = self.docks[index % len(self.docks)]
        clips = [self.clips[sha] for sha in sorted(seen)]
        if number not in self.case_models or not clips:
            with pytest.raises(NotFound):
                cases.link(self.vault, number, [], [dock_id])
            return
        if any(c.purged_at is not None for c in clips):
            with pytest.raises(Conflict, match="purged"):
                cases.link(self.vault, number, [], [dock_id])
            return
        linked = cases.link(self.vault, number, [], [dock_id])
        assert linked == sorted(c.evidence_id for c in clips if number not in c.cases)
        for clip in clips:
            self.linked(clip, number)

    def linked(self, clip: ClipModel, number: str) -> None:
        clip.cases.add(number)
        if clip.retention_class == "routine":
            clip.retention_class = "case"  # RT-3: evidence follows its case
        self.regrow(clip)

    @precondition(lambda self: self.clips)
    @rule(number=st.sampled_from(CASE_NUMBERS), index=st.integers(0, 1000))
    def unlink(self, number: str, index: int) -> None:
        clip = self.pick(index)
        if number not in clip.cases:
            with pytest.raises(NotFound):
                cases.unlink(self.vault, number, [clip.evidence_id], "linked by mistake")
            return
        if clip.purged_at is not None:
            with pytest.raises(Conflict, match="purged"):
                cases.unlink(self.vault, number, [clip.evidence_id], "linked by mistake")
            return
        left = clip.cases - {number}
        if self.due(clip, left, clip.retention_class) < clip.until:
            note("unlink refused (RT-4)")
            with pytest.raises(RetentionRefused):  # RT-4
                cases.unlink(self.vault, number, [clip.evidence_id], "linked by mistake")
            return
        cases.unlink(self.vault, number, [clip.evidence_id], "linked by mistake")
        clip.cases = left
        self.regrow(clip)

    @rule(number=st.sampled_from(CASE_NUMBERS))
    def close_case(self, number: str) -> None:
        case = self.case_models.get(number)
        if case is None:
            with pytest.raises(NotFound):
                cases.close(self.vault, number)
            return
        if case.closed_at is not None:
            with pytest.raises(Conflict):
                cases.close(self.vault, number)
            return
        count = cases.close(self.vault, number)
        case.closed_at = self.clock.now()
        linked = [c for c in self.live() if number in c.cases]
        assert count == len(linked)
        for clip in linked:
            self.regrow(clip)

    @rule(number=st.sampled_from(CASE_NUMBERS), pending=st.booleans())
    def litigation(self, number: str, pending: bool) -> None:
        case = self.case_models.get(number)
        if case is None:
            with pytest.raises(NotFound):
                cases.litigation(self.vault, number, pending, "行政诉讼")
            return
        if case.litigation == pending:
            with pytest.raises(Conflict):
                cases.litigation(self.vault, number, pending, "行政诉讼")
            return
        cases.litigation(self.vault, number, pending, "行政诉讼")
        case.litigation = pending

    # Classification and holds (RT-2, RT-4)

    @precondition(lambda self: self.clips)
    @rule(
        index=st.integers(0, 1000),
        retention_class=st.sampled_from(CLASSES),
        category=st.one_of(st.none(), st.sampled_from(CATEGORIES)),
    )
    def classify(self, index: int, retention_class: str, category: str | None) -> None:
        clip = self.pick(index)

        def call() -> object:
            return classify(self.vault, clip.evidence_id, retention_class, category, "复核")

        if (retention_class == "long_term") != (category is not None):
            with pytest.raises(Conflict, match="category"):
                call()
            return
        if clip.purged_at is not None:
            with pytest.raises(Conflict, match="purged"):
                call()
            return
        if retention_class == "case" and not clip.cases:
            with pytest.raises(Conflict, match="linked to no case"):
                call()
            return
        if self.due(clip, clip.cases, retention_class) < clip.until:
            note("classify refused (RT-4)")
            with pytest.raises(RetentionRefused, match="may only grow"):
                call()
            return
        call()
        clip.retention_class, clip.category = retention_class, category
        self.regrow(clip)

    @precondition(lambda self: self.clips)
    @rule(index=st.integers(0, 1000))
    def hold(self, index: int) -> None:
        clip = self.pick(index)
        if clip.purged_at is not None:
            with pytest.raises(Conflict, match="purged"):
                place_hold(self.vault, clip.evidence_id, "复议")
            return
        placed = place_hold(self.vault, clip.evidence_id, "复议")
        assert placed.id is not None
        self.hold_ids.append(placed.id)
        clip.holds.add(placed.id)

    @precondition(lambda self: self.hold_ids)
    @rule(index=st.integers(0, 1000))
    def release(self, index: int) -> None:
        hold_id = self.hold_ids[index % len(self.hold_ids)]
        if hold_id in self.released:
            with pytest.raises(Conflict, match="already released"):
                release_hold(self.vault, hold_id, "复议结束")
            return
        release_hold(self.vault, hold_id, "复议结束")
        self.released.add(hold_id)
        for clip in self.clips.values():
            clip.holds.discard(hold_id)

    # Time and the purge (RT-1, RT-5)

    @rule(delta=DELTA)
    def clock_forward(self, delta: tuple[str, int]) -> None:
        unit, n = delta
        if unit == "months":
            self.clock.at = add_months(self.clock.at, n)
        elif unit == "years":
            self.clock.at = years_after(self.clock.at, n)
        else:
            self.clock.at += timedelta(**{unit: n})

    @rule(after=st.one_of(st.none(), DELTA), signed=st.booleans())
    def run_purge(self, after: tuple[str, int] | None, signed: bool) -> None:
        """The purge, now or after some time: `purge run` deletes only the items of signed
        lists (RT-1, issue 18): without one, nothing; with the list of what is due drawn up,
        marked of no value and signed, exactly what the rules let go."""
        if after is not None:
            self.clock_forward(after)
        if not signed:
            assert purge(self.vault, dry_run=False).deleted == []
            return
        now = self.clock.now()
        expected = self.deletable(now)
        note(f"purge deletes {min(len(expected), 3)}+")
        report = purge_approved(self.vault)
        assert {d["evidence_id"] for d in report.deleted} == expected
        for kept in report.kept:
            for reason in kept["reason"].split(", "):
                note(f"purge kept: {re.sub(r' (?:[(]|环罚).*', '', reason)}")
        for clip in self.live():
            if clip.evidence_id in expected:
                clip.purged_at = now

    @rule(days=st.integers(0, 12 * 400))
    def plan_purge(self, days: int) -> None:
        """The dry run lists exactly what the rules allow as of then, and the store agrees."""
        as_of = self.clock.now() + timedelta(days=days)
        report = purge(self.vault, dry_run=True, as_of=as_of)
        listed = {d["evidence_id"] for d in report.deleted}
        assert listed == self.deletable(as_of)
        with self.vault.session() as session:
            for evidence_id in listed:
                info = self.vault.store.stat(session.get_one(Evidence, evidence_id).storage_key)
                assert info.retain_until is not None and info.retain_until <= as_of
                assert not info.legal_hold

    # Invariants

    @invariant()
    def count_checks(self) -> None:
        self.checks += 1

    @invariant()
    def store_and_records_hold_one_retention(self) -> None:
        with self.vault.session() as session:
            rows = {e.sha256: e for e in session.exec(select(Evidence))}
            derivatives = list(
                session.exec(select(Derivative).where(col(Derivative.purged_at).is_(None)))
            )
        assert set(rows) == set(self.clips)
        for sha, clip in self.clips.items():
            row = rows[sha]
            assert row.id == clip.evidence_id
            if clip.purged_at is not None:
                continue
            assert row.retain_until is not None and as_utc(row.retain_until) == clip.until, (
                row.id,
                row.retain_until,
                clip.until,
            )
            assert row.legal_hold == bool(self.blockers(clip)), (row.id, self.blockers(clip))
            info = self.vault.store.stat(row.storage_key)
            assert (info.retain_until, info.legal_hold) == (clip.until, row.legal_hold), row.id
        by_id = {self.clips[sha].evidence_id: row for sha, row in rows.items()}
        for derivative in derivatives:  # they follow their originals (shared bytes: all)
            owners = [
                by_id[d.evidence_id] for d in derivatives if d.storage_key == derivative.storage_key
            ]
            info = self.vault.store.stat(derivative.storage_key)
            assert info.retain_until is not None
            assert all(
                as_utc(o.retain_until) <= info.retain_until for o in owners if o.retain_until
            )
            assert info.legal_hold == any(o.legal_hold for o in owners), derivative.storage_key

    @invariant()
    def nothing_deleted_that_is_kept(self) -> None:
        """Every live original is in the store and reads back as sealed."""
        with self.vault.session() as session:
            rows = list(session.exec(select(Evidence).where(col(Evidence.purged_at).is_(None))))
        assert {r.id for r in rows} == {c.evidence_id for c in self.live()}
        for row in rows:
            result = self.vault.store.verify(row.storage_key, row.sha256, row.size)
            assert result.ok, (row.id, result.reason)

    @invariant()
    def every_deletion_has_its_purge_record(self) -> None:
        """RT-5: the record, the audit event and the store's own record of the deletion."""
        with self.vault.session() as session:
            purged = list(
                session.exec(select(Evidence).where(col(Evidence.purged_at).is_not(None)))
            )
            records = {r.evidence_id: r for r in session.exec(select(PurgeRecord))}
            events = {
                e.subject
                for e in session.exec(
                    select(AuditEvent).where(AuditEvent.action == "evidence.purged")
                )
            }
        assert {r.id for r in purged} == {c.evidence_id for c in self.clips.values() if c.purged_at}
        assert set(records) == {r.id for r in purged}  # and none left "deleting"
        for row in purged:
            clip = self.clips[row.sha256]
            record = records[row.id]
            assert row.status == "purged" or not PURGED_BYTES_REDOCKED_SAFELY, row.id
            assert record.state == "deleted" and record.sha256 == row.sha256
            assert record.deleted_at is not None
            assert as_utc(record.deleted_at) >= as_utc(record.retain_until) == clip.until
            assert f"evidence:{row.id}" in events
            sha = row.sha256
            assert any(self.vault.store.record_names(f"deleted/{sha[:2]}/{sha}/"))
            if PURGED_BYTES_REDOCKED_SAFELY:
                assert not self.vault.store.exists(row.storage_key), row.id

    @invariant()
    def no_object_without_a_record(self) -> None:
        orphans = find_orphans(self.vault)
        if not PURGED_BYTES_REDOCKED_SAFELY:
            purged = {c.sha for c in self.clips.values() if c.purged_at}
            orphans = [k for k in orphans if k.rpartition("/")[2] not in purged]
        assert orphans == []

    @invariant()
    def the_audit_chain_holds(self) -> None:
        assert check_audit(self.vault) == []

    @invariant()
    def found_under_the_camera_that_first_delivered_it(self) -> None:
        self._findable(first_only=True)

    @invariant()
    def found_under_every_camera_and_officer_that_delivered_it(self) -> None:
        if SIGHTINGS_FINDABLE:
            self._findable(first_only=False)

    def _findable(self, *, first_only: bool) -> None:
        with self.vault.session() as session:
            for device, officer in CAMERAS:
                clips = [
                    c
                    for c in self.clips.values()
                    if (device, officer) in (c.deliverers[:1] if first_only else c.deliverers)
                ]
                if not clips:
                    continue
                by_device = {r["evidence_id"] for r in list_evidence(session, Filters(device))}
                by_officer = {
                    r["evidence_id"] for r in list_evidence(session, Filters(officer_id=officer))
                }
                for clip in clips:
                    assert clip.evidence_id in by_device, (clip.evidence_id, device)
                    assert clip.evidence_id in by_officer, (clip.evidence_id, officer)
            sightings = {s.evidence_id for s in session.exec(select(Sighting))}
        assert {c.evidence_id for c in self.clips.values()} <= sightings


def profile(name: str | None = None) -> settings:
    """The budget: EVAULT_LIFE_PROFILE ("ci" or "soak"); EVAULT_LIFE_SHRINK=0 reports a
    failing sequence as found, without the minutes that shrinking it can take."""
    name = name or os.environ.get("EVAULT_LIFE_PROFILE", "ci")
    if name not in PROFILES:
        raise RuntimeError(f"EVAULT_LIFE_PROFILE={name!r}: one of {', '.join(PROFILES)}")
    if os.environ.get("EVAULT_LIFE_SHRINK") == "0":
        return settings(PROFILES[name], phases=[Phase.explicit, Phase.reuse, Phase.generate])
    return PROFILES[name]


def test_the_life_of_a_clip_holds_together() -> None:
    """Issue 16, part 2: random bureau days against the rules (RT-1..RT-5, IN-2, IN-4)."""
    run_state_machine_as_test(VaultLife, settings=profile())


# scripts/soak


@dataclass
class Violation:
    kind: str
    count: int
    example: str


def failure_kind(exc: BaseException) -> str:
    """What makes two failures the same: the exception, where it was raised, its message
    with numbers and hashes taken out."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = next(
        (
            f"{Path(f.filename).name}:{f.name}"
            for f in reversed(frames)
            if "hypothesis" not in f.filename
        ),
        "?",
    )
    first = (str(exc).strip().splitlines() or [""])[0]
    first = re.sub(r"[0-9a-f]{12,}|\d+", "N", first)[:160]
    return f"{type(exc).__name__} at {where}: {first}"


# The checks Hypothesis prints between the steps of an example: left out of the report.
INVARIANT_CALL = re.compile(
    r"\s*state\.("
    + "|".join(n for n, v in vars(VaultLife).items() if hasattr(v, "hypothesis_stateful_invariant"))
    + r")\(\)$"
)


def leaves(exc: BaseException) -> Iterator[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            yield from leaves(inner)
    else:
        yield exc


def soak(steps: int, out: Callable[[str], None]) -> dict[str, Violation]:
    found: dict[str, Violation] = {}
    runs = 0
    began = time.monotonic()
    while STEPS_RUN[0] < steps:
        runs += 1
        lines: list[str] = []
        before = STEPS_RUN[0]
        try:
            with with_reporter(lines.append):
                run_state_machine_as_test(VaultLife, settings=profile("soak"))
        except Exception as exc:  # a violation: note it, then go on with a fresh run
            for leaf in leaves(exc):
                kind = failure_kind(leaf)
                if kind in found:
                    found[kind].count += 1
                    continue
                steps = [ln for ln in "\n".join(lines).splitlines() if not INVARIANT_CALL.match(ln)]
                example = "\n".join([*steps, *traceback.format_exception_only(leaf)])
                found[kind] = Violation(kind, 1, example)
                out(f"soak: violation {len(found)}: {kind}")
        out(
            f"soak: run {runs}: {STEPS_RUN[0] - before} steps, {STEPS_RUN[0]} of {steps} "
            f"({time.monotonic() - began:.0f} s), {len(found)} distinct violations"
        )
        if STEPS_RUN[0] == before:
            break  # nothing ran (should not happen): do not loop for ever
    return found


def soak_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/soak", description="Run the vault's life model test at length."
    )
    parser.add_argument("--steps", type=int, default=2000, help="steps in total (default 2000)")
    parser.add_argument(
        "--no-shrink", action="store_true", help="report each failing sequence as found"
    )
    args = parser.parse_args(argv)
    if args.no_shrink:
        os.environ["EVAULT_LIFE_SHRINK"] = "0"
    if shared.TEST_DATABASE == "postgresql":
        url = os.environ.get("EVAULT_TEST_PG_URL")
        if not url:
            parser.error("EVAULT_TEST_DATABASE=postgresql needs EVAULT_TEST_PG_URL")
        shared._postgres = shared.PostgresServer(url)
    scratch = Path(tempfile.mkdtemp(prefix="vault-soak-"))
    tempfile.tempdir = str(scratch)
    os.environ["TMPDIR"] = str(scratch)

    def out(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    try:
        found = soak(args.steps, out)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"steps run: {STEPS_RUN[0]}")
    print("reached: " + ", ".join(f"{k} {v}" for k, v in sorted(SEEN.items())))
    print(f"violations: {sum(v.count for v in found.values())} ({len(found)} distinct)")
    for n, violation in enumerate(found.values(), 1):
        print(f"\n[{n}] {violation.kind} (seen {violation.count}x)\n{violation.example}")
    return 1 if found else 0
