"""The uploader: moves spooled originals to S3 once it answers again, verifies them there,
points their records at S3 and only then drops the spooled copies (the camera, which kept
its clips, is erased at a later docking, once the S3 copy verifies).

A workflow over records and the store, so it sits above both: the spool itself (store/spool.py)
knows how to copy its bytes to S3; this module knows which records point at them."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from vault.context import Vault
from vault.db import audit
from vault.db.models import Derivative, Evidence
from vault.errors import StoreError
from vault.retention_rules import PERMANENT
from vault.store.spool import SPOOL, SpoolingStore

log = logging.getLogger(__name__)


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
    put = store.upload(spooled_key, row.sha256, row.size, original.retain_until or PERMANENT)
    kind = "original" if isinstance(row, Evidence) else "derivative"
    log.info(
        "uploaded key=%s to=%s version=%s size=%d evidence=%s kind=%s created=%s",
        spooled_key,
        put.key,
        put.version,
        row.size,
        original.id,
        kind,
        put.created,
    )
    log.info("verified key=%s in=s3 evidence=%s", put.key, original.id)
    if original.legal_hold:
        store.primary.set_legal_hold(put.key, True)
        log.info("legal hold set evidence=%s key=%s", original.id, put.key)
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
        store.release_unrecorded(spooled_key)
        log.info("released spooled copy key=%s evidence=%s", spooled_key, original.id)
    else:
        log.info("kept spooled copy key=%s reason=another_record_needs_it", spooled_key)


def drain(vault: Vault, *, until_empty: bool = False, max_wait_s: float = 600.0) -> DrainReport:
    """Upload every spooled original (and derivative), verify it in S3, point its record
    there, then drop the spooled copy. With until_empty, retry with backoff while the
    service is down."""
    store = vault.store
    if not isinstance(store, SpoolingStore):
        raise StoreError("this vault has no spool (store.backend is not s3 with store.spool on)")
    report, delay, waited = DrainReport(), 1.0, 0.0
    while True:
        if store.reachable():
            try:
                moved = store.drain_records()
                if moved:
                    log.info("spooled records uploaded count=%d", moved)
            except StoreError as exc:
                log.error("spooled records not uploaded error=%s", exc)
        with vault.session() as session:
            spooled = _spooled(session)
            log.info("drain pass spooled=%d until_empty=%s", len(spooled), until_empty)
            for row in spooled:
                evidence_id = row.id if isinstance(row, Evidence) else row.evidence_id
                assert evidence_id is not None
                if not store.reachable():
                    log.warning("s3 unreachable: pass stopped evidence=%s", evidence_id)
                    break
                key = row.storage_key
                try:
                    _move(vault, session, store, row)
                except StoreError as exc:
                    session.rollback()
                    log.error("upload failed key=%s evidence=%s error=%s", key, evidence_id, exc)
                    report.failed.append((evidence_id, str(exc)))
                    continue
                if isinstance(row, Evidence):
                    report.uploaded.append(evidence_id)
            report.left = len(_spooled(session))
        log.info(
            "drain pass done uploaded=%d failed=%d left=%d",
            len(report.uploaded),
            len(report.failed),
            report.left,
        )
        if not until_empty or report.left == 0 or waited >= max_wait_s:
            if report.left:
                log.warning("spool not empty left=%d waited_s=%.0f", report.left, waited)
            return report
        log.info("retrying drain in delay_s=%.0f left=%d", delay, report.left)
        time.sleep(delay)
        waited += delay
        delay = min(delay * 2, 60.0)
