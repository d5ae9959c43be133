"""Worklists (issue 17): the gaps that need a reason, late clips without one, one access
request with its documents, spot-check draws that say what was drawn, and `evault todo` for
each role, on real footage (ffmpeg, espeak-ng), a real store and real SQLite, through the
service API (as each role's OS user) and the real CLI."""

from __future__ import annotations

import csv
import io
import json
import shutil
from dataclasses import dataclass
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

import vault.service.ops  # noqa: F401  (registers the operations)
from tests.compliance_footage import CameraSpec, ClipSpec, base_clips, local, make_camera
from tests.conftest import make_settings, run_evault
from vault.access.grants import approve
from vault.access.principals import add_principal
from vault.access.requests import Presented, file_request
from vault.compliance import stops
from vault.compliance.report import ReportFilters, build_report
from vault.compliance.scan import scan
from vault.context import Vault, kernel_user
from vault.db.models import AuditEvent, MediaJob, RegisterEntry
from vault.ingest.pipeline import ingest_volume
from vault.media.worker import run_worker
from vault.service import api
from vault.timeutil import FixedClock

pytestmark = pytest.mark.skipif(
    shutil.which("ffmpeg") is None or shutil.which("espeak-ng") is None,
    reason="needs ffmpeg and espeak-ng",
)

S = 4  # seconds per clip (tests/compliance_footage.py)
DAY = "2026-11-23"


def at(clock_time: str) -> Any:
    return local(f"{DAY} {clock_time}")


@dataclass
class Station:
    vault: Vault
    clock: FixedClock
    home: Path
    papers: Path
    names: dict[str, list[str]]
    court_request: int
    own_request: int

    def call(self, os_user: str, op: str, **params: Any) -> api.Reply:
        """One call of the service API by OS_USER (a person, not the vault's account)."""
        reply = api.run(self.vault, api.Caller(60000, os_user, False), op, params)
        reply.cleanup()
        return reply

    def ok(self, os_user: str, op: str, **params: Any) -> Any:
        reply = self.call(os_user, op, **params)
        assert reply.ok, reply.error
        return reply.result


def _cameras() -> list[CameraSpec]:
    t0 = at("09:00:00")
    docked = at("18:00:00")
    return [
        # 张警官 (010203): a split file, then an unnarrated resume after 2 min (a gap that
        # needs a reason), then a narrated resume after 7 min (explained by the narration).
        CameraSpec(
            "3100001",
            "010203",
            [
                ClipSpec(t0, "speech"),
                ClipSpec(t0 + timedelta(seconds=S), "noise"),
                ClipSpec(t0 + timedelta(seconds=2 * S + 120), "noise"),
                ClipSpec(t0 + timedelta(seconds=3 * S + 420), "speech"),
            ],
            docked,
        ),
        # 李警官 (010204): an unnarrated resume after 200 s.
        CameraSpec(
            "3100002",
            "010204",
            [ClipSpec(at("10:00:00"), "speech"), ClipSpec(at("10:03:24"), "quiet")],
            docked,
        ),
        # Late (IN-1, 24 h): one clip of each officer, docked days after recording.
        CameraSpec("3100003", "010203", [ClipSpec(local("2026-11-18 20:00:00"), "speech")], docked),
        CameraSpec("3100004", "010204", [ClipSpec(local("2026-11-19 08:00:00"), "speech")], docked),
        # RC-1: 李警官 opens a recording without a word.
        CameraSpec("3100005", "010204", [ClipSpec(at("15:00:00"), "noise")], docked),
    ]


