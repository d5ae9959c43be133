"""Requests, approvals and grants on real sealed footage (AC-1..AC-9), every step in the
register (AC-7)."""

from __future__ import annotations

import hashlib
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from tests.access_office import ALL_DOCUMENTS, CASE, Office, open_office
from vault.access import export as access_export
from vault.access import grants, register
from vault.access.export import export
from vault.access.principals import AGENCIES, add_principal, disable, map_user
from vault.access.requests import file_request
from vault.context import Vault
from vault.db.models import AccessDocument, Derivative, Principal, RegisterEntry
from vault.errors import AccessRefused, Conflict
from vault.service import api, ops
from vault.timeutil import FixedClock


@pytest.fixture
def office(vault: Vault, camera: Path, tmp_path: Path) -> Office:
    return open_office(vault, camera, tmp_path / "papers")


def view(vault: Vault, evidence_id: int) -> Path:
    """A viewing copy written into a fresh private folder (as the service does per call)."""
    return access_export.view(vault, evidence_id, Path(tempfile.mkdtemp(prefix="view-")))


def last_entry(vault: Vault) -> RegisterEntry:
    with vault.session() as session:
        found = session.exec(select(RegisterEntry).order_by(col(RegisterEntry.seq).desc())).first()
    assert found is not None
    return found


REQUIRED = {
    **{kind: ("unit_letter", "applicant_id") for kind in AGENCIES},
    "superior": ("unit_letter", "applicant_id"),  # AC-4 (issue 18): a body, as the agencies
    # AC-5 (issue 18, Pingdingshan 第7条): a party's unit letter AND the applicant's ID; a
    # natural person the ID.
    "party": ("unit_letter", "applicant_id"),
    "natural_person": ("applicant_id",),
    "lawyer": ("applicant_id", "power_of_attorney", "authorisation", "practising_licence"),
    "other_region": ("unit_letter",),
}


def test_each_requester_type_is_refused_without_its_documents_and_filed_with_them(
    office: Office,
) -> None:
    """AC-4 (agencies), AC-5 (party, lawyer), AC-6 (other regions); documents are sealed."""
    scope = f"evidence:{office.evidence[0]}"
    for n, (kind, needed) in enumerate(REQUIRED.items()):
        name = office.outsider(f"申请人{n}", kind)
        with pytest.raises(AccessRefused, match="must present") as refused:
            file_request(office.keeper, scope, "copy", "复核", name, [])
        assert all(doc in str(refused.value) for doc in needed)
        refusal = last_entry(office.vault)
        assert (refusal.event, refusal.who, refusal.detail["attempt"]) == (
            "refused",
            name,
            "request",
        )
        partial = office.documents(*needed[:-1])
        with pytest.raises(AccessRefused, match=needed[-1]):
            file_request(office.keeper, scope, "copy", "复核", name, partial)
        filed = file_request(office.keeper, scope, "copy", "复核", name, office.documents(*needed))
        assert filed.status == "pending"
        assert last_entry(office.vault).documents == sorted(needed)
    with office.vault.session() as session:
        documents = list(session.exec(select(AccessDocument)))
    assert len(documents) == sum(len(n) for n in REQUIRED.values())
    for document in documents:  # sealed like evidence: in the store, under its own hash
        with office.vault.store.open(document.storage_key) as sealed:
            assert hashlib.sha256(sealed.read()).hexdigest() == document.sha256


def test_staff_file_for_themselves_and_only_a_records_keeper_files_for_others(
    office: Office,
) -> None:
    scope = f"evidence:{office.evidence[3]}"
    assert file_request(office.other, scope, "view", "培训", None, []).status == "pending"
    court = office.outsider("法院甲", "court")
    with pytest.raises(AccessRefused, match="records_keeper"):
        file_request(office.other, scope, "view", "x", court, office.documents(*ALL_DOCUMENTS))


