"""The rules of access: which documents a requester presents, what a confidentiality
marking rules out, and which grant (or case duty) covers a view or a copy.

AC-2: a case handler views the case's footage without a request; any copy needs approval.
AC-3: other staff need approval. AC-4..AC-6: outsiders present documents by type.
AC-8: nothing leaves the vault without an approved request. AC-9: markings narrow grants.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from vault.access.principals import AGENCIES, KINDS, PARTIES, STAFF, handled_case_ids
from vault.cases.cases import get_case
from vault.cases.retention import case_evidence
from vault.db.models import AccessGrant, Case, CaseLink, Evidence, Principal, RegisterEntry
from vault.errors import AccessRefused, Conflict, NotFound
from vault.i18n import N_, Named, Phrase, _

ACTIONS = ("view", "copy", "export")
DOCUMENTS = {
    "unit_letter": "介绍信",
    "applicant_id": "身份证件",
    # Pingdingshan 第7条: 代理律师应提供委托书、授权书、律师执业证 (named as it names them).
    "power_of_attorney": "委托书",
    "authorisation": "授权书",
    "practising_licence": "律师执业证",
}
# Each inner tuple is one requirement, met by any one of its documents.
_AGENCY = (("unit_letter",), ("applicant_id",))  # AC-4
REQUIRED_DOCUMENTS: dict[str, tuple[tuple[str, ...], ...]] = {
    STAFF: (),  # AC-3: approval, no documents
    **{kind: _AGENCY for kind in AGENCIES},
    "superior": _AGENCY,  # AC-4: a body, as the agencies: its letter and the applicant's ID
    # AC-5 (Pingdingshan 第7条): 凭单位介绍信及申请人有效身份证件 — both; a natural person
    # has no unit: the ID.
    "party": _AGENCY,
    "natural_person": (("applicant_id",),),
    # AC-5: a lawyer's ID, 委托书, 授权书 and 律师执业证
    "lawyer": (
        ("applicant_id",),
        ("power_of_attorney",),
        ("authorisation",),
        ("practising_licence",),
    ),
    "other_region": (("unit_letter",),),  # AC-6: a letter
}
# AC-4 (Gansu-Eco 第47条): supervisory and judicial bodies (监察、司法等部门) may not be refused
# except on statutory grounds such as state secrets (国家秘密等法定事由).
# The superior enforcement body (上级行政执法主体, Gansu-Eco 第47条, Gansu-Radio 第24条) too.
SUPERVISORY = ("procuratorate", "court", "discipline", "judicial_admin", "audit", "superior")
MARKINGS = {"state_secret": "国家秘密", "commercial_secret": "商业秘密", "privacy": "个人隐私"}
_PRIVATE_PARTIES = PARTIES
# AC-9 (issue 20): who receives a privacy-marked record only as a redacted copy (faces and
# what the reviewer boxed hidden, sound muted): the parties, their lawyers and another
# region's unit. Supervisory and judicial bodies and this unit's staff get the original.
REDACTED_FOR = (*PARTIES, "other_region")


def describe_document(kind: str) -> str:
    return f"{kind} ({DOCUMENTS[kind]})"


def missing_documents(requester_kind: str, presented: set[str]) -> list[str]:
    """What the requester still has to present, one line per unmet requirement."""
    missing = []
    for choice in REQUIRED_DOCUMENTS[requester_kind]:
        if not presented & set(choice):
            missing.append(" or ".join(describe_document(k) for k in choice))
    return missing


def _kind(kind: str) -> Named:
    """A requester's kind: its code in English, its name (公安, 律师 ...) in Chinese."""
    return Named(kind, KINDS.get(kind, kind))


def marking_refusal(evidence: Evidence, requester: Principal, action: str) -> Phrase | None:
    """Why a marking rules this requester out (AC-9), or None."""
    markings = set(evidence.confidentiality or [])
    if requester.kind not in _PRIVATE_PARTIES:
        return None
    if "state_secret" in markings:
        return Phrase(
            N_("evidence {id} is marked {marking}: it is never granted to a {kind} (AC-9)"),
            id=evidence.id,
            marking=Named("state_secret (国家秘密)", "国家秘密"),
            kind=_kind(requester.kind),
        )
    # privacy is no refusal here: a copy goes out redacted (needs_redaction, at its use).
    if "commercial_secret" in markings and action != "view":
        return Phrase(
            N_(
                "evidence {id} is marked {marking}: a {kind} may view it on site but not copy "
                "or export it (AC-9)"
            ),
            id=evidence.id,
            marking=Named("commercial_secret", "商业秘密"),
            kind=_kind(requester.kind),
        )
    return None


def needs_redaction(evidence: Evidence, requester: Principal, action: str, asked: bool) -> bool:
    """Whether a copy or export of this record goes out as its redacted copy: always when
    the request asks for it, and for a privacy-marked record to a party, a lawyer or
    another region (AC-9)."""
    if action == "view":
        return False
    private = "privacy" in (evidence.confidentiality or [])
    return asked or (private and requester.kind in REDACTED_FOR)