@pytest.fixture(scope="module")
def station(tmp_path_factory: pytest.TempPathFactory) -> Station:
    root = tmp_path_factory.mktemp("worklists")
    home = root / "home"
    home.mkdir()
    clock = FixedClock(at("18:00:00").astimezone(UTC))
    vault = Vault(make_settings(home), clock=clock, user="keeper")
    bases = base_clips(root / "bases")
    names: dict[str, list[str]] = {}
    for n, spec in enumerate(_cameras()):
        ingest_volume(vault, make_camera(root / f"cam{n}", spec, bases))
        names[spec.device_id] = spec.names
    clock.at = at("19:00:00").astimezone(UTC)
    with vault.session() as session:
        probes = session.exec(
            select(MediaJob).where(MediaJob.kind == "probe", MediaJob.state == "queued")
        ).all()
    run_worker(vault, until_idle=True, max_jobs=len(probes))
    scan(vault)
    keeper = vault
    add_principal(keeper, "王档案", "staff", ["records_keeper"], unit="一大队")
    add_principal(  # AC-0 (issue 18): the bureau head's level
        keeper, "李局长", "staff", ["approver"], os_user="boss", approver_level="head"
    )
    add_principal(keeper, "张警官", "staff", ["officer"], officer="010203", os_user="zhang")
    add_principal(keeper, "李警官", "staff", ["officer"], officer="010204", os_user="li")
    add_principal(keeper, "孙审计", "staff", ["auditor"], os_user="audit")
    add_principal(keeper, "周法制", "staff", ["legal"], os_user="legal")
    add_principal(keeper, "某区法院", "court", [], unit="某区人民法院", id_number="110101")
    papers = root / "papers"
    papers.mkdir()
    presented = []
    for kind in ("unit_letter", "applicant_id"):
        path = papers / f"{kind}.pdf"
        path.write_bytes(f"%PDF-1.4 scan of {kind}\n".encode() * 3)
        presented.append(Presented(kind, path, f"{kind}-扫描件.pdf"))
    first = _evidence_of(vault, "3100001")[0]
    court = file_request(keeper, f"evidence:{first}", "copy", "诉讼调查取证", "某区法院", presented)
    zhang = Vault(vault.settings, clock=clock, user="zhang")
    own = file_request(zhang, f"evidence:{first}", "view", "复核现场执法过程", None, [])
    assert court.id is not None and own.id is not None
    return Station(vault, clock, home, papers, names, court.id, own.id)


def _evidence_of(vault: Vault, device_id: str) -> list[int]:
    found = build_report(vault, ReportFilters(device_id=device_id))
    return sorted(i for s in found["sessions"] for i in s["evidence_ids"])


def _rc3(station: Station, **filters: Any) -> set[int]:
    report = build_report(station.vault, ReportFilters(**filters))
    return {int(f["subject"].split(":")[1]) for f in report["findings"] if f["rule"] == "RC-3"}


def test_gaps_are_the_reports_unexplained_interruptions_and_officers_see_their_own(
    station: Station,
) -> None:
    """RC-3, RC-6: `session.gaps` lists exactly the report's RC-3 findings, with camera,
    officer (name and badge), session and times; --all adds the explained ones with why;
    an officer sees only his own recording and is refused another's."""
    rows = station.ok("boss", "session.gaps")
    assert {r["gap_id"] for r in rows} == _rc3(station) and len(rows) == 2
    by_camera = {r["device_id"]: r for r in rows}
    zhang = by_camera["3100001"]
    assert (zhang["officer_id"], zhang["officer_name"]) == ("010203", "张警官")
    assert zhang["before"] == station.names["3100001"][2]
    assert zhang["seconds"] == pytest.approx(120, abs=2) and zhang["status"] == "needs_reason"
    assert by_camera["3100002"]["officer_name"] == "李警官"

    every = station.ok("boss", "session.gaps", all_=True)
    narrated = [r for r in every if r["status"] == "narrated"]
    assert [r["before"] for r in narrated] == [station.names["3100001"][3]]

    mine = station.ok("zhang", "session.gaps", all_=True)
    assert {r["officer_id"] for r in mine} == {"010203"} and len(mine) == 2
    refused = station.call("zhang", "session.gaps", officer="010204")
    assert refused.exit_code == 3 and "sees only the recording of officer 010203" in (
        refused.error or ""
    )
    assert station.ok("boss", "session.gaps", device="3100002") == [by_camera["3100002"]]
    assert station.ok("boss", "session.gaps", from_="2026-11-24", to="2026-11-24") == []
    assert len(station.ok("boss", "session.gaps", from_=DAY, to=DAY)) == 2

    # A reason given takes the gap off the list; it shows under --all with its reason.
    gap = by_camera["3100002"]["gap_id"]
    station.ok("li", "session.annotate", gap_id=gap, reason="battery", note="电池耗尽，更换后继续")
    assert [r["gap_id"] for r in station.ok("li", "session.gaps")] == []
    (explained,) = [r for r in station.ok("li", "session.gaps", all_=True)]
    assert (explained["status"], explained["reason_label"]) == ("reason", "电量不足")
    assert _rc3(station) == {zhang["gap_id"]}


