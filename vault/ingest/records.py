"""The database side of an ingest: ledger rows, evidence rows and their audit events.

An evidence row is written only after its object is durable in the store, in the same
transaction that marks it sealed; so no row ever claims an object that is not there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, select

from vault.context import Vault
from vault.db import audit
from vault.db.audit import Actor
from vault.db.models import Device, DockSession, Evidence, Officer, Sighting
from vault.db.models.records import upload_delay_s
from vault.media import jobs as media_jobs
from vault.sealing import seals
from vault.store import WormStore


@dataclass(frozen=True)
class SealedClip:
    """What the pipeline knows about one file after it streamed it into the store."""

    sha256: str
    size: int
    kind: str
    path: str
    file_name: str
    folder: str
    important: bool
    sequence: str | None
    camera_time: str | None
    camera_time_source: str
    recorded_at: datetime | None
    recorded_at_corrected: datetime | None
    mtime: datetime | None
    officer_pk: int | None
    storage_backend: str
    storage_key: str
    storage_version: str | None
    immutable: bool
    retain_until: datetime


def record_sealed(
    session: Session,
    dock: DockSession,
    clip: SealedClip,
    now: datetime,
    actor: Actor,
    seen_this_run: bool,
    store: WormStore,
    seal_records: list[tuple[str, bytes]] | None = None,
) -> tuple[Evidence, str]:
    """Insert or link the evidence row and its sighting; returns (evidence, outcome). A new
    row's seal record goes into STORE before the transaction commits (issue 15): sealed
    here, or added to SEAL_RECORDS for the caller to seal before it commits."""
    assert dock.id is not None
    evidence = session.exec(select(Evidence).where(Evidence.sha256 == clip.sha256)).first()
    if evidence is None:
        outcome = "unclassified" if clip.kind == "unclassified" else "sealed"
        evidence = Evidence(
            sha256=clip.sha256,
            size=clip.size,
            kind=clip.kind,
            status="sealed",
            device_pk=dock.device_pk,
            officer_pk=clip.officer_pk,
            dock_session_id=dock.id,
            file_name=clip.file_name,
            camera_folder=clip.folder,
            important=clip.important,
            sequence=clip.sequence,
            camera_time=clip.camera_time,
            camera_time_source=clip.camera_time_source,
            recorded_at=clip.recorded_at,
            recorded_at_corrected=clip.recorded_at_corrected,
            docked_at=dock.started_at,
            sealed_at=now,
            upload_delay_s=upload_delay_s(clip.recorded_at_corrected, now),
            storage_backend=clip.storage_backend,
            storage_key=clip.storage_key,
            storage_version=clip.storage_version,
            immutable_applied=clip.immutable,
            retain_until=clip.retain_until,
        )
        session.add(evidence)
        session.flush()
        facts = seals.evidence_facts(session, evidence, clip.path)
        event = audit.append(
            session,
            actor,
            at=now,
            action="evidence.sealed",
            subject=f"evidence:{evidence.id}",
            detail={
                "sha256": clip.sha256,
                "size": clip.size,
                "path": clip.path,
                "dock_id": dock.id,
                "storage_key": clip.storage_key,
                "immutable": clip.immutable,
                "seal_facts": seals.facts_digest(facts),
            },
        )
        session.flush()
        if seal_records is None:
            seals.write(store, facts, event)
        else:
            seal_records.append(seals.record(facts, event))
    else:
        # IN-6: the same bytes again (a re-dock, or the camera's IMP copy) are linked, not resealed.
        outcome = "duplicate" if seen_this_run else "already_sealed"
        evidence.important = evidence.important or clip.important
    assert evidence.id is not None
    session.add(
        Sighting(
            evidence_id=evidence.id,
            dock_session_id=dock.id,
            path=clip.path,
            size=clip.size,
            mtime=clip.mtime,
            important=clip.important,
            outcome=outcome,
            seen_at=now,
        )
    )
    return evidence, outcome


@dataclass(frozen=True)
class Known:
    """The evidence row these bytes already are: its id, retain-until and purge time."""

    evidence_id: int
    retain_until: datetime | None
    purged_at: datetime | None


def known_bytes(vault: Vault, session: Session, sha256: str) -> Known | None:
    """The evidence these bytes already are, if any (one row: sha256 is unique). A live
    one keeps its retain-until (the first docking counts, RT-1); a purged one is not sealed
    again, since that would bring back an object no record keeps (issue 16). Asked in a
    short session of its own unless SESSION is already in a transaction: on SQLite every
    transaction holds the write lock, and the seal that follows must not keep it (other
    bays and the service would wait for the fsync)."""
    query = select(Evidence.id, Evidence.retain_until, Evidence.purged_at).where(
        Evidence.sha256 == sha256
    )
    if session.in_transaction():
        found = session.exec(query).first()
    else:
        with vault.session() as own:
            found = own.exec(query).first()
    if found is None or found[0] is None:
        return None
    return Known(found[0], found[1], found[2])


def commit_sealed(
    session: Session,
    dock: DockSession,
    clip: SealedClip,
    now: datetime,
    actor: Actor,
    seen_this_run: bool,
    store: WormStore,
) -> tuple[Evidence, str]:
    """record_sealed in its own transaction. When another station recorded the same bytes
    between our look and our insert, the unique sha256 refuses our row (PostgreSQL makes us
    wait for their commit first); we roll back and link to theirs: "already_sealed", or
    "duplicate" when this run saw the bytes before (IN-6). One evidence row, never an error."""
    for attempt in range(SEAL_ATTEMPTS):
        try:
            result = record_sealed(session, dock, clip, now, actor, seen_this_run, store)
            session.commit()
            return result
        except (IntegrityError, OperationalError) as exc:
            # OperationalError: PostgreSQL broke a deadlock by failing us; the same retry.
            session.rollback()
            if attempt == SEAL_ATTEMPTS - 1 or not _retryable(exc):
                raise
    raise AssertionError("unreachable")


def commit_sealed_group(
    session: Session,
    dock: DockSession,
    clips: list[SealedClip],
    now: datetime,
    actor: Actor,
    sealed_before: set[str],
    store: WormStore,
) -> list[tuple[Evidence, str]]:
    """commit_sealed for several clips in ONE transaction: their rows, sightings, chain
    entries and media jobs, their seal records sealed as one group before the commit
    (each record is durable before the row that it backs commits). SEALED_BEFORE: the
    bytes this run sealed already (a clip of those is a "duplicate"). All or nothing:
    an error rolls the whole group back (the caller then records the clips one by one)."""
    for attempt in range(SEAL_ATTEMPTS):
        try:
            # The rows every seal record names, loaded once and held for the group (the
            # session's identity map keeps only what is referenced).
            held = _rows_of(session, dock, clips)
            seen = set(sealed_before)
            pending: list[tuple[str, bytes]] = []
            results = []
            for clip in clips:
                evidence, outcome = record_sealed(
                    session, dock, clip, now, actor, clip.sha256 in seen, store, pending
                )
                if outcome in ("sealed", "unclassified"):
                    seen.add(clip.sha256)
                    media_jobs.queue_new_evidence(session, evidence, now)
                results.append((evidence, outcome))
            session.flush()
            seals.put_all(store, pending)
            session.commit()
            del held
            return results
        except (IntegrityError, OperationalError) as exc:
            session.rollback()
            if attempt == SEAL_ATTEMPTS - 1 or not _retryable(exc):
                raise
    raise AssertionError("unreachable")


def _rows_of(session: Session, dock: DockSession, clips: list[SealedClip]) -> list[object]:
    """The docking, camera, its keeper and officers that CLIPS' seal records name."""
    rows: list[object] = [session.get(DockSession, dock.id)]
    device = session.get(Device, dock.device_pk) if dock.device_pk else None
    rows.append(device)
    officers = {clip.officer_pk for clip in clips if clip.officer_pk}
    if device is not None and device.keeper_officer_id is not None:
        officers.add(device.keeper_officer_id)
    rows.extend(session.get(Officer, pk) for pk in sorted(officers))
    return rows