def test_a_non_approver_cannot_approve_and_the_attempt_is_registered(office: Office) -> None:
    """AC-2, AC-3: the bureau head's approval; AC-7: failed attempts are registered."""
    request = file_request(office.other, f"evidence:{office.evidence[3]}", "view", "培训", None, [])
    assert request.id is not None
    for clerk in (office.keeper, office.handler, office.other):
        with pytest.raises(AccessRefused, match="needs the approver role"):
            grants.approve(clerk, request.id, "ok")
        with pytest.raises(AccessRefused, match="needs the approver role"):
            grants.deny(clerk, request.id, "no")
    refusal = last_entry(office.vault)
    assert refusal.event == "refused" and refusal.handled_by == "钱其他"
    assert refusal.request_id == request.id
    grant = grants.approve(office.boss, request.id, "同意")
    assert last_entry(office.vault).event == "approve"
    assert last_entry(office.vault).approver == "李局长" and grant.action == "view"
    with pytest.raises(Conflict, match="already approved"):
        grants.deny(office.boss, request.id, "changed my mind")


def test_an_approver_cannot_approve_their_own_request(office: Office) -> None:
    request = file_request(office.boss, f"evidence:{office.evidence[3]}", "copy", "自查", None, [])
    assert request.id is not None
    with pytest.raises(AccessRefused, match="own request"):
        grants.approve(office.boss, request.id, "ok")


def test_other_staff_need_approval_to_view_and_are_told_which_request(office: Office) -> None:
    """AC-3."""
    target = office.evidence[3]
    with pytest.raises(AccessRefused, match=f"--scope evidence:{target} --action view"):
        view(office.other, target)
    assert last_entry(office.vault).detail["attempt"] == "view"
    request = file_request(office.other, f"evidence:{target}", "view", "培训", None, [])
    assert request.id is not None
    grants.approve(office.boss, request.id, "同意")
    copy = view(office.other, target)
    assert copy.stat().st_mode & 0o777 == 0o400
    entry = last_entry(office.vault)
    assert (entry.event, entry.who, entry.approver, entry.reason) == (
        "view",
        "钱其他",
        "李局长",
        "培训",
    )


def test_expired_and_revoked_grants_are_refused(office: Office, clock: FixedClock) -> None:
    target = office.evidence[3]
    first = file_request(office.other, f"evidence:{target}", "view", "培训", None, [])
    assert first.id is not None
    grant = grants.approve(office.boss, first.id, "同意", days=1)
    view(office.other, target)
    clock.advance(timedelta(days=1, seconds=1).total_seconds())
    with pytest.raises(AccessRefused, match=f"grant {grant.id} expired"):
        view(office.other, target)
    second = file_request(office.other, f"evidence:{target}", "view", "再看", None, [])
    assert second.id is not None
    renewed = grants.approve(office.boss, second.id, "同意")
    view(office.other, target)
    assert renewed.id is not None
    with pytest.raises(AccessRefused, match="needs the approver or records_keeper role"):
        grants.revoke(office.other, renewed.id, "self-revoke")
    grants.revoke(office.keeper, renewed.id, "事由已结束")
    assert last_entry(office.vault).event == "revoke"
    with pytest.raises(AccessRefused, match=f"grant {renewed.id} was revoked"):
        view(office.other, target)


def test_handler_views_own_case_without_a_request_but_copying_needs_approval(
    office: Office, tmp_path: Path
) -> None:
    """AC-2: records never leave the vault without the bureau head's approval."""
    own, foreign = office.evidence[0], office.evidence[3]
    assert view(office.handler, own).exists()
    entry = last_entry(office.vault)
    assert entry.event == "view" and entry.grant_id is None and "AC-2" in (entry.reason or "")
    with pytest.raises(AccessRefused):
        view(office.handler, foreign)  # not linked to the handler's case
    out = tmp_path / "copy"
    with pytest.raises(AccessRefused, match="no valid grant to export"):
        export(office.handler, f"evidence:{own}", out)
    assert not out.exists()
    request = file_request(office.handler, f"case:{CASE}", "copy", "移送", None, [])
    assert request.id is not None
    grants.approve(office.boss, request.id, "同意复制")
    result = export(office.handler, f"case:{CASE}", out)
    assert result.action == "copy" and (out / "SHA256SUMS").exists()
    assert last_entry(office.vault).event == "copy"