def test_late_clips_are_the_reports_and_a_reason_clears_them(station: Station) -> None:
    """IN-1: the clips the report finds late, without a reason, with the deadline and the
    hours past it; an officer sees his own."""
    report = build_report(station.vault, ReportFilters())
    expected = {r["evidence_id"] for r in report["late"] if r["reason"] is None}
    rows = station.ok("audit", "compliance.late")
    assert {r["evidence_id"] for r in rows} == expected and len(rows) == 2
    zhang = next(r for r in rows if r["officer_id"] == "010203")
    assert (zhang["device_id"], zhang["officer_name"]) == ("3100003", "张警官")
    assert zhang["due"] == "2026-11-19T12:00:00Z"  # 24 h after 2026-11-18 20:00 北京时间
    assert zhang["hours_late"] == pytest.approx(4 * 24 + 22 - 24, abs=0.05)
    assert [r["officer_id"] for r in station.ok("zhang", "compliance.late")] == ["010203"]
    assert station.call("zhang", "compliance.late", officer="010204").exit_code == 3


def test_access_show_gives_the_approver_everything_and_an_officer_only_his_own(
    station: Station,
) -> None:
    """The requester and what he is, what the scope covers now, and the documents; the
    approver writes one out, byte-identical to what was presented; an officer sees his own
    request, not another's, and opens no documents."""
    shown = station.ok("boss", "access.show", request_id=station.court_request)
    assert shown["requester"] == {
        "name": "某区法院",
        "kind": "court",
        "kind_label": "法院",
        "unit": "某区人民法院",
    }
    assert (shown["action"], shown["status"], shown["filed_by"]) == ("copy", "pending", "王档案")
    (covered,) = shown["covers"]
    assert covered["file_name"] == station.names["3100001"][0]
    assert covered["device_id"] == "3100001" and covered["officer_id"] == "010203"
    assert [(d["kind"], d["file_name"]) for d in shown["documents"]] == [
        ("unit_letter", "unit_letter-扫描件.pdf"),
        ("applicant_id", "applicant_id-扫描件.pdf"),
    ]
    assert shown["decision"] is None and shown["grant"] is None

    reply = api.run(
        station.vault,
        api.Caller(60000, "boss", False),
        "access.document",
        {"request_id": station.court_request, "kind": "applicant_id"},
    )
    try:
        assert reply.ok, reply.error
        ((name, path),) = reply.files
        assert name == "document"
        assert path.read_bytes() == (station.papers / "applicant_id.pdf").read_bytes()
    finally:
        reply.cleanup()
    assert reply.result["sha256"] == shown["documents"][1]["sha256"]
    missing = station.call(
        "boss", "access.document", request_id=station.court_request, kind="power_of_attorney"
    )
    assert missing.exit_code == 1 and "has no power_of_attorney" in (missing.error or "")

    assert (
        station.ok("zhang", "access.show", request_id=station.own_request)["requester"]["name"]
        == "张警官"
    )
    assert station.call("li", "access.show", request_id=station.own_request).exit_code == 3
    assert station.call("zhang", "access.show", request_id=station.court_request).exit_code == 3
    refused = station.call(
        "zhang", "access.document", request_id=station.own_request, kind="unit_letter"
    )
    assert refused.exit_code == 3 and "(access.document) needs the" in (refused.error or "")


