"""Derivatives in the WORM store: each with its own SHA-256, linked to its original and
never in its place (IN-3); kept as long as the original, deleted with it by the purge.

Also the one way media work reads an original: a private copy, re-hashed on the way, so
ffmpeg never works on bytes that differ from what was sealed.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, func, select

from vault.context import Vault
from vault.db import audit
from vault.db.models import Derivative, Evidence, MediaJob
from vault.errors import NotFound, ObjectMissing, RetentionLocked
from vault.media.runner import MediaError
from vault.retention_rules import PERMANENT
from vault.sealing import seals

CHUNK = 8 * 1024 * 1024
MEDIA_TYPES = {
    "viewing": "video/mp4",
    "salvage": "video/mp4",
    "poster": "image/jpeg",
    "contact_sheet": "image/jpeg",
}


def work_root(vault: Vault) -> Path:
    """Private scratch space for media work: $EVAULT_HOME/tmp/media. ffmpeg needs a seekable
    file (an MP4's index may sit at its end), so originals are copied here, never opened in
    place; each job's folder is removed when the job ends, a dead worker's by the next one."""
    root = vault.settings.home / "tmp" / "media"
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    return root


def fetch(vault: Vault, key: str, sha256: str, dest: Path) -> int:
    """Copy a sealed object to dest, checking it still hashes to its record; returns size."""
    digest, size = hashlib.sha256(), 0
    try:
        with vault.store.open(key) as source, dest.open("wb") as out:
            while chunk := source.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
                size += len(chunk)
    except ObjectMissing:
        raise MediaError(f"the store holds no object {key}; run `evault evidence verify`") from None
    if digest.hexdigest() != sha256:
        dest.unlink(missing_ok=True)
        raise MediaError(
            f"the sealed object {key} does not match its SHA-256; no derivative is made from "
            "altered bytes: run `evault evidence verify --all`"
        )
    return size


@dataclass(frozen=True)
class Sealed:
    """A derivative file now in the store, not yet linked to its original."""

    sha256: str
    size: int
    key: str
    version: str | None
    suffix: str


def seal(vault: Vault, path: Path, retain_until: datetime | None) -> Sealed:
    """Stream a finished derivative into the store, hashing it on the way; run with no
    database transaction open (SQLite holds its write lock from BEGIN, and ingest waits)."""
    digest, size = hashlib.sha256(), 0
    writer = vault.store.begin_put()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
                writer.write(chunk)
                size += len(chunk)
        put = writer.commit(digest.hexdigest(), size, retain_until or PERMANENT)
    except BaseException:
        writer.abort()
        raise
    return Sealed(digest.hexdigest(), size, put.key, put.version, path.suffix)


def media_type(kind: str, suffix: str) -> str:
    if kind == "audio":
        return "audio/flac" if suffix == ".flac" else "audio/wav"
    if kind.startswith("redacted-"):  # a redacted copy, one per plan version (redact.py)
        return "video/mp4"
    return MEDIA_TYPES[kind]


def link(
    vault: Vault,
    session: Session,
    evidence_id: int,
    kind: str,
    sealed: Sealed,
    *,
    encoder: str | None,
    params: dict[str, Any],
    recovered_s: float | None = None,
) -> Derivative:
    """Record a sealed derivative beside its original, with an audit event; caller commits."""
    now = vault.clock.now()
    row = session.exec(
        select(Derivative).where(Derivative.evidence_id == evidence_id, Derivative.kind == kind)
    ).first()
    if row is None:
        row = Derivative(
            evidence_id=evidence_id,
            kind=kind,
            sha256=sealed.sha256,
            size=sealed.size,
            storage_key=sealed.key,
            media_type="",
            created_at=now,
        )
    row.sha256, row.size, row.storage_key = sealed.sha256, sealed.size, sealed.key
    row.storage_version, row.media_type = sealed.version, media_type(kind, sealed.suffix)
    row.encoder, row.params, row.recovered_s = encoder, params, recovered_s
    row.created_at, row.purged_at = now, None
    session.add(row)
    session.flush()
    original = session.get_one(Evidence, evidence_id)
    # RT-4: the original's retention and hold as they are now, not as they were when the
    # job began (a case linked or closed, a hold placed meanwhile, or before it).
    follow_retention(vault, session, evidence_id, original.retain_until, original.legal_hold)
    facts = seals.derivative_facts(row, original)
    actor = vault.actor("media")
    event = audit.append(
        session,
        actor,
        at=now,
        action="media.derivative",
        subject=f"evidence:{evidence_id}",
        detail={
            "kind": kind,
            "sha256": sealed.sha256,
            "size": sealed.size,
            "key": sealed.key,
            "seal_facts": seals.facts_digest(facts),
        },
    )
    session.flush()
    seals.write(vault.store, facts, event)
    return row


def live(session: Session, evidence_id: int) -> list[Derivative]:
    return list(
        session.exec(
            select(Derivative)
            .where(Derivative.evidence_id == evidence_id, col(Derivative.purged_at).is_(None))
            .order_by(col(Derivative.id))
        )
    )


def find(session: Session, evidence_id: int, kind: str) -> Derivative | None:
    return next((d for d in live(session, evidence_id) if d.kind == kind), None)


def as_json(row: Derivative) -> dict[str, Any]:
    return {
        "kind": row.kind,
        "sha256": row.sha256,
        "size": row.size,
        "media_type": row.media_type,
        "encoder": row.encoder,
        "storage_key": row.storage_key,
        "recovered_s": row.recovered_s,
        "params": row.params,
        "created_at": row.created_at.isoformat().replace("+00:00", "Z"),
    }


def follow_retention(
    vault: Vault, session: Session, evidence_id: int, until: datetime | None, hold: bool
) -> None:
    """Give derivatives their original's retention and hold in the store (RT-4): call it
    wherever the original's are pushed (vault.cases.retention.reapply)."""
    for row in live(session, evidence_id):
        # Shared bytes may already be kept longer for another original: that stands (RT-4).
        with contextlib.suppress(RetentionLocked):
            vault.store.extend_retention(row.storage_key, until or PERMANENT)
        # The same bytes may be another original's derivative too: held while any holds.
        others_held = session.exec(
            select(func.count())
            .select_from(Derivative)
            .join(Evidence, col(Derivative.evidence_id) == Evidence.id)
            .where(
                Derivative.storage_key == row.storage_key,
                Derivative.evidence_id != evidence_id,
                col(Derivative.purged_at).is_(None),
                col(Evidence.legal_hold),
            )
        ).one()
        vault.store.set_legal_hold(row.storage_key, hold or others_held > 0)


def purge_derivatives(
    vault: Vault, session: Session, evidence_id: int, now: datetime
) -> list[dict[str, Any]]:
    """For the purge job, after the original is deleted: delete every derivative through the
    store, mark the rows purged (they stay, with their hashes: RT-5) and drop pending media
    jobs. Objects are content-addressed, so one another live derivative still uses (the same
    black poster frame, say) stays. Idempotent: a derivative already gone counts as deleted;
    one the store still refuses (RetentionLocked) stays live for a later purge. The caller
    commits."""
    done: list[dict[str, Any]] = []
    for row in live(session, evidence_id):
        shared = session.exec(
            select(func.count())
            .select_from(Derivative)
            .where(
                Derivative.storage_key == row.storage_key,
                Derivative.id != row.id,
                col(Derivative.purged_at).is_(None),
            )
        ).one()
        try:
            if not shared:
                vault.store.delete(row.storage_key, now)
        except ObjectMissing:
            pass
        except RetentionLocked:
            continue
        row.purged_at = now
        session.add(row)
        done.append({"kind": row.kind, "sha256": row.sha256, "storage_key": row.storage_key})
    for job in session.exec(
        select(MediaJob).where(
            MediaJob.evidence_id == evidence_id, col(MediaJob.state).in_(("queued", "failed"))
        )
    ):
        job.state, job.last_error, job.finished_at = "skipped", "original purged", now
        session.add(job)
    if done:
        actor = vault.actor("purge")
        audit.append(
            session,
            actor,
            at=now,
            action="media.derivatives_purged",
            subject=f"evidence:{evidence_id}",
            detail={"derivatives": done},
        )
    return done


def clear_workdir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


SHOWN_KEYS = ("duration_s", "video_codec", "width", "height", "fps", "audio_codec", "creation_time")


def media_json(evidence: Evidence) -> dict[str, Any]:
    """The probe's findings for `evault evidence show`: the state, why it is damaged, facts."""
    facts = dict(evidence.media or dict.fromkeys(SHOWN_KEYS))
    return {"state": evidence.media_state, "damage": evidence.damage, **facts}


def derivatives_json(session: Session, evidence_id: int) -> list[dict[str, Any]]:
    return [as_json(row) for row in live(session, evidence_id)]


def write_out(vault: Vault, evidence_id: int, kind: str, out: Path) -> Derivative:
    """Copy a derivative out of the store to `out`, checked against its SHA-256 on the way
    (access rules for this arrive with the access issue)."""
    with vault.session() as session:
        if session.get(Evidence, evidence_id) is None:
            raise NotFound(f"no evidence {evidence_id}")
        row = find(session, evidence_id, kind)
        job = session.exec(
            select(MediaJob).where(MediaJob.evidence_id == evidence_id, MediaJob.kind == kind)
        ).first()
    if row is None:
        why = f"its {kind} job is {job.state}" if job else f"no {kind} job is queued for it"
        hint = f" ({job.last_error})" if job and job.last_error else ""
        raise NotFound(
            f"evidence {evidence_id} has no {kind.replace('_', ' ')} yet: {why}{hint}; "
            "run `evault media run --until-idle`, see `evault media jobs`"
        )
    partial = out.with_name(f".{out.name}.part")
    try:
        fetch(vault, row.storage_key, row.sha256, partial)
        partial.replace(out)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise MediaError(f"cannot write {out}: {exc.strerror or exc}") from exc
    return row
