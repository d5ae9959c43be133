"""The purge job: deletes originals whose effective retention has passed, with nothing
holding them, through the store (which checks again by itself), and keeps a record of
every deletion after the bytes are gone (RT-1, RT-4, RT-5).

Each deletion is three steps, each idempotent: (1) a purge record in state "deleting"
(unique per evidence: two jobs never both claim one), (2) the store deletes the object
(already gone counts as done), (3) record and evidence marked deleted. A job killed at any
point is completed by the next one, which first finishes every record left "deleting".

Several stations may run the purge at once (each has its timer). Steps 2 and 3 are taken
one record at a time under the "purge" lock with the record's row re-read inside it: a
job finishing what another claimed, or what a killed job left, finds it already deleted
and passes; derivative bytes shared by two originals are counted with the other's purge
committed. SQLite gives the same with its one write lock (taken before the store delete).

Nothing is deleted that a records keeper has not marked of no value to keep on a purge
list an approver signed (RT-1; Pingdingshan 第15条 管理人员根据情况对无保存意义的进行清除处理;
Shanxi 第22条 不得在保存期内销毁): `purge(dry_run=False)` deletes only the items of signed
lists (vault/cases/purge_lists.py draws, marks and signs them), deciding the rules again
for each at run time; an item held since, or whose retention grew, is skipped and recorded.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Row, update
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from vault.cases.retention import facts_for_batch, record_event
from vault.context import Vault
from vault.db.engine import lock_for_transaction
from vault.db.models import (
    Derivative,
    Device,
    Evidence,
    Officer,
    PurgeJob,
    PurgeList,
    PurgeListItem,
    PurgeRecord,
)
from vault.errors import ObjectMissing, RetentionLocked, VaultError
from vault.faults import checkpoint
from vault.i18n import N_
from vault.logs import kv
from vault.media.derivatives import purge_derivatives
from vault.retention_rules import decide
from vault.timeutil import iso

BATCH = 2000
# Why evidence was kept, as counted in the log: (words in the reason, name of the count).
KEPT_BECAUSE = (
    ("legal hold", "legal_hold"),
    ("litigation hold", "litigation_hold"),
    ("open case", "open_case"),
    ("retained until", "retained"),
    ("another purge job", "other_job"),
    ("store:", "store_refused"),
)

log = logging.getLogger(__name__)


@dataclass
class PurgeReport:
    as_of: datetime
    dry_run: bool
    job_id: int | None = None
    deleted: list[dict[str, Any]] = field(default_factory=list)
    kept: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        key = "would_delete" if self.dry_run else "deleted"
        return {
            "as_of": iso(self.as_of),
            "job_id": self.job_id,
            key: self.deleted,
            "kept": self.kept,
        }

    def counts(self) -> dict[str, int]:
        """How many were deleted, and kept for each reason (one may be kept for several)."""
        done = "would_delete" if self.dry_run else "deleted"
        found = {done: len(self.deleted), "kept": len(self.kept)}
        for words, name in KEPT_BECAUSE:
            count = sum(1 for entry in self.kept if words in entry["reason"])
            if count:
                found[f"kept_{name}"] = count
        return found


DUE_COLUMNS = (
    col(Evidence.id),
    col(Evidence.sha256),
    col(Evidence.recorded_at_corrected),
    col(Evidence.docked_at),
    col(Evidence.retention_class),
    col(Evidence.long_term_category),
)


def due_batches(session: Session, as_of: datetime) -> Iterator[Sequence[Row[*tuple[Any, ...]]]]:
    """Evidence whose recorded retain-until has passed, a batch at a time by id (keyset
    pages: flat memory, and safe to commit between batches). Holds are judged by plan().
    Only the columns the rules read are loaded: planning a million rows stays fast."""
    after = 0
    while True:
        query = (
            sa_select(*DUE_COLUMNS)
            .where(
                col(Evidence.id) > after,
                col(Evidence.purged_at).is_(None),
                col(Evidence.retain_until).is_not(None),
                col(Evidence.retain_until) <= as_of,
            )
            .order_by(col(Evidence.id))
            .limit(BATCH)
        )
        batch = session.connection().execute(query).all()
        if not batch:
            return
        yield batch
        after = batch[-1].id


def plan(
    vault: Vault,
    session: Session,
    as_of: datetime,
    kept: list[dict[str, Any]],
    only: Collection[int] | None = None,
) -> Iterator[dict[str, Any]]:
    """What may be deleted (of ONLY, when given); the rules are decided again for each, not
    only the stored date."""
    for full in due_batches(session, as_of):
        batch = full if only is None else [e for e in full if e.id in only]
        facts = facts_for_batch(session, batch)
        for evidence in batch:
            assert evidence.id is not None
            decision = decide(facts[evidence.id], vault.settings.retention)
            if decision.blocked or decision.retain_until is None or decision.retain_until > as_of:
                reason = ", ".join(decision.blockers) or (
                    f"retained until {iso(decision.retain_until) or 'forever'}"
                )
                kept.append({"evidence_id": evidence.id, "reason": reason})
                continue
            yield {
                "evidence_id": evidence.id,
                "sha256": evidence.sha256,
                "rule": decision.rule,
                "retain_until": iso(decision.retain_until),
            }


def signed_items(session: Session) -> dict[int, int]:
    """Evidence id -> list id of every item marked of no value on a signed list and not yet
    done: all that a purge may delete (RT-1)."""
    query = (
        select(PurgeListItem.evidence_id, PurgeListItem.list_id)
        .join(PurgeList, col(PurgeList.id) == PurgeListItem.list_id)
        .where(
            PurgeList.status == "signed",
            PurgeListItem.mark == "no_value",
            col(PurgeListItem.outcome).is_(None),
        )
    )
    return dict(session.exec(query).all())


def purge(vault: Vault, *, dry_run: bool, as_of: datetime | None = None) -> PurgeReport:
    """dry_run: what may be cleared as of AS_OF (every due clip nothing holds). Else delete,
    as of now, the items of signed purge lists that the rules still let go, and record the
    outcome of every item of those lists (deleted, skipped with the reason, kept)."""
    if as_of is not None and not dry_run:
        raise VaultError(
            N_("{option} is only allowed with {dry_run}: a purge deletes as of now"),
            option="--as-of",
            dry_run="--dry-run",
        )
    now = vault.clock.now()
    report = PurgeReport(as_of or now, dry_run)
    with vault.session() as session:
        if dry_run:
            report.deleted = list(plan(vault, session, report.as_of, report.kept))
            kv(log, logging.INFO, "purge planned", as_of=report.as_of, **report.counts())
            return report
        actor = vault.actor("purge")
        job = PurgeJob(station_id=actor.station_id, actor=actor.name, started_at=now)
        session.add(job)
        session.commit()
        report.job_id = job.id
        kv(log, logging.INFO, "purge started", job=job.id, as_of=now)
        try:
            _sweep_derivatives(vault, session)  # of originals purged by a job that was killed
            left = select(PurgeRecord).where(PurgeRecord.state == "deleting")
            for unfinished in list(session.exec(left)):
                kv(log, logging.INFO, "purge resumes a deletion", evidence=unfinished.evidence_id)
                _finish(vault, session, job, unfinished, report)  # what a killed job left
            wanted = signed_items(session)
            for entry in plan(vault, session, now, report.kept, only=wanted):  # page by page
                record = _claim(vault, session, job, entry)
                if record is None:
                    kv(log, logging.INFO, "purge passes: taken", evidence=entry["evidence_id"])
                    report.kept.append(
                        {
                            "evidence_id": entry["evidence_id"],
                            "reason": "taken by another purge job",
                        }
                    )
                    continue
                checkpoint("purge.claimed")
                _finish(vault, session, job, record, report)
            _close_lists(vault, session, job, report)
            job.status = "done"
            kv(log, logging.INFO, "purge done", job=job.id, **report.counts())
        except BaseException as exc:
            session.rollback()
            job.status, job.error = "failed", str(exc) or type(exc).__name__
            kv(log, logging.ERROR, "purge failed", job=job.id, error=job.error, **report.counts())
            raise
        finally:
            job.finished_at = vault.clock.now()
            job.deleted, job.kept = len(report.deleted), len(report.kept)
            session.add(job)
            session.commit()
    return report


def _claim(
    vault: Vault, session: Session, job: PurgeJob, entry: dict[str, Any]
) -> PurgeRecord | None:
    """Step 1: the record of intent; None when another job has claimed this evidence."""
    assert job.id is not None
    evidence = session.get_one(Evidence, entry["evidence_id"])
    assert evidence.id is not None and evidence.retain_until is not None
    device = session.get(Device, evidence.device_pk) if evidence.device_pk else None
    officer = session.get(Officer, evidence.officer_pk) if evidence.officer_pk else None
    record = PurgeRecord(
        evidence_id=evidence.id,
        job_id=job.id,
        sha256=evidence.sha256,
        size=evidence.size,
        device_id=device.device_id if device else None,
        officer_id=officer.officer_id if officer else None,
        recorded_at=evidence.recorded_at_corrected,
        rule=entry["rule"],
        retain_until=evidence.retain_until,
        storage_key=evidence.storage_key,
        storage_version=evidence.storage_version,
        started_at=vault.clock.now(),
    )
    session.add(record)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return None
    return record


def _finish(
    vault: Vault, session: Session, job: PurgeJob, record: PurgeRecord, report: PurgeReport
) -> None:
    """Steps 2 and 3: delete through the store, then mark everything deleted. Skipped when
    another job finished (or gave back) the record meanwhile."""
    if not _still_deleting(session, record):
        session.rollback()
        return
    now = vault.clock.now()
    try:
        vault.store.delete(record.storage_key, now)
    except ObjectMissing:
        sha = record.sha256
        if not any(vault.store.record_names(f"deleted/{sha[:2]}/{sha}/")):
            # Gone, yet the store never deleted it (it records each deletion before it
            # makes it): removed by hand. Not recorded as a purge; verify reports it.
            session.delete(record)
            record_event(
                vault,
                session,
                "purge.object_missing",
                f"evidence:{record.evidence_id}",
                reason="the object is gone but the store recorded no deletion of it",
            )
            session.commit()
            report.kept.append(
                {"evidence_id": record.evidence_id, "reason": "object missing, not purged"}
            )
            return
        # else deleted by a job that was killed before it could record so
    except RetentionLocked as exc:
        # The store keeps its own retention and refuses: the records were wrong. Keep it.
        session.delete(record)
        record_event(
            vault,
            session,
            "purge.refused_by_store",
            f"evidence:{record.evidence_id}",
            reason=str(exc),
        )
        session.commit()
        report.kept.append({"evidence_id": record.evidence_id, "reason": f"store: {exc}"})
        kv(
            log,
            logging.WARNING,
            "store refused to delete; kept",
            evidence=record.evidence_id,
            error=str(exc),
        )
        return
    checkpoint("purge.deleted")
    # Step 3 as a compare-and-set: when two jobs finish the same record (one resuming what
    # it took for a dead job's), exactly one records the deletion.
    finished = session.connection().execute(
        update(PurgeRecord)
        .where(col(PurgeRecord.id) == record.id, col(PurgeRecord.state) == "deleting")
        .values(state="deleted", deleted_at=now)
    )
    if finished.rowcount != 1:
        session.rollback()
        return
    evidence = session.get_one(Evidence, record.evidence_id)
    evidence.purged_at, evidence.status = now, "purged"
    session.add(evidence)
    record_event(
        vault,
        session,
        "evidence.purged",
        f"evidence:{record.evidence_id}",
        sha256=record.sha256,
        rule=record.rule,
        retain_until=iso(record.retain_until),
        job_id=job.id,
        purge_record=record.id,
    )
    purge_derivatives(vault, session, record.evidence_id, now)
    session.connection().execute(  # RT-5: the signed item's outcome, with the deletion
        update(PurgeListItem)
        .where(
            col(PurgeListItem.evidence_id) == record.evidence_id,
            col(PurgeListItem.mark) == "no_value",
            col(PurgeListItem.outcome).is_(None),
        )
        .values(outcome="deleted", outcome_at=now, job_id=job.id)
    )
    session.commit()
    kv(
        log,
        logging.INFO,
        "evidence purged",
        evidence=record.evidence_id,
        rule=record.rule,
        retain_until=record.retain_until,
        job=job.id,
    )
    report.deleted.append(
        {
            "evidence_id": record.evidence_id,
            "sha256": record.sha256,
            "rule": record.rule,
            "retain_until": iso(record.retain_until),
        }
    )


def _still_deleting(session: Session, record: PurgeRecord) -> bool:
    """Take the purge lock until this transaction ends (PostgreSQL: an advisory lock and the
    record's row lock; SQLite: BEGIN IMMEDIATE), then read the record as committed now."""
    lock_for_transaction(session, "purge")
    current = session.exec(
        select(PurgeRecord)
        .where(PurgeRecord.id == record.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    return current is not None and current.state == "deleting"


def _sweep_derivatives(vault: Vault, session: Session) -> None:
    """Derivatives of originals purged by a job that was killed before it got to them."""
    query = (
        select(Derivative.evidence_id)
        .join(Evidence, col(Derivative.evidence_id) == Evidence.id)
        .where(col(Evidence.purged_at).is_not(None), col(Derivative.purged_at).is_(None))
        .distinct()
    )
    for evidence_id in list(session.exec(query)):
        lock_for_transaction(session, "purge")  # another job may be sweeping the same
        purge_derivatives(vault, session, evidence_id, vault.clock.now())
        session.commit()


def _close_lists(vault: Vault, session: Session, job: PurgeJob, report: PurgeReport) -> None:
    """Record what became of every item of the signed lists this job ran: a no-value item
    the rules no longer let go (held since, its retention grown) is skipped with the
    reason; a kept one is kept. A list whose items all have an outcome is done."""
    now = vault.clock.now()
    why = {entry["evidence_id"]: entry["reason"] for entry in report.kept}
    deleting = select(PurgeRecord.evidence_id).where(PurgeRecord.state == "deleting")
    claimed = set(session.exec(deleting))  # the job that claimed them records their outcome
    items = session.exec(
        select(PurgeListItem)
        .join(PurgeList, col(PurgeList.id) == PurgeListItem.list_id)
        .where(PurgeList.status == "signed", col(PurgeListItem.outcome).is_(None))
    )
    for item in list(items):
        if item.mark == "keep":
            item.outcome, item.outcome_reason = "kept", item.mark_reason
        elif item.evidence_id in claimed:
            continue
        elif (evidence := session.get_one(Evidence, item.evidence_id)).purged_at is not None:
            item.outcome = "deleted"  # by a job that was killed before it could record so
        else:
            reason = why.get(item.evidence_id) or (
                f"retained until {iso(evidence.retain_until) or 'forever'}"
            )
            item.outcome, item.outcome_reason = "skipped", reason
            record_event(
                vault,
                session,
                "purge.item_skipped",
                f"evidence:{item.evidence_id}",
                purge_list=item.list_id,
                reason=reason,
                job_id=job.id,
            )
            kv(log, logging.INFO, "purge skips a signed item", evidence=item.evidence_id)
        item.outcome_at, item.job_id = now, job.id
        session.add(item)
    session.flush()
    for listing in list(session.exec(select(PurgeList).where(PurgeList.status == "signed"))):
        open_items = session.exec(
            select(PurgeListItem.id).where(
                PurgeListItem.list_id == listing.id, col(PurgeListItem.outcome).is_(None)
            )
        ).first()
        if open_items is None:
            listing.status, listing.finished_at = "done", now
            session.add(listing)
            record_event(
                vault, session, "purge.list_done", f"purge_list:{listing.id}", job_id=job.id
            )
    session.commit()