def test_todo_for_each_role(station: Station) -> None:
    """What each role is expected to act on, from the same records."""
    with station.vault.session() as session:
        job = session.exec(select(MediaJob).order_by(col(MediaJob.id))).first()
        assert job is not None
        job.state = "dead"  # as the worker leaves a job out of attempts
        session.add(job)
        session.commit()
    stops.add_stop(
        station.vault,
        device_id="3100002",
        officer_id="010204",
        stop_from=at("14:00:00"),
        stop_to=at("14:05:00"),
        reason="public_transport",
        basis="乘坐公共交通工具",
        statement=None,
    )
    boss = station.ok("boss", "todo")
    assert boss["roles"] == ["approver"]
    pending = boss["sections"]["requests_to_decide"]
    assert {r["request_id"] for r in pending} >= {station.court_request, station.own_request}
    court = next(r for r in pending if r["request_id"] == station.court_request)
    assert (court["requester"], court["requester_kind"], court["action"]) == (
        "某区法院",
        "法院",
        "copy",
    )
    assert [r["officer_id"] for r in boss["sections"]["stop_records_to_approve"]] == ["010204"]

    keeper = station.ok("keeper", "todo")["sections"]
    assert {r["gap_id"] for r in keeper["gaps_without_reason"]} == _rc3(station)
    assert {r["officer_id"] for r in keeper["late_without_reason"]} == {"010203", "010204"}
    assert keeper["dead_media_jobs"] == [{"kind": job.kind, "dead": 1}]
    assert len(keeper["stop_records_to_approve"]) == 1

    # The officer: his own gaps and late clips, and a grant that ends within three days.
    approve(Vault(station.vault.settings, clock=station.clock, user="boss"),
            station.own_request, "同意复核", days=2)  # fmt: skip
    zhang = station.ok("zhang", "todo")["sections"]
    assert set(zhang) == {
        "grants_expiring",
        "gaps_without_reason",
        "late_without_reason",
        "openings_without_narration",
    }
    assert zhang["openings_without_narration"] == []
    assert {r["officer_id"] for r in zhang["gaps_without_reason"]} == {"010203"}
    assert {r["officer_id"] for r in zhang["late_without_reason"]} == {"010203"}
    (grant,) = zhang["grants_expiring"]
    assert (grant["action"], grant["scope"]) == ("view", station.ok(
        "zhang", "access.show", request_id=station.own_request)["scope"])  # fmt: skip
    assert station.ok("li", "todo")["sections"]["grants_expiring"] == []

    audit = station.ok("audit", "todo")["sections"]["last_verification"]
    assert audit == [{"verified_at": None, "exit_code": None, "findings": None, "by": None}]
    verified = api.run(station.vault, api.Caller(0, "root", True), "verify", {"objects": True})
    assert verified.ok, verified.error
    (last,) = station.ok("audit", "todo")["sections"]["last_verification"]
    assert last["verified_at"] is not None and last["exit_code"] == verified.result["exit_code"]
    assert station.ok("legal", "todo")["sections"] == {}

    # RC-1 and OV-2: the openings without narration are the report's, each until reviewed;
    # a spot-check draw's sessions wait for their review.
    found = build_report(station.vault, ReportFilters())["findings"]
    silent = {
        int(f["subject"].split(":")[1])
        for f in found
        if f["rule"] == "RC-1" and "opens without narration" in f["detail"]
    }
    openings = station.ok("audit", "todo")["sections"]["openings_without_narration"]
    assert {r["session_id"] for r in openings} == silent and len(silent) == 1
    (li_opening,) = station.ok("li", "todo")["sections"]["openings_without_narration"]
    assert (li_opening["device_id"], li_opening["officer_name"]) == ("3100005", "李警官")
    assert li_opening["finding"].startswith(("no audio track", "0"))
    assert station.ok("audit", "todo")["sections"]["spot_checks_to_review"] == []
    station.ok("audit", "review.sample", count=2, seed="todo")
    drawn = station.ok("keeper", "todo")["sections"]["spot_checks_to_review"]
    assert len(drawn) == 2 and {r["drawn_at"] for r in drawn} != {None}
    for row in drawn:
        station.ok("audit", "review.record", session_id=row["session_id"], result="ok",
                   note="回放核查无异常")  # fmt: skip
    assert station.ok("keeper", "todo")["sections"]["spot_checks_to_review"] == []
    station.ok("audit", "review.record", session_id=li_opening["session_id"],
               result="finding", note="开始未语音说明")  # fmt: skip
    assert station.ok("audit", "todo")["sections"]["openings_without_narration"] == []
    # DV-2: every camera here docked with a clock the station read and trusted.
    assert station.ok("keeper", "todo")["sections"]["clocks_to_set"] == []

    refused = station.call("nobody", "todo")
    assert refused.exit_code == 3 and "(todo) needs the" in (refused.error or "")


