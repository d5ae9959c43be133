"""The uploader: moves spooled originals to S3 once it answers again, verifies them there,
points their records at S3 and only then drops the spooled copies (the camera, which kept
its clips, is erased at a later docking, once the S3 copy verifies)."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, select

from vault.cases.rules import PERMANENT
from vault.context import Vault
from vault.db import audit
from vault.db.models import Derivative, Evidence
from vault.errors import StoreError
from vault.store.base import PutResult
from vault.store.local import READ_CHUNK
from vault.store.spool import SPOOL, SpoolingStore


@dataclass
class DrainReport:
    uploaded: list[int] = field(default_factory=list)  # evidence ids now in S3
    failed: list[tuple[int, str]] = field(default_factory=list)
    left: int = 0  # originals and derivatives still spooled after this pass

    def to_json(self) -> dict[str, object]:
        return {
            "uploaded": self.uploaded,
            "failed": [{"evidence_id": e, "reason": r} for e, r in self.failed],
            "left": self.left,
        }


def _upload(store: SpoolingStore, key: str, sha256: str, size: int, until: datetime) -> PutResult:
    """Stream a spooled object into S3 (hashing it on the way) and read it back there."""
    writer = store.primary.begin_put()
    digest = hashlib.sha256()
    try:
        with store.spool.open(key.removeprefix(SPOOL)) as source:
            while chunk := source.read(READ_CHUNK):
                digest.update(chunk)
                writer.write(chunk)
        if digest.hexdigest() != sha256:
            raise StoreError(f"the spooled copy {key} no longer matches its SHA-256")
        put = writer.commit(sha256, size, until)
    except BaseException:
        writer.abort()
        raise
    check = store.primary.verify(put.key, sha256, size)
    if not check.ok:
        raise StoreError(f"the uploaded copy of {key} did not verify: {check.reason}")
    return put


def _spooled(session: Session) -> list[Evidence | Derivative]:
    """Originals and derivatives whose bytes are still in the spool, oldest first."""
    originals = session.exec(
        select(Evidence)
        .where(Evidence.storage_backend == "spool", col(Evidence.purged_at).is_(None))
        .order_by(col(Evidence.id))
    )
    derivatives = session.exec(
        select(Derivative)
        .where(col(Derivative.storage_key).startswith(SPOOL), col(Derivative.purged_at).is_(None))
        .order_by(col(Derivative.id))
    )
    return [*originals, *derivatives]


def _move(vault: Vault, session: Session, store: SpoolingStore, row: Evidence | Derivative) -> None:
    """Upload one spooled object, point its record at S3, and drop the spooled copy once no
    other record still needs it (objects are content-addressed: two may share one)."""
    original = row if isinstance(row, Evidence) else session.get_one(Evidence, row.evidence_id)
    spooled_key = row.storage_key
    put = _upload(store, spooled_key, row.sha256, row.size, original.retain_until or PERMANENT)
    if original.legal_hold:
        store.primary.set_legal_hold(put.key, True)
    row.storage_key, row.storage_version = put.key, put.version
    if isinstance(row, Evidence):
        row.storage_backend, row.immutable_applied = "s3", put.immutable
    actor = vault.actor("uploader")
    audit.append(
        session,
        actor,
        at=vault.clock.now(),
        action="evidence.uploaded" if isinstance(row, Evidence) else "derivative.uploaded",
        subject=f"evidence:{original.id}",
        detail={"from": spooled_key, "to": put.key, "version": put.version},
    )
    session.add(row)
    session.commit()
    if not any(other.storage_key == spooled_key for other in _spooled(session)):
        store.spool.release(spooled_key.removeprefix(SPOOL))


def drain(vault: Vault, *, until_empty: bool = False, max_wait_s: float = 600.0) -> DrainReport:
    """Upload every spooled original (and derivative), verify it in S3, point its record
    there, then drop the spooled copy. With until_empty, retry with backoff while the
    service is down."""
    store = vault.store
    if not isinstance(store, SpoolingStore):
        raise StoreError("this vault has no spool (store.backend is not s3 with store.spool on)")
    report, delay, waited = DrainReport(), 1.0, 0.0
    while True:
        with vault.session() as session:
            for row in _spooled(session):
                evidence_id = row.id if isinstance(row, Evidence) else row.evidence_id
                assert evidence_id is not None
                if not store.reachable():
                    break
                try:
                    _move(vault, session, store, row)
                except StoreError as exc:
                    session.rollback()
                    report.failed.append((evidence_id, str(exc)))
                    continue
                if isinstance(row, Evidence):
                    report.uploaded.append(evidence_id)
            report.left = len(_spooled(session))
        if not until_empty or report.left == 0 or waited >= max_wait_s:
            return report
        time.sleep(delay)
        waited += delay
        delay = min(delay * 2, 60.0)
