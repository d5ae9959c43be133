"""Principals and roles (AC-1: permissions follow duties).

Staff act through the CLI as the principal their OS user is mapped to (`evault principal
map`), never as a name given on the command line. Outside requesters (agencies, parties,
lawyers, other regions' units) are principals without an OS user, filed by the records
keeper. The very first principal is a records keeper mapped to whoever creates it: from
then on only a records keeper adds principals and maps users.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from vault.access import register
from vault.cases.cases import get_case
from vault.config import APPROVAL_LEVELS
from vault.context import Vault
from vault.db.models import Case, CaseHandler, Officer, Principal
from vault.db.upsert import upsert_officer
from vault.errors import AccessRefused, Conflict, NotFound, UsageError
from vault.i18n import N_, Named, Phrase, either, joined
from vault.timeutil import iso

STAFF = "staff"
# Staff roles. An approver also carries the level it approves at (AC-0, vault.access.approval).
ROLES = {
    "officer": "执法人员",
    "records_keeper": "档案管理员",
    "approver": "审批负责人",
    "legal": "法制机构",
    "auditor": "审计监督",
}
# Who may ask: this unit's staff, or an outside requester by organisation type (AC-4..AC-6).
KINDS = {
    STAFF: "本单位工作人员",
    "public_security": "公安",
    "procuratorate": "检察院",
    "court": "法院",
    "state_security": "国家安全",
    "discipline": "纪检监察",
    "judicial_admin": "司法行政",
    "audit": "审计",
    "superior": "上级行政执法主体",  # AC-4: Gansu-Eco 第47条, Gansu-Radio 第24条
    "party": "当事人",  # an organisation: its unit letter and the applicant's ID (AC-5)
    "natural_person": "当事人（自然人）",  # a natural person: the ID (AC-5)
    "lawyer": "律师",
    "other_region": "异地执法单位",
}
AGENCIES = (
    "public_security",
    "procuratorate",
    "court",
    "state_security",
    "discipline",
    "judicial_admin",
    "audit",
)
# AC-5: requesters who see only the case they are party to (Pingdingshan 第7条).
PARTIES = ("party", "natural_person", "lawyer")


def parse_kind(value: str) -> str:
    """An organisation type by its key or its Chinese name (公安, 律师 ...)."""
    for key, label in KINDS.items():
        if value in (key, label):
            return key
    known = ", ".join(f"{k} ({v})" for k, v in KINDS.items())
    raise Conflict(
        N_("unknown requester type {kind}; known: {known}"), kind=repr(value), known=known
    )


def get_principal(session: Session, name: str) -> Principal:
    found = session.exec(select(Principal).where(Principal.name == name)).first()
    if found is None:
        raise NotFound(
            N_("no principal {name} (see {command})"),
            name=repr(name),
            command="evault principal list",
        )
    return found


def current(vault: Vault, session: Session) -> Principal:
    """The principal acting: at the CLI the one mapped to this OS user, in the web console
    the one it authenticated."""
    found = vault.acting_principal(session)
    if found is None or found.disabled_at is not None:
        raise AccessRefused(
            N_("OS user {user} is not mapped to a principal; a records keeper runs `{command}`"),
            user=repr(vault.user),
            command=f"evault principal map {vault.user} NAME",
        )
    return found


def require_role(principal: Principal, roles: tuple[str, ...], doing: str) -> None:
    if not set(roles) & set(principal.roles):
        raise AccessRefused(
            N_("{doing} needs the {wanted} role; {name} has {has}"),
            doing=Phrase(doing),
            wanted=either([role_name(r) for r in roles]),
            name=principal.name,
            has=roles_held(principal.roles),
        )


def role_name(role: str) -> Named:
    """A role by its code, or by its Chinese name where the reader reads Chinese."""
    return Named(role, ROLES.get(role, role))


def roles_held(roles: list[str] | None) -> Phrase:
    """The roles a principal holds, in the reader's language ("no role" where none)."""
    return joined([role_name(r) for r in roles]) if roles else Phrase(N_("no role"))


def handled_case_ids(session: Session, principal: Principal) -> set[int]:
    """The cases whose handler this principal is (AC-2)."""
    if principal.officer_pk is None:
        return set()
    query = select(CaseHandler.case_id).where(CaseHandler.officer_pk == principal.officer_pk)
    return set(session.exec(query))


