"""Permitted stops (RC-4, Xiangxi 第11条, Pingdingshan 第12条): recording may stop at a
witness's request, on public transport, for secrets or privacy, or for weather, with a work
record of the reason and its basis, reviewed by the supervisor and filed. For a witness's
request or secrets, the requester's signed statement is attached: it is sealed in the WORM
store like the documents of an access request, and its SHA-256 recorded.

An approved record that covers an interruption is its written reason (RC-3).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from vault.access.principals import current, require_role
from vault.compliance.reasons import acting_name
from vault.context import Vault
from vault.db import audit
from vault.db.models import Device, Officer, StopRecord
from vault.errors import Conflict, NotFound, VolumeError
from vault.sealing import seals
from vault.timeutil import iso

STOP_REASONS = {
    "witness_request": "证人要求",
    "public_transport": "乘坐公共交通工具",
    "secrets": "涉及国家秘密、商业秘密",
    "privacy": "涉及个人隐私",
    "weather": "恶劣天气",
    "other": "其他",
}
NEEDS_STATEMENT = ("witness_request", "secrets")  # RC-4: the requester signs a statement
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
        raise VolumeError(f"cannot read statement {path}: {exc.strerror or exc}") from exc
    except BaseException:
        writer.abort()
        raise
    return Statement(path.name[:255], digest.hexdigest(), size, put.key, put.version)


def _device(session: Session, device_id: str) -> Device:
    found = session.exec(select(Device).where(Device.device_id == device_id)).first()
    if found is None:
        raise NotFound(f"no camera {device_id!r} in the records")
    return found


def _officer(session: Session, officer_id: str) -> Officer:
    found = session.exec(select(Officer).where(Officer.officer_id == officer_id)).first()
    if found is None:
        raise NotFound(f"no officer {officer_id!r} in the records")
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
        raise Conflict(f"unknown stop reason {reason!r}; use one of {', '.join(STOP_REASONS)}")
    if stop_to <= stop_from:
        raise Conflict("--to must be after --from")
    if not basis.strip():
        raise Conflict("--basis is required: the rule or instruction the stop rests on")
    if reason in NEEDS_STATEMENT and statement is None:
        raise Conflict(
            f"a stop for {reason} needs the requester's signed statement (--statement FILE, RC-4)"
        )
    if statement is not None and not statement.is_file():
        raise VolumeError(f"statement file {statement} does not exist or is not a file")
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


def approve_stop(vault: Vault, stop_id: int) -> StopRecord:
    """RC-4: the supervisor's review. Only a principal with the approver role (负责人), and
    never the one who filed it."""
    with vault.session() as session:
        approver = current(vault, session)
        require_role(approver, ("approver",), "approving a stop record")
        row = session.get(StopRecord, stop_id)
        if row is None:
            raise NotFound(f"no stop record {stop_id}")
        if row.status == "approved":
            raise Conflict(f"stop record {stop_id} was approved by {row.approved_by}")
        if row.filed_by == approver.name:
            raise Conflict("a stop record is approved by a supervisor other than its filer")
        now = vault.clock.now()
        row.status, row.approved_by, row.approved_at = "approved", approver.name, now
        session.add(row)
        audit.append(
            session,
            vault.actor("compliance"),
            at=now,
            action="compliance.stop_approved",
            subject=f"stop:{stop_id}",
            detail={"by": approver.name},
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