def test_state_secret_marking_blocks_a_lawyers_grant(office: Office) -> None:
    """AC-9: state secrets never go to a party or a lawyer."""
    target = office.evidence[1]
    lawyer = office.outsider("张律师", "lawyer", "某律师事务所")
    papers = office.documents(*REQUIRED["lawyer"])
    request = file_request(office.keeper, f"evidence:{target}", "view", "代理诉讼", lawyer, papers)
    assert request.id is not None
    with pytest.raises(AccessRefused, match="needs the records_keeper or legal or approver"):
        grants.mark(office.other, target, ["state_secret"], "涉密")
    grants.mark(office.keeper, target, ["state_secret"], "涉密")
    with pytest.raises(AccessRefused, match="国家秘密"):
        grants.approve(office.boss, request.id, "同意")
    with pytest.raises(AccessRefused, match="国家秘密"):
        file_request(office.keeper, f"case:{CASE}", "view", "代理诉讼", lawyer, papers)
    court = office.outsider("法院乙", "court")
    allowed = file_request(
        office.keeper, f"evidence:{target}", "view", "审判", court, office.documents(*ALL_DOCUMENTS)
    )
    assert allowed.id is not None and grants.approve(office.boss, allowed.id, "同意").id


def test_a_marking_set_after_the_grant_still_stops_its_use(office: Office, tmp_path: Path) -> None:
    target = office.evidence[1]  # AC-5 (issue 18): a party's own case's footage
    party = office.outsider("当事人甲", "party")
    papers = office.documents("unit_letter", "applicant_id")  # AC-5 (issue 18): both
    request = file_request(office.keeper, f"evidence:{target}", "copy", "申辩", party, papers)
    assert request.id is not None
    grant = grants.approve(office.boss, request.id, "同意")
    grants.mark(office.keeper, target, ["privacy"], "第三人隐私")
    with pytest.raises(AccessRefused, match="privacy"):  # the party's grant, named
        export(office.keeper, f"evidence:{target}", tmp_path / "out", grant.id)


def test_an_unmapped_os_user_is_refused_and_registered(office: Office) -> None:
    """The CLI acts as the principal mapped from the OS user, nothing else."""
    stranger = office.as_user("mallory")
    with pytest.raises(AccessRefused, match="not mapped"):
        view(stranger, office.evidence[0])
    entry = last_entry(office.vault)
    assert (entry.event, entry.os_user, entry.handled_by) == ("refused", "mallory", None)
    with pytest.raises(AccessRefused, match="records_keeper"):
        map_user(office.other, "mallory", "钱其他")
    map_user(office.keeper, "mallory", "钱其他")
    with pytest.raises(AccessRefused, match="not mapped"):
        view(office.other, office.evidence[0])  # 钱其他 now acts through mallory only


def test_the_first_principal_bootstraps_a_records_keeper_mapped_to_its_creator(
    vault: Vault,
) -> None:
    with pytest.raises(Conflict, match="must be staff with --role records_keeper"):
        add_principal(vault, "甲", "staff", ["approver"])
    first = add_principal(vault, "甲", "staff", ["records_keeper"], os_user="someone-else")
    assert first.os_user == vault.user  # mapped to whoever bootstrapped, not to a flag
    intruder = Vault(vault.settings, clock=vault.clock, user="intruder")
    with pytest.raises(AccessRefused, match="not mapped"):
        add_principal(intruder, "乙", "staff", ["records_keeper", "approver"], os_user="intruder")
    assert register.verify(vault).ok


def test_view_uses_the_viewing_copy_when_the_media_jobs_made_one(office: Office) -> None:
    target = office.evidence[0]
    body = b"viewing copy bytes"
    digest = hashlib.sha256(body).hexdigest()
    writer = office.vault.store.begin_put()
    writer.write(body)
    sealed = writer.commit(digest, len(body), office.vault.clock.now() + timedelta(days=400))
    with office.vault.session() as session:
        session.add(
            Derivative(
                evidence_id=target,
                kind="viewing",
                sha256=digest,
                size=len(body),
                storage_key=sealed.key,
                media_type="video/mp4",
                created_at=office.vault.clock.now(),
            )
        )
        session.commit()
    copy = view(office.handler, target)
    assert copy.read_bytes() == body and copy.suffix == ".mp4"
    assert last_entry(office.vault).detail["file"] == "viewing"