def add_principal(
    vault: Vault,
    name: str,
    kind: str,
    roles: list[str],
    unit: str | None = None,
    officer: str | None = None,
    id_number: str | None = None,
    os_user: str | None = None,
    approver_level: str | None = None,
    case: str | None = None,
) -> Principal:
    """Add a principal; the first one ever is the records keeper who bootstraps the vault."""
    kind = parse_kind(kind)
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise Conflict(
            N_("unknown role {role}; known: {known}"), role=repr(unknown[0]), known=", ".join(ROLES)
        )
    if kind != STAFF and (roles or os_user or officer):
        raise Conflict(N_("outside requesters have no roles, OS user or badge: only staff do"))
    if approver_level is not None:
        _check_level(approver_level)
        if "approver" not in roles:
            raise Conflict(
                N_("{option} is for a principal with the approver role"), option="--approver-level"
            )
    if case is not None and kind not in PARTIES:
        raise Conflict(
            N_("{option} names a party's own case: for {kinds} only"),
            option="--case",
            kinds=", ".join(PARTIES),
        )
    with register.refusals_registered(vault, "principal.add", who=name), vault.session() as session:
        first = session.exec(select(Principal).limit(1)).first() is None
        if first:
            if kind != STAFF or "records_keeper" not in roles:
                raise Conflict(
                    N_(
                        "the first principal bootstraps the vault: it must be staff with "
                        "{option} (it is mapped to you, OS user {user})"
                    ),
                    option="--role records_keeper",
                    user=repr(vault.user),
                )
            os_user, actor = vault.user, name
        else:
            caller = current(vault, session)
            require_role(caller, ("records_keeper",), N_("adding a principal"))
            actor = caller.name
        if session.exec(select(Principal).where(Principal.name == name)).first():
            raise Conflict(N_("principal {name} already exists"), name=repr(name))
        _check_user_free(session, os_user)
        principal = Principal(
            name=name,
            kind=kind,
            roles=sorted(set(roles)),
            unit=unit,
            officer_pk=upsert_officer(session, officer, unit).id if officer else None,
            id_number=id_number,
            os_user=os_user,
            approver_level=approver_level,
            case_id=get_case(session, case).id if case else None,
            created_at=vault.clock.now(),
            created_by=actor,
        )
        session.add(principal)
        session.flush()
        register.append(
            vault,
            session,
            "principal",
            who=name,
            unit=unit,
            handled_by=actor,
            what="bootstrap records keeper" if first else f"add {kind}",
            detail={
                "roles": principal.roles,
                "os_user": os_user,
                "officer": officer,
                **({"approver_level": approver_level} if approver_level else {}),
                **({"case": case} if case else {}),
            },
        )
        session.commit()
    return principal


def _check_level(level: str) -> None:
    if level not in APPROVAL_LEVELS:
        raise UsageError(
            N_("unknown approval level {level}; known: {known}"),
            level=repr(level),
            known=", ".join(APPROVAL_LEVELS),
        )


def set_level(vault: Vault, name: str, level: str) -> Principal:
    """Set an approver's level (AC-0): a records keeper's act, registered."""
    _check_level(level)
    with (
        register.refusals_registered(vault, "principal.level", who=name),
        vault.session() as session,
    ):
        caller = current(vault, session)
        require_role(caller, ("records_keeper",), N_("setting an approval level"))
        principal = get_principal(session, name)
        if "approver" not in principal.roles:
            raise Conflict(
                N_("{name} has no approver role: an approval level is an approver's"),
                name=repr(name),
            )
        previous, principal.approver_level = principal.approver_level, level
        session.add(principal)
        register.append(
            vault,
            session,
            "principal",
            who=name,
            unit=principal.unit,
            handled_by=caller.name,
            what=f"approval level {level}",
            detail={"approver_level": level, "previous": previous},
        )
        session.commit()
    return principal


def _check_user_free(session: Session, os_user: str | None) -> None:
    if os_user is None:
        return
    taken = session.exec(select(Principal).where(Principal.os_user == os_user)).first()
    if taken is not None:
        raise Conflict(
            N_("OS user {user} is already mapped to {name}"),
            user=repr(os_user),
            name=repr(taken.name),
        )


def map_user(vault: Vault, os_user: str, name: str) -> Principal:
    """Map an OS user to a staff principal (a records keeper's act, registered)."""
    with register.refusals_registered(vault, "principal.map", who=name), vault.session() as session:
        caller = current(vault, session)
        require_role(caller, ("records_keeper",), N_("mapping an OS user"))
        principal = get_principal(session, name)
        if principal.kind != STAFF:
            raise Conflict(
                N_("{name} is an outside requester: only staff use the CLI"), name=repr(name)
            )
        _check_user_free(session, os_user)
        previous, principal.os_user = principal.os_user, os_user
        session.add(principal)
        register.append(
            vault,
            session,
            "principal",
            who=name,
            unit=principal.unit,
            handled_by=caller.name,
            what=f"map OS user {os_user}",
            detail={"os_user": os_user, "previous": previous},
        )
        session.commit()
    return principal


def disable(vault: Vault, name: str, reason: str) -> Principal:
    """Someone who leaves: no more CLI, no more use of their grants; the rows stay."""
    with (
        register.refusals_registered(vault, "principal.disable", who=name),
        vault.session() as session,
    ):
        caller = current(vault, session)
        require_role(caller, ("records_keeper",), N_("disabling a principal"))
        principal = get_principal(session, name)
        if principal.id == caller.id:
            raise Conflict(N_("a records keeper cannot disable themselves"))
        if principal.disabled_at is not None:
            raise Conflict(
                N_("{name} was disabled on {when}"),
                name=repr(name),
                when=iso(principal.disabled_at),
            )
        principal.disabled_at = vault.clock.now()
        session.add(principal)
        register.append(
            vault,
            session,
            "principal",
            who=name,
            unit=principal.unit,
            handled_by=caller.name,
            what="disable",
            reason=reason,
        )
        session.commit()
    return principal


def principal_json(session: Session, principal: Principal) -> dict[str, Any]:
    officer = session.get(Officer, principal.officer_pk) if principal.officer_pk else None
    return {
        "name": principal.name,
        "kind": principal.kind,
        "kind_label": KINDS[principal.kind],
        "roles": principal.roles,
        "approver_level": principal.approver_level,
        "unit": principal.unit,
        "case": session.get_one(Case, principal.case_id).number if principal.case_id else None,
        "officer": officer.officer_id if officer else None,
        "os_user": principal.os_user,
        "created_at": iso(principal.created_at),
        "created_by": principal.created_by,
        "disabled_at": iso(principal.disabled_at),
    }


def list_principals(session: Session) -> list[dict[str, Any]]:
    rows = session.exec(select(Principal).order_by(col(Principal.name)))
    return [principal_json(session, p) for p in rows]
