"""Permitted stops (RC-4): the grounds both documents name, each with its work record (工作记录:
the reason and its basis, written after the activity) reviewed by a supervisor and filed.

- Xiangxi 第11条: a witness's or informant's request (举报人、证人等明确要求), public
  transport, state or commercial secrets or personal privacy, weather, other; for (一) and
  (三) the requester *may* be asked to sign (可以要求): a statement is optional and, when
  there is one, attached (sealed in the WORM store like an access request's documents, its
  SHA-256 recorded). Reviewed by the 分管领导.
- Pingdingshan 第12条: device fault, damage, flat battery or full storage; bad weather;
  obstruction; force majeure. The work record is reviewed by the unit's 主要领导.

Who reviews which ground is a matter of level (AC-0): `reviewer_may_approve` is the one
place that decides it. Today it keeps the approver role; the settings' approval matrix
(`stop_level(settings, ground)`, issue 18 part 1) slots in there.

An approved record that covers an interruption is its written reason (RC-3).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from vault.access import approval
from vault.access.principals import current, roles_held
from vault.compliance.reasons import acting_name
from vault.config import Settings
from vault.context import Vault
from vault.db import audit
from vault.db.models import Device, Officer, Principal, StopRecord
from vault.errors import AccessRefused, Conflict, NotFound, VolumeError
from vault.i18n import N_, Phrase
from vault.sealing import seals
from vault.timeutil import iso

STOP_REASONS = {
    "witness_request": "举报人、证人等明确要求停止使用",
    "public_transport": "在公共交通工具上无法使用",
    "secrets": "涉及国家秘密、商业秘密",
    "privacy": "涉及个人隐私",
    "weather": "因天气等自然原因无法使用",
    "device_fault": "设备故障、损坏或者电量不足、存储空间不足",
    "obstruction": "行政管理相对人或其他人员阻碍正常执法无法继续使用",
    "force_majeure": "其他不可抗力因素不能使用",
    "other": "其他情况不能使用",
}


@dataclass(frozen=True)
class Ground:
    """Where a ground of a stop is written, and who reviews its work record there."""

    articles: tuple[str, ...]
    reviewer: str  # the document's words for the reviewing level
    statement: bool  # the document lets the requester's signed statement be asked for


XIANGXI, PINGDINGSHAN = "分管领导", "本单位主要领导"
GROUNDS = {
    "witness_request": Ground(("Xiangxi 第11条（一）",), XIANGXI, True),
    "public_transport": Ground(("Xiangxi 第11条（二）",), XIANGXI, False),
    "secrets": Ground(("Xiangxi 第11条（三）",), XIANGXI, True),
    "privacy": Ground(("Xiangxi 第11条（三）",), XIANGXI, True),
    "weather": Ground(("Xiangxi 第11条（四）", "Pingdingshan 第12条（二）"), XIANGXI, False),
    "device_fault": Ground(("Pingdingshan 第12条（一）",), PINGDINGSHAN, False),
    "obstruction": Ground(("Pingdingshan 第12条（三）",), PINGDINGSHAN, False),
    "force_majeure": Ground(("Pingdingshan 第12条（四）",), PINGDINGSHAN, False),
    "other": Ground(("Xiangxi 第11条（五）",), XIANGXI, False),
}
# The grounds Xiangxi 第11条 lets the requester sign for (optional: 可以要求).
STATEMENT_GROUNDS = tuple(code for code, ground in GROUNDS.items() if ground.statement)
# The objective causes of an interruption (Gansu-Eco 第42条, Pingdingshan 第12条): a stop on
# one of these that never resumed is an interruption that could not be resumed (RC-3).
OBJECTIVE = ("device_fault", "weather", "obstruction", "force_majeure")
# Stop times are written by hand, to the minute: a record covers a gap within this slack.
COVER_SLACK = timedelta(seconds=60)
CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Statement:
    file_name: str
    sha256: str
    size: int
    key: str
    version: str | None


def seal_statement(vault: Vault, path: Path) -> Statement:
    """Stream the signed statement into the WORM store, hashing the bytes that are stored."""
    digest, size = hashlib.sha256(), 0
    writer = vault.store.begin_put()
    try:
        with path.open("rb") as source:
            while chunk := source.read(CHUNK):
                digest.update(chunk)
                writer.write(chunk)
                size += len(chunk)
        until = vault.clock.now() + timedelta(days=366 * vault.settings.access.document_years)
        put = writer.commit(digest.hexdigest(), size, until)
    except OSError as exc:
        writer.abort()
        raise VolumeError(
            N_("cannot read statement {path}: {problem}"), path=path, problem=exc.strerror or exc
        ) from exc
    except BaseException:
        writer.abort()
        raise
    return Statement(path.name[:255], digest.hexdigest(), size, put.key, put.version)


def _device(session: Session, device_id: str) -> Device:
    found = session.exec(select(Device).where(Device.device_id == device_id)).first()
    if found is None:
        raise NotFound(N_("no camera {camera} in the records"), camera=repr(device_id))
    return found


def _officer(session: Session, officer_id: str) -> Officer:
    found = session.exec(select(Officer).where(Officer.officer_id == officer_id)).first()
    if found is None:
        raise NotFound(N_("no officer {badge} in the records"), badge=repr(officer_id))
    return found


def add_stop(
    vault: Vault,
    *,
    device_id: str,
    officer_id: str,
    stop_from: datetime,
    stop_to: datetime,
    reason: str,
    basis: str,
    statement: Path | None,
) -> StopRecord:
    """File a stop record (pending until a supervisor approves it)."""
    if reason not in STOP_REASONS:
        raise Conflict(
            N_("unknown stop reason {reason}; use one of {known}"),
            reason=repr(reason),
            known=", ".join(STOP_REASONS),
        )
    if stop_to <= stop_from:
        raise Conflict(N_("{to} must be after {since}"), to="--to", since="--from")
    if not basis.strip():
        raise Conflict(
            N_("{option} is required: the rule or instruction the stop rests on"),
            option="--basis",
        )
    # Xiangxi 第11条: the requester's signature *may* be asked for; a statement is never
    # required, and any stop's work record may carry one.
    if statement is not None and not statement.is_file():
        raise VolumeError(
            N_("statement file {path} does not exist or is not a file"), path=statement
        )
    with vault.session() as session:  # check the names before sealing anything
        device, officer = _device(session, device_id), _officer(session, officer_id)
        session.commit()
    sealed = seal_statement(vault, statement) if statement is not None else None
    with vault.session() as session:
        now = vault.clock.now()
        assert device.id is not None and officer.id is not None
        row = StopRecord(
            device_pk=device.id,
            officer_pk=officer.id,
            stop_from=stop_from,
            stop_to=stop_to,
            reason=reason,
            basis=basis.strip(),
            filed_by=acting_name(vault, session, "officer"),
            filed_at=now,
        )
        if sealed is not None:
            row.statement_name, row.statement_sha256 = sealed.file_name, sealed.sha256
            row.statement_size, row.statement_key = sealed.size, sealed.key
            row.statement_version = sealed.version
        session.add(row)
        session.flush()
        event = audit.append(
            session,
            vault.actor("compliance"),
            at=now,
            action="compliance.stop_filed",
            subject=f"stop:{row.id}",
            detail={
                "device_id": device_id,
                "officer_id": officer_id,
                "from": iso(stop_from),
                "to": iso(stop_to),
                "reason": reason,
                "basis": row.basis,
                "statement_sha256": row.statement_sha256,
                "by": row.filed_by,
            },
        )
        if row.statement_sha256 is not None:
            session.flush()
            seals.seal_document(vault.store, row.statement_sha256, f"stop:{row.id}", row, event)
        session.commit()
    return row


def reviewer_may_approve(principal: Principal, ground: str, settings: Settings) -> bool:
    """RC-4, AC-0: whether this principal may review a stop record on this ground.

    The one place the level check goes: the approver role, and the level the approval
    matrix of the settings names for the ground (`stop_level(settings, ground)`: Xiangxi
    第11条 the 分管领导, Pingdingshan 第12条 the unit's 主要领导; AC-0)."""
    if "approver" not in principal.roles:
        return False
    return approval.may_decide(principal, approval.stop_level(settings, ground))


def approve_stop(vault: Vault, stop_id: int) -> StopRecord:
    """RC-4: the supervisor's review of the work record, by a principal the ground's level
    allows (reviewer_may_approve), and never the one who filed it."""
    with vault.session() as session:
        approver = current(vault, session)
        row = session.get(StopRecord, stop_id)
        if row is None:
            raise NotFound(N_("no stop record {id}"), id=stop_id)
        if not reviewer_may_approve(approver, row.reason, vault.settings):
            if "approver" not in approver.roles:
                ground = GROUNDS.get(row.reason)
                level = ground.reviewer if ground else "负责人"
                raise AccessRefused(
                    N_(
                        "approving a stop record for {reason} needs the approver role "
                        "({level}); {name} has {has}"
                    ),
                    reason=row.reason,
                    level=level,
                    name=approver.name,
                    has=roles_held(approver.roles),
                )
            approval.require_level(
                vault.settings,
                approver,
                approval.stop_level(vault.settings, row.reason),
                Phrase(N_("approving a stop record for {reason}"), reason=row.reason),
            )
        if row.status == "approved":
            raise Conflict(
                N_("stop record {id} was approved by {who}"), id=stop_id, who=row.approved_by
            )
        if row.filed_by == approver.name:
            raise Conflict(N_("a stop record is approved by a supervisor other than its filer"))
        now = vault.clock.now()
        row.status, row.approved_by, row.approved_at = "approved", approver.name, now
        session.add(row)
        audit.append(
            session,
            vault.actor("compliance"),
            at=now,
            action="compliance.stop_approved",
            subject=f"stop:{stop_id}",
            detail={"by": approver.name, "ground": row.reason},
        )
        session.commit()
    return row


def covering(
    stops: list[StopRecord], device_pk: int, officer_pk: int | None, start: datetime, end: datetime
) -> StopRecord | None:
    """The stop record (approved first) whose span covers an interruption, if any."""
    found = [
        s
        for s in stops
        if s.device_pk == device_pk
        and s.officer_pk == officer_pk
        and s.stop_from <= start + COVER_SLACK
        and s.stop_to >= end - COVER_SLACK
    ]
    found.sort(key=lambda s: (s.status != "approved", s.id or 0))
    return found[0] if found else None


def all_stops(session: Session) -> list[StopRecord]:
    return list(session.exec(select(StopRecord).order_by(col(StopRecord.id))))


def stop_json(session: Session, row: StopRecord) -> dict[str, Any]:
    device = session.get(Device, row.device_pk)
    officer = session.get(Officer, row.officer_pk)
    return {
        "stop_id": row.id,
        "device_id": device.device_id if device else None,
        "officer_id": officer.officer_id if officer else None,
        "from": iso(row.stop_from),
        "to": iso(row.stop_to),
        "reason": row.reason,
        "reason_label": STOP_REASONS.get(row.reason, row.reason),
        "articles": list(GROUNDS[row.reason].articles) if row.reason in GROUNDS else [],
        "reviewed_by_level": GROUNDS[row.reason].reviewer if row.reason in GROUNDS else None,
        "basis": row.basis,
        "statement": (
            {"file_name": row.statement_name, "sha256": row.statement_sha256}
            if row.statement_sha256
            else None
        ),
        "filed_by": row.filed_by,
        "filed_at": iso(row.filed_at),
        "status": row.status,
        "approved_by": row.approved_by,
        "approved_at": iso(row.approved_at),
    }


def never_resumed(
    stops: list[StopRecord],
    device_pk: int,
    officer_pk: int | None,
    start: datetime,
    end: datetime,
) -> StopRecord | None:
    """RC-3: a stop record on an objective cause (device fault, weather, obstruction, force
    majeure) that begins within a session and lasts past its end: recording stopped there
    and was not resumed."""
    found = [
        s
        for s in stops
        if s.reason in OBJECTIVE
        and s.device_pk == device_pk
        and s.officer_pk == officer_pk
        and start - COVER_SLACK <= s.stop_from <= end + COVER_SLACK
        and s.stop_to > end + COVER_SLACK
    ]
    return min(found, key=lambda s: s.id or 0) if found else None