def redaction_refusal(evidence: Evidence, requester: Principal, asked: bool, why: object) -> Phrase:
    """The refusal of a copy that must be redacted and cannot be (AC-9)."""
    because = (
        Phrase(N_("the request asks for a redacted copy"))
        if asked and "privacy" not in (evidence.confidentiality or [])
        else Phrase(
            N_("it is marked {marking}: a {kind} receives only a redacted copy"),
            marking=Named("privacy (个人隐私)", "个人隐私"),
            kind=_kind(requester.kind),
        )
    )
    return Phrase(
        N_(
            "evidence {id}: {because}, and {why}; a records keeper makes one first: "
            "{command} (AC-9)"
        ),
        id=evidence.id,
        because=because,
        why=why,
        command=f"evault evidence redact {evidence.id} --faces --render",
    )


@dataclass(frozen=True)
class Scope:
    kind: str  # evidence | case
    ref: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.ref}"


def parse_scope(text: str) -> Scope:
    kind, sep, ref = text.partition(":")
    if not sep or kind not in ("evidence", "case") or not ref:
        raise Conflict(
            N_("scope {text}: give {evidence} or {case}"),
            text=repr(text),
            evidence="evidence:ID",
            case="case:NUMBER",
        )
    if kind == "evidence" and not ref.isdigit():
        raise Conflict(N_("scope {text}: an evidence id is a number"), text=repr(text))
    return Scope(kind, ref)


def scope_evidence(session: Session, scope: Scope) -> list[Evidence]:
    """The (not purged) evidence a scope names now: one record, or a case's linked records."""
    if scope.kind == "evidence":
        evidence = session.get(Evidence, int(scope.ref))
        if evidence is None or evidence.purged_at is not None:
            raise NotFound(N_("no evidence {id}"), id=scope.ref)
        return [evidence]
    found = case_evidence(session, get_case(session, scope.ref))
    if not found:
        raise NotFound(N_("case {number} has no evidence linked to it"), number=repr(scope.ref))
    return found


def party_scope_refusal(
    session: Session, requester: Principal, evidence: list[Evidence]
) -> Phrase | None:
    """Why a party (or its lawyer) may not have this scope, or None (AC-5, Pingdingshan
    第7条: 查阅本单位（人）的...结论性文件及音视频资料): only footage of its own case."""
    if requester.kind not in PARTIES:
        return None
    if requester.case_id is None:
        return Phrase(
            N_(
                "a {kind} sees only the footage of its own case, and {name} has none named: "
                "a records keeper adds the principal with {option} (AC-5)"
            ),
            kind=_kind(requester.kind),
            name=requester.name,
            option="--case NUMBER",
        )
    own = {e.id for e in case_evidence(session, session.get_one(Case, requester.case_id))}
    outside = sorted(e.id for e in evidence if e.id not in own and e.id is not None)
    if outside:
        number = session.get_one(Case, requester.case_id).number
        return Phrase(
            N_(
                "a {kind} sees only the footage of its own case {number}: evidence {ids} is "
                "not linked to it (AC-5)"
            ),
            kind=_kind(requester.kind),
            number=number,
            ids=", ".join(map(str, outside)),
        )
    return None


def _scope_covers(session: Session, grant: AccessGrant, evidence_ids: set[int]) -> bool:
    """A grant covers what its scope held when it was approved (frozen), never more; and of
    that, for a case, only what is still linked to it (a clip unlinked as the wrong case
    leaves the case's grants with it)."""
    scope = Scope(*grant.scope.split(":", 1))
    try:
        covered = {e.id for e in scope_evidence(session, scope)}
    except NotFound:
        return False
    if grant.evidence_ids is not None:
        covered &= set(grant.evidence_ids)
    return evidence_ids <= covered


def handles(session: Session, principal: Principal, evidence_id: int) -> bool:
    """Whether the principal handles a case this evidence is linked to (AC-2)."""
    cases = handled_case_ids(session, principal)
    if not cases:
        return False
    query = select(CaseLink.id).where(
        CaseLink.evidence_id == evidence_id,
        col(CaseLink.case_id).in_(cases),
        col(CaseLink.unlinked_at).is_(None),
    )
    return session.exec(query).first() is not None


def may_use(grant: AccessGrant, caller: Principal, grantee: Principal) -> bool:
    """The grantee uses a grant; for an outside grantee the records keeper hands over."""
    if grantee.disabled_at is not None:
        return False
    if grant.grantee_id == caller.id:
        return True
    return grantee.kind != STAFF and "records_keeper" in caller.roles


