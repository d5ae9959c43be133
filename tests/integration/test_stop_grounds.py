"""Stop grounds, unresumed recordings and reviewed reasons (issue 18 part 5: RC-3, RC-4, RC-6)
on real footage (ffmpeg, espeak-ng), a real store and real SQLite, through the service API
as each role's OS user.

Camera 3100001 (officer 010203, 张警官) records three sessions: the first has three
unnarrated resumes (one for each document's stop grounds and one for a reviewed reason),
the second and the third each stop for good after one clip (the third is a clip of an open
case).
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

import vault.service.ops  # noqa: F401  (registers the operations)
from tests.compliance_footage import CameraSpec, ClipSpec, base_clips, local, make_camera
from tests.conftest import make_settings
from vault.access.principals import add_principal
from vault.cases import cases
from vault.compliance import stops
from vault.compliance.report import ReportFilters, build_report
from vault.compliance.scan import scan
from vault.compliance.sentences import Sections
from vault.context import Vault
from vault.db.models import AuditEvent, MediaJob, Principal
from vault.i18n import speaking
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
CASE = "环罚〔2026〕77号"


def at(clock_time: str) -> datetime:
    return local(f"{DAY} {clock_time}")


@dataclass
class Station:
    vault: Vault
    clock: FixedClock
    names: list[str]

    def call(self, os_user: str, op: str, **params: Any) -> api.Reply:
        reply = api.run(self.vault, api.Caller(60000, os_user, False), op, params)
        reply.cleanup()
        return reply

    def ok(self, os_user: str, op: str, **params: Any) -> Any:
        reply = self.call(os_user, op, **params)
        assert reply.ok, reply.error
        return reply.result

    def report(self) -> dict[str, Any]:
        return build_report(self.vault, ReportFilters(device_id="3100001"))


@pytest.fixture(scope="module")
def station(tmp_path_factory: pytest.TempPathFactory) -> Station:
    root = tmp_path_factory.mktemp("stops")
    home = root / "home"
    home.mkdir()
    clock = FixedClock(at("18:00:00").astimezone(UTC))
    vault = Vault(make_settings(home), clock=clock, user="keeper")
    t0 = at("09:00:00")
    spec = CameraSpec(
        "3100001",
        "010203",
        [
            ClipSpec(t0, "speech"),
            ClipSpec(t0 + timedelta(seconds=S + 200), "quiet"),
            ClipSpec(t0 + timedelta(seconds=2 * S + 400), "quiet"),
            ClipSpec(t0 + timedelta(seconds=3 * S + 600), "quiet"),
            ClipSpec(at("11:00:00"), "speech"),
            ClipSpec(at("13:00:00"), "speech"),
        ],
        at("18:00:00"),
    )
    ingest_volume(vault, make_camera(root / "cam", spec, base_clips(root / "bases")))
    clock.at = at("19:00:00").astimezone(UTC)
    with vault.session() as session:
        probes = session.exec(
            select(MediaJob).where(MediaJob.kind == "probe", MediaJob.state == "queued")
        ).all()
    run_worker(vault, until_idle=True, max_jobs=len(probes))
    scan(vault)
    add_principal(vault, "王档案", "staff", ["records_keeper"])
    add_principal(vault, "李局长", "staff", ["approver"], os_user="boss", approver_level="head")
    add_principal(vault, "张警官", "staff", ["officer"], officer="010203", os_user="zhang")
    add_principal(vault, "赵警官", "staff", ["officer"], officer="010299", os_user="zhao")
    return Station(vault, clock, spec.names)


def _gap(report: dict[str, Any], before: str) -> dict[str, Any]:
    return next(g for s in report["sessions"] for g in s["gaps"] if g["before"] == before)


def _session(report: dict[str, Any], clip: str) -> dict[str, Any]:
    return next(s for s in report["sessions"] if clip in s["clips"])


def _about(report: dict[str, Any], subject: str) -> list[dict[str, Any]]:
    return [f for f in report["findings"] if f["subject"] == subject]


def _stop(station: Station, gap: dict[str, Any], reason: str, **more: Any) -> dict[str, Any]:
    params = {
        "device": "3100001",
        "officer": "010203",
        "from_": gap["from"],
        "to": gap["to"],
        "reason": reason,
        "basis": more.pop("basis", "执法记录仪使用管理规定"),
    }
    return dict(station.ok("zhang", "stop-record.add", **params | more))


def test_xiangxi_grounds_are_accepted_with_or_without_a_statement(
    station: Station, tmp_path: Path
) -> None:
    # Xiangxi 第11条: a witness's or informant's request, public transport, secrets, privacy,
    # weather, other; the requester *may* be asked to sign (可以要求), so a stop is filed
    # without a statement, and a statement given is sealed and attached.
    gap = _gap(station.report(), station.names[1])
    for reason in ("witness_request", "public_transport", "secrets", "privacy", "other"):
        row = _stop(station, gap, reason)
        assert row["statement"] is None and row["status"] == "pending"
        assert row["articles"][0].startswith("Xiangxi 第11条")
        assert row["reviewed_by_level"] == "分管领导"
    weather = _stop(station, gap, "weather")
    assert weather["articles"] == ["Xiangxi 第11条（四）", "Pingdingshan 第12条（二）"]
    statement = tmp_path / "举报人声明.pdf"
    statement.write_bytes(b"%PDF-1.4 the informant asks not to be recorded, signed")
    reply = api.run(
        station.vault,
        api.Caller(60000, "zhang", False),
        "stop-record.add",
        {
            "device": "3100001",
            "officer": "010203",
            "from_": gap["from"],
            "to": gap["to"],
            "reason": "witness_request",
            "basis": "举报人明确要求停止使用",
            "statement": statement.name,
        },
        inputs={statement.name: statement.read_bytes()},
    )
    assert reply.ok, reply.error
    signed = reply.result["statement"]
    assert signed["sha256"] == hashlib.sha256(statement.read_bytes()).hexdigest()
    # Until a supervisor reviews one of them the gap is an RC-4 finding; then it is covered.
    subject = f"gap:{gap['gap_id']}"
    assert [f["rule"] for f in _about(station.report(), subject)] == ["RC-4"]
    station.ok("boss", "stop-record.approve", stop_id=reply.result["stop_id"])
    covered = _gap(station.report(), station.names[1])
    assert covered["reason"] == f"stop_record:{reply.result['stop_id']} witness_request"
    assert _about(station.report(), subject) == []


def test_pingdingshan_grounds_need_a_reviewed_work_record(station: Station) -> None:
    # Pingdingshan 第12条: device fault (damage, battery, storage), weather, obstruction,
    # force majeure; the work record (工作记录: reason and basis) is reviewed by the unit's
    # 主要领导 — here by the approver role, through stops.reviewer_may_approve — and never
    # by its filer or an officer.
    gap = _gap(station.report(), station.names[2])
    refused = station.call(
        "zhang",
        "stop-record.add",
        device="3100001",
        officer="010203",
        from_=gap["from"],
        to=gap["to"],
        reason="device_fault",
        basis=" ",
    )
    assert not refused.ok and "--basis is required" in (refused.error or "")
    filed = {r: _stop(station, gap, r) for r in ("obstruction", "force_majeure")}
    row = _stop(station, gap, "device_fault", basis="记录仪死机，无法继续录像")
    assert row["articles"] == ["Pingdingshan 第12条（一）"]
    assert row["reviewed_by_level"] == "本单位主要领导"
    assert filed["obstruction"]["articles"] == ["Pingdingshan 第12条（三）"]
    assert filed["force_majeure"]["articles"] == ["Pingdingshan 第12条（四）"]
    subject = f"gap:{gap['gap_id']}"
    assert [f["rule"] for f in _about(station.report(), subject)] == ["RC-4"]
    assert station.call("zhang", "stop-record.approve", stop_id=row["stop_id"]).exit_code == 3
    with station.vault.session() as session:
        zhang = session.exec(select(Principal).where(Principal.name == "张警官")).one()
        boss = session.exec(select(Principal).where(Principal.name == "李局长")).one()
    settings = station.vault.settings
    assert not stops.reviewer_may_approve(zhang, "device_fault", settings)
    assert stops.reviewer_may_approve(boss, "device_fault", settings)
    approved = station.ok("boss", "stop-record.approve", stop_id=row["stop_id"])
    assert approved["approved_by"] == "李局长"
    covered = _gap(station.report(), station.names[2])
    assert covered["reason"] == f"stop_record:{row['stop_id']} device_fault"
    assert _about(station.report(), subject) == []


def test_unresumed_interruption_needs_its_immediate_report(station: Station) -> None:
    # Gansu-Eco 第42条, Gansu-Radio 第19条: a recording that cannot continue is reported at
    # once (立即报告: to whom, when); a device-fault stop that runs past the session's end
    # shows it was not resumed, and without the report it is a finding.
    session = _session(station.report(), station.names[4])
    subject = f"session:{session['session_id']}"
    end = datetime.fromisoformat(session["end"])
    _stop(
        station,
        {"from": iso(end), "to": iso(end + timedelta(hours=1))},
        "device_fault",
        basis="记录仪电池鼓包，无法继续使用",
    )
    found = _about(station.report(), subject)
    assert [(f["rule"], f["code"]) for f in found] == [("RC-3", "unresumed_not_reported")]
    with speaking("zh_CN"):
        said = Sections(station.report()).sentence(found[0])
    assert "立即报告" in said and "unresumed" not in said
    half = station.call(
        "zhang",
        "session.unresumed",
        session_id=session["session_id"],
        reason="device_fault",
        reported_to="李局长",
    )
    assert not half.ok and "--reported-at" in (half.error or "")
    other = station.call(
        "zhao",
        "session.unresumed",
        session_id=session["session_id"],
        reason="device_fault",
        reported_to="李局长",
        reported_at="2026-11-23T11:05:00",
    )
    assert other.exit_code == 3  # RC-6: the officer concerned or a records keeper
    row = station.ok(
        "zhang",
        "session.unresumed",
        session_id=session["session_id"],
        reason="device_fault",
        reported_to="李局长",
        reported_at="2026-11-23T11:05:00",
    )
    assert (row["reported_to"], row["reported_at"]) == ("李局长", "2026-11-23T03:05:00Z")
    assert _about(station.report(), subject) == []  # no open case: reported is enough
    shown = _session(station.report(), station.names[4])["unresumed"]
    assert shown["record"]["reported_to"] == "李局长" and shown["open_cases"] == []


def test_session_ended_unresumed_while_its_case_is_open_needs_a_written_explanation(
    station: Station,
) -> None:
    # Gansu-Eco 第42条 (事后书面说明), REQUIREMENTS RC-3: a session that ended without
    # resuming while its case is still open needs the written explanation; the officer's
    # first record gives the report, a later version the explanation (both kept, RC-6).
    clip = station.names[5]
    session = _session(station.report(), clip)
    subject = f"session:{session['session_id']}"
    cases.create_case(station.vault, CASE, "某厂现场检查", "行政检查", "一大队", [], [])
    cases.link(station.vault, CASE, session["evidence_ids"], [])
    first_at = station.clock.at
    station.ok(
        "zhang",
        "session.unresumed",
        session_id=session["session_id"],
        reason="obstruction",
        reported_to="李局长",
        reported_at="2026-11-23T13:01:00",
    )
    found = _about(station.report(), subject)
    assert [f["code"] for f in found] == ["unresumed_unexplained"]
    assert found[0]["cases"] == [CASE]
    with speaking("zh_CN"):
        said = Sections(station.report()).sentence(found[0])
    assert CASE in said and "书面说明" in said
    station.clock.at = first_at + timedelta(hours=1)
    station.ok(
        "keeper",
        "session.unresumed",
        session_id=session["session_id"],
        reason="obstruction",
        note="当事人阻挠，抢夺记录仪，无法继续录像，已当场报告李局长",
    )
    assert _about(station.report(), subject) == []
    history = _session(station.report(), clip)["unresumed"]["history"]
    assert [(v["version"], v["given_by"], v["reported_to"]) for v in history] == [
        (1, "张警官", "李局长"),
        (2, "王档案", "李局长"),
    ]
    assert history[0]["note"] == "" and history[1]["note"].startswith("当事人阻挠")


def test_an_annotation_is_reviewed_and_keeps_its_history(station: Station) -> None:
    # RC-6: a reason comes from the officer concerned or a records keeper, is reviewed
    # (accepted or rejected, who and when), and a change is a new attributed version; a
    # rejected reason explains nothing until a new one is given.
    gap = _gap(station.report(), station.names[3])
    subject = f"gap:{gap['gap_id']}"
    assert [f["rule"] for f in _about(station.report(), subject)] == ["RC-3"]
    station.ok("zhang", "session.annotate", gap_id=gap["gap_id"], reason="battery", note="没电")
    assert _about(station.report(), subject) == []
    refused = station.call("zhang", "session.review", subject=subject, result="accepted")
    assert refused.exit_code == 3  # an officer does not review reasons
    no_why = station.call("boss", "session.review", subject=subject, result="rejected")
    assert not no_why.ok and "says why" in (no_why.error or "")
    review_at = station.clock.at
    done = station.ok(
        "boss", "session.review", subject=subject, result="rejected", note="未说明更换电池时间"
    )
    assert done["review"] == {
        "result": "rejected",
        "note": "未说明更换电池时间",
        "by": "李局长",
        "at": iso(review_at),
    }
    found = _about(station.report(), subject)
    assert [(f["rule"], f["code"]) for f in found] == [("RC-3", "reason_rejected")]
    with speaking("zh_CN"):
        said = Sections(station.report()).sentence(found[0])
    assert "李局长" in said and "未说明更换电池时间" in said
    again = station.call("boss", "session.review", subject=subject, result="accepted")
    assert not again.ok and "was rejected" in (again.error or "")
    station.ok(
        "keeper",
        "session.annotate",
        gap_id=gap["gap_id"],
        reason="battery",
        note="电池耗尽，10:12更换备用电池后继续录像",
    )
    assert _about(station.report(), subject) == []
    station.ok("boss", "session.review", subject=subject, result="accepted")
    history = _gap(station.report(), station.names[3])["reason_history"]
    assert [(v["version"], v["given_by"], v["review"]["result"]) for v in history] == [
        (1, "张警官", "rejected"),
        (2, "王档案", "accepted"),
    ]
    with station.vault.session() as session:
        events = session.exec(
            select(AuditEvent)
            .where(AuditEvent.action == "compliance.reason_reviewed")
            .order_by(col(AuditEvent.id))
        ).all()
    assert [(e.subject, e.detail["result"]) for e in events][-2:] == [
        (subject, "rejected"),
        (subject, "accepted"),
    ]
