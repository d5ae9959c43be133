"""Issue 18 part 7: evidence use (RT-3, EV-1, EV-2). Footage exported as evidence is kept at
least long-term, never shorter, also when an interrupted export is settled later; the
written statement names the officers present, the place, the object of proof and the
signature lines; an export whose place is unknown is refused naming --place; footage
classified long-term waits in the records keeper's todo for its two labelled discs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlmodel import col, select

from tests.access_office import CASE, Office, open_office
from tests.conftest import make_settings
from tests.integration.test_export_delivery import court_grant, fail_at_export, journals
from tests.integration.test_statement_paper import pdf_pages
from vault.access import discs, grants
from vault.access import export as access_export
from vault.access.export import STATEMENT, export, recover_pending_exports
from vault.access.requests import file_request
from vault.cases.retention import classify
from vault.compliance.todo import todo
from vault.context import Vault
from vault.db.models import AuditEvent, Evidence
from vault.errors import UsageError
from vault.timeutil import FixedClock

BUREAU = "某市生态环境局"


@pytest.fixture
def office(home: Path, clock: FixedClock, camera: Path, tmp_path: Path) -> Office:
    settings = make_settings(home, access={"bureau_name": BUREAU})
    return open_office(Vault(settings, clock=clock, user="tester"), camera, tmp_path / "papers")


def retention(office: Office, evidence_id: int) -> tuple[str, str | None, object]:
    with office.vault.session() as session:
        row = session.get_one(Evidence, evidence_id)
        return row.retention_class, row.long_term_category, row.retain_until


def classified(office: Office, evidence_id: int) -> list[AuditEvent]:
    with office.vault.session() as session:
        query = select(AuditEvent).where(
            AuditEvent.action == "evidence.classified",
            AuditEvent.subject == f"evidence:{evidence_id}",
        )
        return list(session.exec(query.order_by(col(AuditEvent.id))))


def test_an_export_as_evidence_keeps_its_clips_long_term_and_never_shorter(
    office: Office, tmp_path: Path
) -> None:
    # Gansu-Radio 第23条: 作为行政执法证据使用的 ... 复制到光盘后附卷归档，长期保存 (RT-3);
    # RT-4: retention only grows, and a record long-term already keeps its category.
    first, second, _ = office.evidence[:3]
    classify(office.keeper, second, "long_term", "dispute", "当事人表示将申请复议")
    kept_before = retention(office, second)
    before = retention(office, first)
    assert before[0] == "case"
    export(office.keeper, f"case:{CASE}", tmp_path / "package", court_grant(office))
    after = retention(office, first)
    assert after[:2] == ("long_term", "evidence_use")
    assert before[2] is not None and (after[2] is None or after[2] >= before[2])  # type: ignore[operator]
    assert retention(office, second) == kept_before  # long-term already: unchanged
    event = classified(office, first)[-1]
    assert event.detail["after"] == ["long_term", "evidence_use"]
    assert event.detail["before"] == ["case", None] and event.detail["export_id"]
    assert retention(office, office.evidence[2])[0] == "routine"  # not exported


def test_an_interrupted_export_settled_later_keeps_its_clips_long_term(
    office: Office, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # RT-3 (Gansu-Radio 第23条) also for a package delivered by a run that crashed: the
    # next run's recovery registers it (AC-7) and keeps its records long-term.
    grant_id = court_grant(office)
    with monkeypatch.context() as patched:
        fail_at_export(patched, KeyboardInterrupt())  # a crash before the register entry
        with pytest.raises(KeyboardInterrupt):
            export(office.keeper, f"case:{CASE}", tmp_path / "package", grant_id)
    assert retention(office, office.evidence[0])[0] == "case"
    assert [d["outcome"] for d in recover_pending_exports(office.vault)] == ["registered"]
    assert retention(office, office.evidence[0])[:2] == ("long_term", "evidence_use")

    # A crash after the register entry and before the classification: settled too.
    third = office.evidence[2]
    grant = court_grant(office, f"evidence:{third}")
    with monkeypatch.context() as patched:

        def crash(vault: Vault, pending: object) -> None:
            raise KeyboardInterrupt

        patched.setattr(access_export, "_used_as_evidence", crash)
        with pytest.raises(KeyboardInterrupt):
            export(office.keeper, f"evidence:{third}", tmp_path / "p2", grant, place="某厂门口")
    assert retention(office, third)[0] == "routine" and len(journals(office)) == 1
    done = recover_pending_exports(office.vault)
    assert [d["outcome"] for d in done] == ["already-registered"]
    assert retention(office, third)[:2] == ("long_term", "evidence_use")


def test_the_statement_names_officers_place_purpose_and_signature_lines(
    office: Office, tmp_path: Path
) -> None:
    # Xiangxi 第16条: 执法人员姓名、摄录人员姓名、摄录起止时间、地点、设备品牌型号 ... 由分管领导和
    # 执法人员签名; Gansu-Eco 第44条: 取证人员、取证时间、取证地点, and the rules on audio-visual
    # evidence: how it was made and what it is to prove (证明对象).
    if not shutil.which("pdftotext"):
        pytest.skip("poppler-utils is not installed (scripts/setup installs it)")
    court = office.outsider("某区人民法院", "court", "某区人民法院")
    request = file_request(
        office.keeper,
        f"case:{CASE}",
        "export",
        "行政诉讼举证",
        court,
        office.documents("unit_letter", "applicant_id"),
        to_prove="当事人于现场拒绝停止排放",
    )
    assert request.id is not None
    grant = grants.approve(office.boss, request.id, "同意")
    out = tmp_path / "package"
    export(office.keeper, f"case:{CASE}", out, grant.id)  # the place: the case's own
    pages = pdf_pages(out / STATEMENT)
    text = "\n".join(pages)
    assert "证明对象：当事人于现场拒绝停止排放" in text
    assert "在场执法人员：赵办案（执法证号 010203）" in text  # the case's handler, by badge
    assert "地点：某厂门口" in text and "________________" in text
    assert "制作方法：执法记录仪拍摄" in text
    signing = [page for page in pages if "签名" in page]
    assert len(signing) == 1  # the signature block on one page (issue 17)
    assert "分管领导：" in signing[0] and "执法人员：赵办案（执法证号 010203）" in signing[0]
    assert "采集人：" in signing[0] and "记录人：" in signing[0] and "制作人：" in signing[0]


def test_an_export_with_no_known_place_is_refused_naming_the_option(
    office: Office, tmp_path: Path
) -> None:
    # Xiangxi 第16条, Gansu-Eco 第44条: the place (取证地点) is required; never left blank.
    unlinked = office.evidence[2]
    grant = court_grant(office, f"evidence:{unlinked}")
    out = tmp_path / "package"
    with pytest.raises(UsageError, match="--place") as refused:
        export(office.keeper, f"evidence:{unlinked}", out, grant)
    assert "\n" not in str(refused.value) and not out.exists()
    assert retention(office, unlinked)[0] == "routine"
    export(office.keeper, f"evidence:{unlinked}", out, grant, place="某河段排污口")
    assert (out / STATEMENT).is_file()


def test_classifying_long_term_queues_the_labelled_disc_pair_for_the_records_keeper(
    office: Office, tmp_path: Path
) -> None:
    # Pingdingshan 第16条: 刻录光盘 ... 一式两份，标明制作单位、制作人、制作时间、案件名称及标号;
    # Xiangxi 第17条 刻盘保存. 制作单位 is the bureau (EV-2), the 制作人 a person.
    if not shutil.which("xorriso"):
        pytest.skip("xorriso is not installed (scripts/setup installs it)")
    target = office.evidence[0]
    keeper = ["records_keeper"]
    assert todo(office.keeper, keeper, None, None)["sections"]["discs_to_make"] == []
    classify(office.keeper, target, "long_term", "obstruction", "当事人阻碍执法")
    queued = todo(office.keeper, keeper, None, None)["sections"]["discs_to_make"]
    assert [(r["evidence_id"], r["category"], r["cases"]) for r in queued] == [
        (target, "obstruction", CASE)
    ]
    assert "discs_to_make" not in todo(office.keeper, ["officer"], None, "010203")["sections"]

    out = tmp_path / "discs"
    made = discs.make_discs(office.keeper, [target], out)
    images = sorted(out.glob("copy-*.iso"))
    assert [p.name for p in images] == ["copy-1.iso", "copy-2.iso"]
    assert all(p.stat().st_size > 0 for p in images) and len(made["labels"]) == 2
    for n in (1, 2):
        label = (out / f"label-copy-{n}.txt").read_text(encoding="utf-8")
        assert f"制作单位：{BUREAU}" in label and CASE in label
        assert f"{n}" in label.splitlines()[0]
    assert todo(office.keeper, keeper, None, None)["sections"]["discs_to_make"] == []
    with office.vault.session() as session:
        assert discs.made(session) == {target}