def grant_problem(grant: AccessGrant, now: datetime) -> Phrase | None:
    if grant.revoked_at is not None:
        return Phrase(
            N_("grant {id} was revoked: {reason}"), id=grant.id, reason=grant.revoke_reason
        )
    if grant.expires_at <= now:
        return Phrase(
            N_("grant {id} expired at {at}"), id=grant.id, at=grant.expires_at.isoformat()
        )
    return None


def revoked_in_register(session: Session, grant: AccessGrant) -> Phrase | None:
    """A grant the register revoked stays revoked, whatever its row says now (issue 15: a
    revocation undone in SQL lets nothing out; `evault verify` reports the row)."""
    entry = session.exec(
        select(RegisterEntry.seq).where(
            RegisterEntry.event == "revoke", RegisterEntry.grant_id == grant.id
        )
    ).first()
    if entry is None:
        return None
    return Phrase(N_("grant {id} was revoked (register entry {entry})"), id=grant.id, entry=entry)


def find_grant(
    session: Session,
    caller: Principal,
    evidence: list[Evidence],
    actions: tuple[str, ...],
    now: datetime,
    grant_id: int | None = None,
) -> AccessGrant:
    """The caller's valid grant covering every record for one of the actions, or a refusal
    that says why and which request would be needed."""
    ids = {e.id for e in evidence if e.id is not None}
    if grant_id is not None:
        grant = session.get(AccessGrant, grant_id)
        if grant is None:
            raise AccessRefused(N_("no grant {id}"), id=grant_id)
        candidates = [grant]
    else:
        # Never a grant picked silently: without --grant only the caller's own (issue 13).
        query = select(AccessGrant).where(
            col(AccessGrant.action).in_(actions), AccessGrant.grantee_id == caller.id
        )
        candidates = list(session.exec(query.order_by(col(AccessGrant.id).desc())))
    reasons: list[Phrase] = []
    for grant in candidates:
        grantee = session.get_one(Principal, grant.grantee_id)
        mismatch: Phrase
        if grant.action not in actions:
            mismatch = Phrase(
                N_("grant {id} is for {action}, not {wanted}"),
                id=grant.id,
                action=Named(grant.action, ACTION_WORDS.get(grant.action, grant.action)),
                wanted=Named(actions[0], ACTION_WORDS.get(actions[0], actions[0])),
            )
        elif not may_use(grant, caller, grantee):
            mismatch = Phrase(
                N_("grant {id} is {owner}'s, not {caller}'s"),
                id=grant.id,
                owner=grantee.name,
                caller=caller.name,
            )
        elif not _scope_covers(session, grant, ids):
            mismatch = Phrase(
                N_(
                    "grant {id} ({scope}) does not cover this: it covers what the scope held "
                    "when it was approved; a record linked later needs a new request"
                ),
                id=grant.id,
                scope=grant.scope,
            )
        else:
            # The caller's grant for this very evidence: say exactly what stops it.
            problem = grant_problem(grant, now) or revoked_in_register(session, grant)
            for record in evidence:
                problem = problem or marking_refusal(record, grantee, grant.action)
            problem = problem or party_scope_refusal(session, grantee, evidence)
            if problem is None:
                return grant
            reasons.append(problem)
            continue
        reasons.append(mismatch)
    scope = f"evidence:{evidence[0].id}" if len(evidence) == 1 else "case:NUMBER"
    because = Phrase(N_(" ({reasons})"), reasons=_Semicolons(reasons[:3])) if reasons else ""
    raise AccessRefused(
        N_(
            "{who} holds no valid grant to {action} evidence {ids}{because}; request one: {command}"
        ),
        who=caller.name,
        action=Named(actions[0], ACTION_WORDS.get(actions[0], actions[0])),
        ids=", ".join(map(str, sorted(ids))),
        because=because,
        command=f"evault access request --scope {scope} --action {actions[0]} --reason ...",
    )


class _Semicolons(Phrase):
    def __init__(self, items: list[Phrase]) -> None:
        super().__init__("")
        self.items = items

    def __str__(self) -> str:
        return _("; ").join(str(item) for item in self.items)


# The actions a grant gives, for the reader (as vault.access.wording words them).
ACTION_WORDS = {"view": "查阅", "copy": "复制", "export": "导出"}


def refusal_needs_ground(requester_kind: str, statutory_ground: str | None) -> Phrase | None:
    """Why a denial may not go ahead as asked, or None (AC-4)."""
    if requester_kind in SUPERVISORY and not (statutory_ground or "").strip():
        return Phrase(
            N_(
                "a {kind} request may be refused only on statutory grounds such as state "
                "secrets ({articles}); name it with {option}"
            ),
            kind=_kind(requester_kind),
            articles=Named(
                "Gansu-Eco 第47条, Gansu-Radio 第24条",
                "甘肃生态环境执法规定第47条、甘肃广播电视执法规定第24条",
            ),
            option="--statutory-ground",
        )
    return None