def _register_length(station: Station) -> int:
    with station.vault.session() as session:
        return len(session.exec(select(RegisterEntry.id)).all())


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_the_cli_prints_worklists_as_tables_csv_and_json(station: Station, tmp_path: Path) -> None:
    """The real CLI (root, mapped to a principal who keeps records, approves and audits):
    --csv parses back with every identifier whole; the document is written out
    byte-identical; todo prints its sections; a draw names camera, officer and times."""
    add_principal(
        station.vault,
        "赵全能",
        "staff",
        ["records_keeper", "approver", "auditor"],
        os_user=kernel_user(),
    )
    home = station.home
    listed = run_evault(home, "session", "gaps", "--all", "--csv")
    assert listed.returncode == 0, listed.stderr
    rows = _csv(listed.stdout)
    as_json = json.loads(run_evault(home, "session", "gaps", "--all", "--json").stdout)
    assert [r["gap"] for r in rows] == [str(r["gap_id"]) for r in as_json]
    assert {r["camera"] for r in rows} == {"3100001", "3100002"}
    assert "张警官（010203）" in {r["officer"] for r in rows}
    assert any(r["status"] == "reason given" and "电量不足" in r["reason"] for r in rows)

    late = run_evault(home, "compliance", "late", "--csv")
    assert late.returncode == 0, late.stderr
    files = {r["file"] for r in _csv(late.stdout)}
    assert files == {station.names["3100003"][0], station.names["3100004"][0]}

    out = tmp_path / "letter.pdf"
    entries = _register_length(station)
    written = run_evault(
        home, "access", "show", str(station.court_request),
        "--document", "unit_letter", "--out", str(out),
    )  # fmt: skip
    assert written.returncode == 0, written.stderr
    assert out.read_bytes() == (station.papers / "unit_letter.pdf").read_bytes()
    again = run_evault(
        home, "access", "show", str(station.court_request),
        "--document", "unit_letter", "--out", str(out),
    )  # fmt: skip
    assert again.returncode == 1 and "already exists" in again.stderr
    # Read out: recorded in the audit chain, not the access register (its events are uses of
    # footage, requests and decisions).
    assert _register_length(station) == entries
    with station.vault.session() as session:
        read = session.exec(
            select(AuditEvent).where(AuditEvent.action == "access.document_read")
        ).all()
    assert (read[-1].subject, read[-1].detail["kind"], read[-1].detail["by"]) == (
        f"request:{station.court_request}",
        "unit_letter",
        "赵全能",
    )
    shown = run_evault(home, "access", "show", str(station.court_request))
    assert shown.returncode == 0, shown.stderr
    assert "法院" in shown.stdout and "unit_letter-扫描件.pdf" in shown.stdout
    assert "None" not in shown.stdout and "True" not in shown.stdout

    todo = run_evault(home, "todo")
    assert todo.returncode == 0, todo.stderr
    assert "access requests to decide" in todo.stdout
    assert "interruptions without a reason" in todo.stdout
    assert "the last evault verify" in todo.stdout
    assert set(json.loads(run_evault(home, "todo", "--json").stdout)["roles"]) == {
        "records_keeper",
        "approver",
        "auditor",
    }

    drawn = run_evault(home, "review", "sample", "--count", "5", "--seed", "wl", "--csv")
    assert drawn.returncode == 0, drawn.stderr
    sessions = _csv(drawn.stdout)
    assert {r["camera"] for r in sessions} >= {"3100001", "3100002"}
    assert any(r["officer"] == "李警官（010204）" for r in sessions)
    first = next(r for r in sessions if r["camera"] == "3100001")
    assert first["clips"].split(", ") == station.names["3100001"]
    draw = json.loads(
        run_evault(home, "review", "sample", "--count", "1", "--seed", "wl", "--json").stdout
    )
    assert [s["session_id"] for s in draw["drawn"]] == draw["sessions"]

    help_text = " ".join(run_evault(home, "session", "annotate", "--help").stdout.split())
    assert "session gaps" in help_text and "report compliance" not in help_text


def test_nothing_to_do_is_said(tmp_path: Path) -> None:
    """A fresh vault: the records keeper who bootstrapped it has nothing waiting."""
    home = tmp_path / "home"
    home.mkdir()
    vault = Vault(make_settings(home), user=kernel_user())
    add_principal(vault, "王档案", "staff", ["records_keeper"])
    done = run_evault(home, "todo")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "nothing to do"