SEAL_ATTEMPTS = 3
# SQLSTATE 40P01 deadlock_detected, 40001 serialization_failure, 55P03 lock_not_available
RETRYABLE_STATES = ("40P01", "40001", "55P03")


def _retryable(exc: IntegrityError | OperationalError) -> bool:
    if isinstance(exc, IntegrityError):
        return True
    return getattr(exc.orig, "sqlstate", None) in RETRYABLE_STATES


def record_verification(
    session: Session,
    evidence_id: int,
    ok: bool,
    reason: str | None,
    now: datetime,
    actor: Actor,
    commit: bool = True,
) -> Evidence:
    """The read-back's outcome for one row; COMMIT=False leaves the commit to the caller
    (several verifications recorded in one transaction)."""
    evidence = session.get_one(Evidence, evidence_id)
    if ok:
        evidence.status, evidence.verify_error = "verified", None
        evidence.verified_at = now
    else:
        evidence.status, evidence.verify_error = "failed", reason
    audit.append(
        session,
        actor,
        at=now,
        action="evidence.verified" if ok else "evidence.verify_failed",
        subject=f"evidence:{evidence_id}",
        detail={"reason": reason} if reason else {},
    )
    if commit:
        session.commit()
    return evidence


def record_erased(
    session: Session, dock_id: int, path: str, evidence_id: int, now: datetime, actor: Actor
) -> None:
    sighting = session.exec(
        select(Sighting).where(Sighting.dock_session_id == dock_id, Sighting.path == path)
    ).one()
    sighting.erased_at = now
    audit.append(
        session,
        actor,
        at=now,
        action="clip.erased",
        subject=f"evidence:{evidence_id}",
        detail={"dock_id": dock_id, "path": path},
    )
    session.commit()
