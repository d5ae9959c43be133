"""`evault verify`: the database held against the WORM store, class by class (findings.py).

- objects: each sealed object (originals, derivatives, presented documents, stop
  statements) re-read and re-hashed against its row;
- rows: each row against the seal record of its object, each seal record against the rows
  (rows.py);
- chains: the audit chain and the access register against their anchors (chains.py);
- grants: each grant and revocation against the register (grants.py);
- retention: the database's retention against the store's own (retention.py);
- protection: each object's protection as it is on disk now (immutable flag, mode, Object
  Lock), never as the database remembers it.

It changes no record it checks. It only adds: an anchor of a chain that grew quietly
(`Anchorer.tick`), once the chains were found whole, so that what is verified now is held
from now on (a head found cut is never anchored), and its result as the audit event
"vault.verified" (the compliance report's OV-3 findings are read from the newest one).
Records in the store that are not what the vault writes (not JSON, a link, too large) are
findings, never a failure of the run.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import func, select

from vault.context import Vault
from vault.db import audit
from vault.db.models import AuditEvent, RegisterEntry
from vault.errors import StoreError
from vault.recovery import chains
from vault.recovery.findings import CLASSES, Finding, Report
from vault.recovery.grants import check_grants
from vault.recovery.inventory import SPOOL, Inventory, exists, load
from vault.recovery.retention import check_retention
from vault.recovery.rows import check_rows
from vault.recovery.sealings import lost_sealings
from vault.retrieval import find_orphans
from vault.sealing import anchors
from vault.store import WormStore

log = logging.getLogger(__name__)

VERIFIED = "vault.verified"  # the audit event of a run, with its findings
RECORDED = 100  # findings kept in that event (the counts are all there)
NOT_IMMUTABLE = "not immutable"
NO_CAPABILITY = (
    "this process lacks CAP_LINUX_IMMUTABLE or the filesystem has no immutable flag: sealed "
    "files are protected by their mode only; run the service with the capability (README)"
)


@dataclass(frozen=True)
class Sealed:
    """One object the database says is sealed and still in the store."""

    subject: str
    key: str
    sha256: str
    size: int | None
    immutable_recorded: bool


def live_objects(inv: Inventory) -> Iterator[Sealed]:
    """Every object the rows say the store holds now (shared derivative bytes once)."""
    for e in inv.evidence:
        if e.purged_at is None and e.id not in inv.purging:
            yield Sealed(f"evidence:{e.id}", e.storage_key, e.sha256, e.size, e.immutable_applied)
    seen: set[str] = set()
    for d in inv.derivatives:
        if d.purged_at is None and d.storage_key not in seen:
            seen.add(d.storage_key)
            yield Sealed(f"derivative:{d.id}", d.storage_key, d.sha256, d.size, False)
    for doc in inv.documents:
        yield Sealed(f"document:{doc.id}", doc.storage_key, doc.sha256, doc.size, False)
    for stop in inv.stops:
        if stop.statement_key and stop.statement_sha256:
            yield Sealed(
                f"stop-record:{stop.id}",
                stop.statement_key,
                stop.statement_sha256,
                stop.statement_size,
                False,
            )


def _gone_by_purge(store: WormStore, inv: Inventory, item: Sealed) -> bool:
    """A live row whose object the store deleted: the retention class says so, once."""
    return (
        item.subject.startswith("evidence:")
        and item.sha256 in inv.deleted
        and exists(store, item.key) is False
    )


def check_objects(report: Report, store: WormStore, inv: Inventory) -> None:
    checked = 0
    for item in live_objects(inv):
        if _gone_by_purge(store, inv, item):
            continue
        checked += 1
        try:
            result = store.verify(item.key, item.sha256, item.size)
        except StoreError as exc:
            report.add("objects", item.subject, f"{item.key}: {exc}")
            continue
        if not result.ok:
            report.add("objects", item.subject, f"{item.key}: {result.reason}")
    report.checked["objects"] = checked


def can_protect(store: WormStore) -> bool | None:
    """Whether the store can make its files immutable; None: not a store of files (S3)."""
    for candidate in (store, getattr(store, "spool", None)):
        probe = getattr(candidate, "can_protect", None)
        if callable(probe):
            return bool(probe())
    return None


def check_protection(report: Report, store: WormStore, inv: Inventory) -> None:
    able = can_protect(store)
    checked = 0
    for item in live_objects(inv):
        if _gone_by_purge(store, inv, item):
            continue
        checked += 1
        try:
            state = store.protection(item.key)
        except StoreError as exc:
            report.add("protection", item.subject, f"{item.key}: cannot be read: {exc}")
            continue
        if state is None:
            continue
        problems = [p.strip() for p in state.split(",")]
        if NOT_IMMUTABLE in problems and not (able or item.immutable_recorded):
            problems.remove(NOT_IMMUTABLE)  # said once, below
        if problems:
            report.add("protection", item.subject, f"{item.key}: {', '.join(problems)}")
    if able is False:
        report.add("warnings", "store", NO_CAPABILITY)
    report.checked["protection"] = checked


def check_gone(report: Report, store: WormStore, inv: Inventory) -> None:
    """A clip marked purged, or whose purge is claimed, whose object is gone though the
    store recorded no deletion (the store writes one whenever the purge deletes). Clips
    sealed before seal records existed are not held to this."""
    for e in inv.evidence:
        if e.purged_at is None and e.id not in inv.purging:
            continue
        sealed = any(s.kind == "evidence" and inv.trusted(s) for s in inv.seals.get(e.sha256, []))
        if not sealed or e.sha256 in inv.deleted or exists(store, e.storage_key) is not False:
            continue
        what = "marked purged" if e.purged_at is not None else "its purge is claimed"
        report.add(
            "objects",
            f"evidence:{e.id}",
            f"{e.storage_key}: {what}, but the store recorded no deletion: deleted by hand?",
        )


def check_orphans(report: Report, inv: Inventory, orphans: list[str]) -> None:
    """Objects in the store that no record points at. One a trusted seal record names is
    said by the rows class (a lost row), or is none (a sealing rolled back, a derivative
    made again, a document of a request lost in a rebuild: warnings there)."""
    for key in orphans:
        sha = key.removeprefix(SPOOL).rpartition("/")[2]
        if any(inv.trusted(s) for s in inv.seals.get(sha, [])):
            continue
        report.add("objects", key, "an object in the store that no record points at")


def check_chains(report: Report, vault: Vault) -> None:
    bad: list[tuple[str, str]] = []
    report.extend(chains.check_audit(vault, bad))
    report.extend(chains.check_register(vault))
    anchors.read_all(vault.store, "register", bad)
    for name, reason in bad:
        report.add("chains", f"record:{name}", f"not an anchor the vault wrote: {reason}")
    with vault.session() as session:
        events = session.exec(select(func.count()).select_from(AuditEvent)).one()
        entries = session.exec(select(func.count()).select_from(RegisterEntry)).one()
    report.checked["chains"] = int(events) + int(entries)


def verify(vault: Vault, *, objects: bool = True) -> Report:
    """Every class; OBJECTS False skips re-reading the objects' bytes (the slow part)."""
    report = Report()
    store = vault.store
    check_chains(report, vault)
    orphans = find_orphans(vault)  # the store listed before the records are read
    with vault.session() as session:
        inv = load(session, store)
        check_grants(report, session)
    report.extend(lost_sealings(inv))
    if not any(f.kind == "chains" for f in report.findings):
        with vault.session() as session:
            vault.anchorer.tick(session)  # a quiet chain found whole is held from now on
            session.commit()
    if objects:
        check_objects(report, store, inv)
    check_gone(report, store, inv)
    check_orphans(report, inv, orphans)
    check_rows(report, inv)
    check_retention(report, store, inv)
    check_protection(report, store, inv)
    record(vault, report, objects)
    return report


