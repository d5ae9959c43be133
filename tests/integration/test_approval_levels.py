"""Approval levels (AC-0) and the requesters' documents, scope and register rows (AC-4,
AC-5), on real sealed footage and the real register (issue 18 parts 1 and 2)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import col, select

from tests.access_office import CASE, Office, open_office
from tests.conftest import make_settings
from vault.access import approval, grants, printable
from vault.access.principals import add_principal, set_level
from vault.access.requests import file_request
from vault.cases import cases
from vault.config import parse_settings
from vault.context import Vault
from vault.db.models import RegisterEntry
from vault.errors import AccessRefused, ConfigError, UsageError

PRESETS = ("pingdingshan", "xiangxi", "shanxi", "gansu-eco", "gansu-radio")


@pytest.fixture
def office(vault: Vault, camera: Path, tmp_path: Path) -> Office:
    found = open_office(vault, camera, tmp_path / "papers")
    add_principal(found.keeper, "张副局长", "staff", ["approver"], os_user="deputy")
    set_level(found.keeper, "张副局长", "deputy")
    add_principal(found.keeper, "孙主任", "staff", ["approver"], os_user="unit_head")
    set_level(found.keeper, "孙主任", "unit_head")
    return found


def under(office: Office, preset: str, user: str) -> Vault:
    """The same vault, read with `[access.approval] preset = PRESET`, acting as USER."""
    settings = make_settings(office.vault.settings.home, access={"approval": {"preset": preset}})
    return Vault(settings, clock=office.vault.clock, user=user)


def last_entry(vault: Vault) -> RegisterEntry:
    with vault.session() as session:
        found = session.exec(select(RegisterEntry).order_by(col(RegisterEntry.seq).desc())).first()
    assert found is not None
    return found


def party_request(office: Office, action: str, party: str = "当事人甲") -> int:
    papers = office.documents("unit_letter", "applicant_id")
    filed = file_request(office.keeper, f"case:{CASE}", action, "申辩", party, papers)
    assert filed.id is not None
    return filed.id


# What a deputy (分管领导) may decide under each preset, by the document's own article.
DEPUTY = {
    # Pingdingshan 第7条: 局机关主要负责人批准
    ("pingdingshan", "copy"): False,
    ("pingdingshan", "view"): False,
    # Xiangxi 第17条 names no level: the head
    ("xiangxi", "copy"): False,
    ("xiangxi", "view"): False,
    # Shanxi 第21条: a party's viewing by the 综合行政执法机构负责人 (a deputy ranks above);
    # a copy it does not name: the head
    ("shanxi", "copy"): False,
    ("shanxi", "view"): True,
    # Gansu-Eco 第45条: a party's copy with the consent of the 行政机关负责人
    ("gansu-eco", "copy"): True,
    ("gansu-eco", "view"): True,
    # Gansu-Radio 第25条: 局主要负责人批准
    ("gansu-radio", "copy"): False,
    ("gansu-radio", "view"): False,
}


def test_a_deputy_approves_a_partys_request_only_where_the_preset_lets_him(
    office: Office,
) -> None:
    """AC-0: each preset as its document reads; a refusal names the level and is registered."""
    office.outsider("当事人甲", "party")
    for (preset, action), allowed in DEPUTY.items():
        request_id = party_request(office, action)
        deputy = under(office, preset, "deputy")
        if allowed:
            assert grants.approve(deputy, request_id, "同意").action == action
            assert last_entry(office.vault).approver == "张副局长"
            continue
        with pytest.raises(AccessRefused) as refused:
            grants.approve(deputy, request_id, "同意")
        message = str(refused.value)
        assert "需要局机关主要负责人审批" in message and "head" in message
        assert "\n" not in message and f"preset {preset}" in message
        entry = last_entry(office.vault)
        assert (entry.event, entry.request_id, entry.handled_by) == (
            "refused",
            request_id,
            "张副局长",
        )
        assert entry.detail["attempt"] == "approve"
        assert "需要局机关主要负责人审批" in printable.row(entry, "Asia/Shanghai")[5]
        # The head always may (Pingdingshan 第7条; every preset).
        assert grants.approve(under(office, preset, "boss"), request_id, "同意").id


def test_the_default_preset_is_the_strictest_and_refuses_the_deputy(office: Office) -> None:
    """AC-0: the head for everything unless configured (Pingdingshan 第4、5、7、8条)."""
    assert office.vault.settings.access.approval.preset == "pingdingshan"
    for kind in ("staff", "court", "superior", "party", "natural_person", "lawyer"):
        for action in ("view", "copy", "export"):
            assert approval.required_level(office.vault.settings, kind=kind, action=action) == (
                "head"
            )
    office.outsider("当事人甲", "party")
    request_id = party_request(office, "copy")
    with pytest.raises(AccessRefused, match="需要局机关主要负责人审批"):
        grants.approve(office.as_user("deputy"), request_id, "同意")
    with pytest.raises(AccessRefused, match="需要局机关主要负责人审批"):
        grants.deny(office.as_user("unit_head"), request_id, "不同意")


def test_stop_levels_follow_each_preset(office: Office) -> None:
    """AC-0, RC-4: Xiangxi 第11条 报分管领导审核; Pingdingshan 第12条 报本单位主要领导审核."""
    home = office.vault.settings.home
    levels = {
        p: approval.stop_level(make_settings(home, access={"approval": {"preset": p}}), "weather")
        for p in PRESETS
    }
    assert levels == {
        "pingdingshan": "head",
        "xiangxi": "deputy",
        "shanxi": "head",
        "gansu-eco": "head",
        "gansu-radio": "head",
    }
    overridden = make_settings(
        home, access={"approval": {"preset": "xiangxi", "stops": {"weather": "unit_head"}}}
    )
    assert approval.stop_level(overridden, "weather") == "unit_head"
    assert approval.stop_level(overridden, "witness_request") == "deputy"


def test_overrides_win_and_bad_keys_are_refused(office: Office) -> None:
    """AC-0: the matrix is the settings'; a misspelt key is one clear line."""
    settings = make_settings(
        office.vault.settings.home,
        access={"approval": {"requests": {"party.copy": "deputy", "court": "unit_head"}}},
    )
    assert approval.required_level(settings, kind="party", action="copy") == "deputy"
    assert approval.required_level(settings, kind="party", action="view") == "head"
    assert approval.required_level(settings, kind="court", action="export") == "unit_head"
    with pytest.raises(ConfigError, match=r"access\.approval\.requests"):
        parse_settings({"access": {"approval": {"requests": {"partys.copy": "head"}}}})
    with pytest.raises(ConfigError, match=r"access\.approval\.preset"):
        parse_settings({"access": {"approval": {"preset": "henan"}}})