def test_a_disabled_principal_can_neither_act_nor_have_a_grant_used(
    office: Office, tmp_path: Path
) -> None:
    court = office.outsider("法院丙", "court")
    request = file_request(
        office.keeper, f"evidence:{office.evidence[4]}", "copy", "审判", court,
        office.documents("unit_letter", "applicant_id"),
    )  # fmt: skip
    assert request.id is not None
    grant = grants.approve(office.boss, request.id, "同意")
    with pytest.raises(AccessRefused, match="records_keeper"):
        disable(office.other, court, "x")
    disable(office.keeper, court, "案件已审结")
    disable(office.keeper, "钱其他", "调离")
    with pytest.raises(AccessRefused, match="no valid grant"):  # the court's grant, named
        export(office.keeper, f"evidence:{office.evidence[4]}", tmp_path / "out", grant.id)
    with pytest.raises(AccessRefused, match="not mapped"):
        view(office.other, office.evidence[4])


def test_a_supervisory_body_is_refused_only_on_a_statutory_ground(office: Office) -> None:
    """AC-4 (Gansu-Eco 第47条): 监察、司法等部门 cannot be refused except on statutory grounds."""
    scope = f"evidence:{office.evidence[0]}"
    court = office.outsider("某区人民法院", "court")
    filed = file_request(
        office.keeper,
        scope,
        "copy",
        "审理需要",
        court,
        office.documents("unit_letter", "applicant_id"),
    )
    assert filed.id is not None
    with pytest.raises(AccessRefused, match="statutory grounds"):
        grants.deny(office.boss, filed.id, "不想给")
    denied = grants.deny(office.boss, filed.id, "涉密", statutory_ground="国家秘密")
    assert denied.status == "denied"
    assert last_entry(office.vault).detail["statutory_ground"] == "国家秘密"
    party = office.outsider("当事人甲", "party")
    asked = file_request(  # AC-5 (issue 18): the unit letter and the ID
        office.keeper,
        scope,
        "view",
        "了解情况",
        party,
        office.documents("unit_letter", "applicant_id"),
    )
    assert asked.id is not None
    assert grants.deny(office.boss, asked.id, "无正当理由").status == "denied"


# The same acts through the service API (issue 13): the policy decides, the operation
# applies its scope.

KEEPER = api.Caller(1000, "keeper", system=False)
BOSS = api.Caller(1001, "boss", system=False)
HANDLER = api.Caller(1002, "handler", system=False)
OTHER = api.Caller(1003, "other", system=False)


def call(office: Office, caller: api.Caller, op: str, **params: object) -> api.Reply:
    ops.known_operations()  # registers the operations
    reply = api.run(office.vault, caller, op, params, remote=True)
    reply.cleanup()
    return reply


def test_an_officer_lists_only_his_own_requests_and_grants(office: Office) -> None:
    """Scope own (policy.py): the requests he filed or asked for, the grants he holds."""
    court = office.outsider("法院丁", "court")
    papers = {"unit_letter", "applicant_id"}
    theirs = file_request(
        office.keeper, f"evidence:{office.evidence[3]}", "copy", "审判", court,
        office.documents(*papers),
    )  # fmt: skip
    mine = file_request(office.handler, f"evidence:{office.evidence[3]}", "view", "核对", None, [])
    others = file_request(office.other, f"evidence:{office.evidence[4]}", "view", "培训", None, [])
    for filed in (theirs, mine, others):
        assert filed.id is not None
        grants.approve(office.boss, filed.id, "同意")

    listed = call(office, HANDLER, "access.requests")
    assert listed.ok and [r["request_id"] for r in listed.result] == [mine.id]
    assert [g["grantee"] for g in call(office, HANDLER, "access.grants").result] == ["赵办案"]
    assert call(office, HANDLER, "access.grants", mine=True).result == (
        call(office, HANDLER, "access.grants").result
    )
    everything = call(office, KEEPER, "access.requests", status="approved")
    assert [r["request_id"] for r in everything.result] == [theirs.id, mine.id, others.id]
    assert len(call(office, KEEPER, "access.grants").result) == 3
    assert call(office, KEEPER, "access.grants", mine=True).result == []  # he holds none
    refused = call(office, HANDLER, "access.log")  # the register is not an officer's
    assert refused.exit_code == 3 and "access.log" in (refused.error or "")
    assert last_entry(office.vault).detail["attempt"] == "access.log"