def record(vault: Vault, report: Report, objects: bool) -> None:
    """The run's result in the audit chain: when the records were last held to the store,
    and what was found (OV-3)."""
    counts: dict[str, int] = {}
    for finding in report.findings:
        counts[finding.kind] = counts.get(finding.kind, 0) + 1
    # The most serious first, so that the findings kept are those that matter.
    ordered = sorted(report.findings, key=lambda f: report_order(f.kind))
    try:
        _append_result(vault, counts, ordered, report, objects)
    except SQLAlchemyError as exc:  # a forged head the chain cannot follow: say so, go on
        log.warning("verify result not recorded: %s", exc)
        report.add(
            "chains",
            "audit",
            "the result could not be added to the audit chain (its head is forged or "
            f"broken): {type(getattr(exc, 'orig', None) or exc).__name__}",
        )


def _append_result(
    vault: Vault, counts: dict[str, int], ordered: list[Finding], report: Report, objects: bool
) -> None:
    with vault.session() as session:
        audit.append(
            session,
            vault.actor("verify"),
            at=vault.clock.now(),
            action=VERIFIED,
            subject="store",
            detail={
                "exit_code": report.exit_code,
                "objects": objects,
                "checked": dict(report.checked),
                "found": counts,
                "findings": [f.to_json() for f in ordered[:RECORDED]],
            },
        )
        if any(f.kind == "chains" for f in report.findings):
            session.info.pop(audit.HEADS_KEY, None)  # never anchor a head found cut
        session.commit()


def report_order(kind: str) -> int:
    return CLASSES[kind][0]