def test_an_approver_with_no_level_decides_nothing(office: Office) -> None:
    """AC-0: the old role merged head and deputies; no level is never read as the head."""
    add_principal(office.keeper, "吴某", "staff", ["approver"], os_user="nolevel")
    request = file_request(office.other, f"evidence:{office.evidence[3]}", "view", "培训", None, [])
    assert request.id is not None
    with pytest.raises(AccessRefused, match=r"no approval level set.*evault principal level"):
        grants.approve(office.as_user("nolevel"), request.id, "同意")
    assert last_entry(office.vault).event == "refused"
    with pytest.raises(UsageError, match="unknown approval level 'boss'"):
        set_level(office.keeper, "吴某", "boss")
    set_level(office.keeper, "吴某", "head")
    assert grants.approve(office.as_user("nolevel"), request.id, "同意").id


def test_a_partys_request_with_only_a_unit_letter_is_refused_naming_the_id(
    office: Office,
) -> None:
    """AC-5 (Pingdingshan 第7条: 凭单位介绍信及申请人有效身份证件): both, under the default."""
    party = office.outsider("某厂", "party", "某化工有限公司")
    scope = f"case:{CASE}"
    with pytest.raises(AccessRefused, match=r"must present: applicant_id \(身份证件\)"):
        file_request(office.keeper, scope, "view", "申辩", party, office.documents("unit_letter"))
    refused = last_entry(office.vault)
    assert (refused.event, refused.who, refused.documents) == ("refused", party, ["unit_letter"])
    with pytest.raises(AccessRefused, match=r"unit_letter \(介绍信\)"):
        file_request(office.keeper, scope, "view", "申辩", party, office.documents("applicant_id"))
    both = office.documents("unit_letter", "applicant_id")
    assert file_request(office.keeper, scope, "view", "申辩", party, both).status == "pending"


def test_a_natural_person_presents_the_id_alone(office: Office) -> None:
    """AC-5 (Pingdingshan 第7条): a natural person has no unit: the ID."""
    person = office.outsider("王某某", "natural_person", "")
    scope = f"case:{CASE}"
    with pytest.raises(AccessRefused, match="applicant_id"):
        file_request(office.keeper, scope, "view", "了解情况", person, [])
    papers = office.documents("applicant_id")
    assert file_request(office.keeper, scope, "view", "了解情况", person, papers).id