def test_a_request_through_the_service_seals_the_documents_under_their_own_names(
    office: Office,
) -> None:
    court = office.outsider("法院戊", "court")
    documents = [
        {"text": "unit_letter=/scans/介绍信.pdf", "input": "document-0", "file_name": "介绍信.pdf"},
        {"text": "applicant_id=/scans/id.pdf", "input": "document-1", "file_name": "id.pdf"},
    ]
    ops.known_operations()
    params = {
        "scope": f"evidence:{office.evidence[0]}",
        "action": "copy",
        "reason": "审判",
        "requester": court,
        "documents": documents,
    }
    inputs = {"document-0": b"%PDF letter", "document-1": b"%PDF id"}
    filed = api.run(office.vault, KEEPER, "access.request", params, inputs, remote=True)
    assert filed.ok, filed.error
    with office.vault.session() as session:
        sealed = {d.kind: d for d in session.exec(select(AccessDocument))}
    assert {k: d.file_name for k, d in sealed.items()} == {
        "unit_letter": "介绍信.pdf",
        "applicant_id": "id.pdf",
    }
    assert sealed["unit_letter"].sha256 == hashlib.sha256(b"%PDF letter").hexdigest()
    bad = dict(params, documents=[{"text": "letter=/scans/x.pdf", "input": None}])
    refused = api.run(office.vault, KEEPER, "access.request", bad, remote=True)
    assert refused.exit_code == 1 and "give KIND=FILE" in (refused.error or "")
    absent = dict(params, documents=[{"text": "unit_letter=/scans/none.pdf", "input": None}])
    missing = api.run(office.vault, KEEPER, "access.request", absent, remote=True)
    assert missing.exit_code == 1 and "/scans/none.pdf does not exist" in (missing.error or "")


def test_principals_map_only_os_users_of_this_machine(office: Office) -> None:
    added = call(office, KEEPER, "principal.add", name="孙新", roles=["officer"], user="nobody")
    assert added.ok and added.result["os_user"] == "nobody"
    unknown = "no-such-user-evault"
    refused = call(office, KEEPER, "principal.add", name="周无", user=unknown)
    assert refused.exit_code == 1 and refused.error == (
        f"no OS user {unknown!r} on this machine: create the account first, then map it"
    )
    remapped = call(office, KEEPER, "principal.map", os_user=unknown, name="孙新")
    assert remapped.exit_code == 1 and "no OS user" in (remapped.error or "")
    with office.vault.session() as session:
        names = set(session.exec(select(Principal.name)))
        assert "周无" not in names
        assert session.exec(select(Principal).where(Principal.name == "孙新")).one().os_user == (
            "nobody"
        )
    not_keeper = call(office, OTHER, "principal.add", name="吴某", user="nobody")
    assert not_keeper.exit_code == 3 and "records_keeper" in (not_keeper.error or "")
    assert call(office, OTHER, "access.sign").exit_code == 3  # the service account's only


def test_only_the_vaults_own_account_bootstraps_an_empty_vault(vault: Vault) -> None:
    """Scope empty: a user over the socket cannot make himself the first records keeper."""
    ops.known_operations()
    params = {"name": "甲", "roles": ["records_keeper"]}
    intruder = api.Caller(1000, "intruder", system=False)
    refused = api.run(vault, intruder, "principal.add", params, remote=True)
    assert refused.exit_code == 3 and "records_keeper" in (refused.error or "")
    with vault.session() as session:
        assert session.exec(select(Principal)).first() is None
        (entry,) = register.entries(session)
    assert (entry.event, entry.os_user, entry.what) == ("refused", "intruder", "principal.add")
    system = api.Caller(0, "root", system=True)
    first = api.run(vault, system, "principal.add", params)
    assert first.ok and first.result["os_user"] == "root", first.error
    again = api.run(vault, system, "principal.add", {"name": "乙", "roles": ["records_keeper"]})
    assert again.ok, again.error  # root is now 甲, the records keeper
    with vault.session() as session:
        assert session.exec(select(Principal).where(Principal.name == "乙")).one().os_user is None
