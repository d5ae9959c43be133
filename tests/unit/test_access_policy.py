"""The rules of access as pure functions: documents by requester type (AC-4..AC-6) and what
confidentiality markings rule out (AC-9)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from vault.access.policy import marking_refusal, missing_documents, needs_redaction, parse_scope
from vault.access.principals import AGENCIES, KINDS, parse_kind
from vault.config import REQUESTER_KINDS
from vault.db.models import Evidence, Principal
from vault.errors import Conflict

AT = datetime(2026, 11, 23, tzinfo=UTC)


@pytest.mark.parametrize("kind", AGENCIES)
def test_agencies_present_a_unit_letter_and_the_applicants_id(kind: str) -> None:
    """AC-4: 公安、检察院、法院、国家安全、纪检监察、司法行政、审计."""
    assert missing_documents(kind, set()) == ["unit_letter (介绍信)", "applicant_id (身份证件)"]
    assert missing_documents(kind, {"unit_letter"}) == ["applicant_id (身份证件)"]
    assert missing_documents(kind, {"unit_letter", "applicant_id"}) == []


def test_a_party_presents_a_unit_letter_and_the_id_and_a_natural_person_the_id() -> None:
    """AC-5 (issue 18, Pingdingshan 第7条: 凭单位介绍信及申请人有效身份证件)."""
    assert missing_documents("party", set()) == ["unit_letter (介绍信)", "applicant_id (身份证件)"]
    assert missing_documents("party", {"unit_letter"}) == ["applicant_id (身份证件)"]
    assert missing_documents("party", {"unit_letter", "applicant_id"}) == []
    assert missing_documents("natural_person", set()) == ["applicant_id (身份证件)"]
    assert missing_documents("natural_person", {"applicant_id"}) == []


def test_the_settings_know_every_requester_kind() -> None:
    """AC-0: `[access.approval]` validates its keys against the same kinds."""
    assert tuple(KINDS) == REQUESTER_KINDS


def test_a_lawyer_presents_id_power_of_attorney_authorisation_and_licence() -> None:
    """AC-5."""
    assert len(missing_documents("lawyer", set())) == 4
    assert missing_documents("lawyer", {"applicant_id", "power_of_attorney", "authorisation"}) == [
        "practising_licence (律师执业证)"
    ]


def test_another_regions_unit_presents_a_letter_and_staff_nothing() -> None:
    """AC-6; AC-3: staff need approval, not documents."""
    assert missing_documents("other_region", set()) == ["unit_letter (介绍信)"]
    assert missing_documents("staff", set()) == []


def test_every_requester_type_has_its_document_rule() -> None:
    for kind in KINDS:
        missing_documents(kind, set())


def test_requester_types_by_chinese_name() -> None:
    assert parse_kind("检察院") == "procuratorate" and parse_kind("律师") == "lawyer"
    with pytest.raises(Conflict, match="unknown requester type"):
        parse_kind("记者")


def evidence(*markings: str) -> Evidence:
    return Evidence(id=7, confidentiality=list(markings) or None, docked_at=AT, sealed_at=AT)


def principal(kind: str) -> Principal:
    return Principal(name=kind, kind=kind, created_at=AT, created_by="t")


@pytest.mark.parametrize("kind", ["party", "lawyer"])
def test_state_secret_is_never_granted_to_a_party_or_lawyer(kind: str) -> None:
    """AC-9."""
    refusal = marking_refusal(evidence("state_secret"), principal(kind), "view")
    assert refusal is not None and "国家秘密" in str(refusal)


def test_state_secret_does_not_rule_out_a_court_or_staff() -> None:
    assert marking_refusal(evidence("state_secret"), principal("court"), "copy") is None
    assert marking_refusal(evidence("state_secret"), principal("staff"), "export") is None


def test_commercial_secrets_let_a_lawyer_view_but_not_copy() -> None:
    """AC-9."""
    assert marking_refusal(evidence("commercial_secret"), principal("lawyer"), "view") is None
    assert marking_refusal(evidence("commercial_secret"), principal("lawyer"), "copy") is not None


@pytest.mark.parametrize("kind", ["party", "lawyer", "other_region"])
def test_privacy_lets_a_party_copy_only_as_a_redacted_copy(kind: str) -> None:
    """AC-9 (issue 20): a privacy-marked record is copied to them redacted, never whole;
    the view on site stays as it was."""
    marked = evidence("privacy")
    assert marking_refusal(marked, principal(kind), "copy") is None
    assert needs_redaction(marked, principal(kind), "copy", asked=False)
    assert not needs_redaction(marked, principal(kind), "view", asked=False)


def test_privacy_leaves_a_court_and_staff_the_original_unless_asked() -> None:
    for kind in ("court", "staff"):
        assert not needs_redaction(evidence("privacy"), principal(kind), "export", asked=False)
        assert needs_redaction(evidence(), principal(kind), "export", asked=True)


def test_scopes_name_one_record_or_a_case() -> None:
    assert str(parse_scope("evidence:12")) == "evidence:12"
    assert str(parse_scope("case:环罚〔2026〕12号")) == "case:环罚〔2026〕12号"
    for bad in ("evidence:x", "file:1", "case:", "12"):
        with pytest.raises(Conflict):
            parse_scope(bad)