def test_a_lawyer_presents_the_three_documents_as_the_article_names_them(
    office: Office,
) -> None:
    """AC-5 (Pingdingshan 第7条: 代理律师应提供委托书、授权书、律师执业证)."""
    lawyer = office.outsider("张律师", "lawyer", "某律师事务所")
    scope = f"case:{CASE}"
    with pytest.raises(AccessRefused) as refused:
        file_request(office.keeper, scope, "view", "代理", lawyer, office.documents("applicant_id"))
    for words in ("委托书", "授权书", "律师执业证"):
        assert words in str(refused.value)
    assert "律师事务所函" not in str(refused.value) and "授权委托书" not in str(refused.value)
    papers = office.documents(
        "applicant_id", "power_of_attorney", "authorisation", "practising_licence"
    )
    filed = file_request(office.keeper, scope, "view", "代理", lawyer, papers)
    row = printable.row(last_entry(office.vault), "Asia/Shanghai")
    assert row[4].split("、") == ["身份证件", "授权书", "委托书", "律师执业证"]
    assert filed.id is not None


def test_a_party_sees_only_its_own_case(office: Office) -> None:
    """AC-5 (Pingdingshan 第7条: 查阅本单位（人）的...结论性文件及音视频资料)."""
    party = office.outsider("当事人甲", "party")
    papers = office.documents("unit_letter", "applicant_id")
    outside = office.evidence[3]  # linked to no case
    with pytest.raises(AccessRefused, match=f"own case {CASE}.*evidence {outside}"):
        file_request(office.keeper, f"evidence:{outside}", "view", "申辩", party, papers)
    cases.create_case(office.vault, "环罚〔2026〕13号", "另案", "行政处罚", "一大队", [], [])
    cases.link(office.vault, "环罚〔2026〕13号", [outside], [])
    with pytest.raises(AccessRefused, match="own case"):
        file_request(office.keeper, "case:环罚〔2026〕13号", "view", "申辩", party, papers)
    inside = file_request(
        office.keeper, f"evidence:{office.evidence[0]}", "view", "申辩", party, papers
    )
    assert inside.status == "pending"
    add_principal(office.keeper, "无案当事人", "party", [], unit="某公司")  # no --case
    with pytest.raises(AccessRefused, match="--case"):
        file_request(office.keeper, f"case:{CASE}", "view", "申辩", "无案当事人", papers)


def test_a_superior_body_is_refused_only_on_a_statutory_ground(office: Office) -> None:
    """AC-4 (Gansu-Eco 第47条, Gansu-Radio 第24条): 上级行政执法主体 不得拒绝 but on
    statutory grounds such as state secrets."""
    superior = office.outsider("省生态环境厅执法局", "superior", "省生态环境厅")
    papers = office.documents("unit_letter", "applicant_id")
    with pytest.raises(AccessRefused, match="unit_letter"):
        file_request(office.keeper, f"evidence:{office.evidence[3]}", "copy", "督查", superior, [])
    filed = file_request(
        office.keeper, f"evidence:{office.evidence[3]}", "copy", "督查", superior, papers
    )
    assert filed.id is not None
    with pytest.raises(AccessRefused, match="only on statutory grounds"):
        grants.deny(office.boss, filed.id, "不便提供")
    assert last_entry(office.vault).event == "refused"
    denied = grants.deny(office.boss, filed.id, "涉密", statutory_ground="国家秘密")
    assert denied.status == "denied"


def test_the_register_names_the_natural_person_and_the_id_presented(
    office: Office, tmp_path: Path
) -> None:
    """AC-4 (Xiangxi 第18条: 对查阅人、查阅事由、查阅时间等情况进行登记): the person who looks,
    with the ID presented, beside the organisation."""
    court = office.outsider("某区人民法院", "court", "某区人民法院")
    papers = office.documents("unit_letter", "applicant_id")
    filed = file_request(
        office.keeper,
        f"evidence:{office.evidence[0]}",
        "copy",
        "审理需要",
        court,
        papers,
        reader="刘法官",
        reader_id_number="410402198001011234",
    )
    assert filed.id is not None
    request_row = printable.row(last_entry(office.vault), "Asia/Shanghai")
    assert request_row[2] == "刘法官（证件号码：410402198001011234）"
    assert request_row[3] == "某区人民法院"
    grants.approve(office.boss, filed.id, "同意")
    approve_row = printable.row(last_entry(office.vault), "Asia/Shanghai")
    assert approve_row[2:4] == request_row[2:4]
    out = tmp_path / "register.csv"
    with office.vault.session() as session:
        rows = list(session.exec(select(RegisterEntry).order_by(col(RegisterEntry.seq))))
    printable.write_csv(rows, "Asia/Shanghai", out)
    assert "刘法官（证件号码：410402198001011234）,某区人民法院" in out.read_text("utf-8-sig")
    # Without --reader: the requester is the person, with the ID number on file.
    party = office.outsider("当事人甲", "party")
    party_request(office, "view", party)
    assert printable.row(last_entry(office.vault), "Asia/Shanghai")[2] == (
        "当事人甲（证件号码：110101199001011234）"
    )