def test_todo_follows_the_approval_level_and_lists_purge_lists_and_reasons_to_review(
    station: Station,
) -> None:
    """Issue 18: an approver sees the requests his level decides (AC-0: under the default
    preset, Pingdingshan 第4、5、7条, the head decides them all; a deputy none); the
    records keeper the purge lists to mark, an approver those to sign (RT-1, Pingdingshan
    第15条); an approver the written reasons to review (RC-6)."""
    from tests.purge_lists import KEEPER
    from vault.cases import purge_lists
    from vault.compliance.reasons import annotate_gap

    add_principal(station.vault, "张副局长", "staff", ["approver"], os_user="deputy",
                  approver_level="deputy")  # fmt: skip
    head = station.ok("boss", "todo")["sections"]["requests_to_decide"]
    assert head and {r["level_needed"] for r in head} == {"局机关主要负责人"}
    assert station.ok("deputy", "todo")["sections"]["requests_to_decide"] == []

    station.clock.at += timedelta(days=400)  # the clips' routine term has ended
    listing = purge_lists.draw(station.vault, "timer")
    assert listing is not None and listing.id is not None
    (to_mark,) = station.ok("keeper", "todo")["sections"]["purge_lists_to_mark"]
    assert to_mark["list_id"] == listing.id and to_mark["unmarked"] == to_mark["items"] > 0
    assert station.ok("boss", "todo")["sections"]["purge_lists_to_sign"] == []
    purge_lists.mark(station.vault, listing.id, None, "no_value", None, KEEPER)
    assert station.ok("keeper", "todo")["sections"]["purge_lists_to_mark"] == []
    (to_sign,) = station.ok("boss", "todo")["sections"]["purge_lists_to_sign"]
    assert to_sign["list_id"] == listing.id

    gap = min(_rc3(station))
    annotate_gap(station.vault, gap, "battery", "电池耗尽，更换后恢复录像")
    reviews = station.ok("boss", "todo")["sections"]["reasons_to_review"]
    assert f"gap:{gap}" in {r["subject"] for r in reviews}
    # The to-do finds its gaps without reading every session (report.unexplained_gaps): a
    # reason given takes the gap off, and once rejected (RC-6) it is back, as in the report.
    keeper = station.ok("keeper", "todo")["sections"]["gaps_without_reason"]
    assert gap not in {r["gap_id"] for r in keeper} and {r["gap_id"] for r in keeper} == _rc3(
        station
    )
    station.ok("boss", "session.review", subject=f"gap:{gap}", result="rejected", note="不具体")
    again = station.ok("keeper", "todo")["sections"]["gaps_without_reason"]
    assert gap in {r["gap_id"] for r in again} and {r["gap_id"] for r in again} == _rc3(station)
    assert station.ok("boss", "session.gaps") == again


def test_each_clip_keeps_its_upload_delay_and_the_migration_works_out_the_same(
    station: Station,
) -> None:
    """IN-1: the to-do's late clips are those sealed 24 h or more after their corrected
    recording (the indexed Evidence.upload_delay_s); migration 0022 fills the column for the
    clips already sealed with the same values, on SQLite and PostgreSQL alike."""
    from alembic import command

    from vault.db.engine import alembic_config
    from vault.db.models import (
        Evidence,
        NarrationCheck,
        RecordingGap,
        RecordingSession,
        SessionClip,
    )
    from vault.db.models.records import upload_delay_s

    def delays() -> dict[int | None, int | None]:
        with station.vault.session() as session:
            return {e.id: e.upload_delay_s for e in session.exec(select(Evidence))}

    def silent() -> dict[int | None, bool]:
        with station.vault.session() as session:
            return {g.id: g.resume_unnarrated for g in session.exec(select(RecordingGap))}

    # An interruption's resume_unnarrated is what its resume's narration check heard (kept
    # by the scan, which stores the gaps before it checks the clips, and by each check).
    with station.vault.session() as session:
        heard = {c.evidence_id: c for c in session.exec(select(NarrationCheck))}
        gaps = list(session.exec(select(RecordingGap)))
    expected = {
        g.id: (c := heard.get(g.before_evidence_id)) is not None
        and c.state == "done"
        and not c.narrated
        for g in gaps
    }
    assert silent() == expected and sum(expected.values()) >= 2

    def openings() -> dict[int | None, bool]:
        with station.vault.session() as session:
            return {r.id: r.opening_unnarrated for r in session.exec(select(RecordingSession))}

    with station.vault.session() as session:
        first = dict(
            session.exec(
                select(SessionClip.session_id, SessionClip.evidence_id).where(
                    SessionClip.position == 0
                )
            ).all()
        )
    opened = {
        sid: (c := heard.get(first.get(sid or 0, 0))) is not None
        and c.state == "done"
        and not c.narrated
        for sid in openings()
    }
    assert openings() == opened and sum(opened.values()) == 1

    with station.vault.session() as session:
        clips = list(session.exec(select(Evidence)))
    sealed = {e.id: upload_delay_s(e.recorded_at_corrected, e.sealed_at) for e in clips}
    assert delays() == sealed and sum((d or 0) >= 86400 for d in sealed.values()) == 2
    config = alembic_config(station.vault.engine)
    command.downgrade(config, "0021")
    command.upgrade(config, "head")
    assert delays() == sealed and silent() == expected and openings() == opened
    report = build_report(station.vault, ReportFilters())
    late = {r["evidence_id"] for r in report["late"] if r["reason"] is None}
    assert {r["evidence_id"] for r in station.ok("audit", "compliance.late")} == late
