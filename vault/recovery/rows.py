"""The rows class of `evault verify`: each evidence, derivative and document row held against
the seal record of its object, and each seal record against the rows (a lost row).

A row matches when every fact it shares with a seal record is the same: the seal record
whose event is in the chain (several when the object was sealed more than once), or failing
that any of them. Mutable columns (status, retention, media, markings, purged_at ...) are
no facts of the sealing and are not compared; nor is the spool's key prefix, which the
upload drops.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from sqlmodel import SQLModel

from vault.db.models import AccessDocument, Derivative, Evidence, StopRecord
from vault.recovery.findings import Report
from vault.recovery.inventory import Inventory, bare_key
from vault.sealing.seals import Seal, facts_digest, facts_of
from vault.timeutil import as_utc

TIMES = {
    "recorded_at",
    "recorded_at_corrected",
    "docked_at",
    "sealed_at",
    "created_at",
    "stop_from",
    "stop_to",
    "filed_at",
}
EVIDENCE_FACTS = (
    "id",
    "sha256",
    "size",
    "kind",
    "file_name",
    "camera_folder",
    "sequence",
    "camera_time",
    "camera_time_source",
    "recorded_at",
    "recorded_at_corrected",
    "docked_at",
    "sealed_at",
    "dock_session_id",
)
DERIVATIVE_FACTS = (
    "id",
    "evidence_id",
    "kind",
    "sha256",
    "size",
    "media_type",
    "encoder",
    "params",
    "recovered_s",
    "created_at",
)
DOCUMENT_FACTS = ("id", "request_id", "kind", "file_name", "sha256", "size", "sealed_at")
STOP_FACTS = (
    "id",
    "device_pk",
    "officer_pk",
    "stop_from",
    "stop_to",
    "reason",
    "basis",
    "statement_name",
    "statement_sha256",
    "statement_size",
    "filed_by",
    "filed_at",
)
UPGRADE_HINT = (
    "sealed before this version kept seal records? then run `evault verify --seal-missing` "
    "once after upgrading"
)
REBUILD_HINT = "run `evault store rebuild-index`"


def _same(name: str, now: Any, sealed: Any) -> bool:
    if name in TIMES and now is not None and sealed is not None:
        moment = now if isinstance(now, datetime) else datetime.fromisoformat(str(now))
        return as_utc(moment) == as_utc(datetime.fromisoformat(str(sealed)))
    if isinstance(now, float) or isinstance(sealed, float):
        return now is not None and sealed is not None and float(now) == float(sealed)
    return bool(now == sealed)


def _compare(
    row: SQLModel, sealed: dict[str, Any] | None, facts: Iterable[str], key_attr: str
) -> list[str]:
    """The facts in which ROW differs from the row its seal record dumped."""
    if sealed is None:
        return ["the seal record holds no row"]
    differ = [f for f in facts if not _same(f, getattr(row, f), sealed.get(f))]
    if bare_key(getattr(row, key_attr)) != bare_key(sealed.get(key_attr)):
        differ.append(key_attr)
    return differ


def _check(
    report: Report,
    inv: Inventory,
    subject: str,
    sha256: str | None,
    candidates: Callable[[Seal], bool],
    differences: Callable[[Seal], list[str]],
) -> None:
    """One row against its seal records: none is a finding, and so is a disagreement."""
    found = [s for s in inv.seals.get(sha256 or "", []) if inv.trusted(s) and candidates(s)]
    if not found:
        report.add("rows", subject, f"no seal record of its object {sha256} ({UPGRADE_HINT})")
        return
    pool = [s for s in found if inv.in_chain(s)] or found
    compared = [differences(s) for s in pool]
    if any(not differ for differ in compared):
        return
    differ = min(compared, key=len)
    report.add(
        "rows",
        subject,
        f"differs from its seal record {pool[compared.index(differ)].name} in "
        f"{', '.join(differ)}: the database row was altered",
    )


def _evidence_differences(inv: Inventory, row: Evidence, seal: Seal) -> list[str]:
    body = seal.body
    differ = _compare(row, body.get("evidence"), EVIDENCE_FACTS, "storage_key")
    sealed_device = (body.get("device") or {}).get("device_id")
    sealed_officer = (body.get("officer") or {}).get("officer_id")
    if inv.device_id(row.device_pk) != sealed_device:
        differ.append("device")
    if inv.officer_id(row.officer_pk) != sealed_officer:
        differ.append("officer")
    return differ


def _derivative_differences(inv: Inventory, row: Derivative, seal: Seal) -> list[str]:
    differ = _compare(row, seal.body.get("derivative"), DERIVATIVE_FACTS, "storage_key")
    original = inv.by_id.get(row.evidence_id)
    sealed_original = seal.body.get("original") or {}
    if original is None or original.sha256 != sealed_original.get("sha256"):
        differ.append("original")
    return differ


def _evidence_row(report: Report, inv: Inventory, row: Evidence) -> None:
    _check(
        report,
        inv,
        f"evidence:{row.id}",
        row.sha256,
        lambda s: s.kind == "evidence",
        lambda s: _evidence_differences(inv, row, s),
    )


def _derivative_row(report: Report, inv: Inventory, row: Derivative) -> None:
    _check(
        report,
        inv,
        f"derivative:{row.id}",
        row.sha256,
        lambda s: s.kind == "derivative",
        lambda s: _derivative_differences(inv, row, s),
    )


def _document_row(report: Report, inv: Inventory, row: AccessDocument) -> None:
    _check(
        report,
        inv,
        f"document:{row.id}",
        row.sha256,
        lambda s: s.kind == "document" and s.body.get("subject") == f"request:{row.request_id}",
        lambda s: _compare(row, s.body.get("row"), DOCUMENT_FACTS, "storage_key"),
    )


def _stop_row(report: Report, inv: Inventory, row: StopRecord) -> None:
    _check(
        report,
        inv,
        f"stop-record:{row.id}",
        row.statement_sha256,
        lambda s: s.kind == "document" and s.body.get("subject") == f"stop:{row.id}",
        lambda s: _compare(row, s.body.get("row"), STOP_FACTS, "statement_key"),
    )


def check_rows(report: Report, inv: Inventory) -> None:
    for evidence in inv.evidence:
        _evidence_row(report, inv, evidence)
    for derivative in inv.derivatives:
        _derivative_row(report, inv, derivative)
    for document in inv.documents:
        _document_row(report, inv, document)
    for stop in inv.stops:
        _stop_row(report, inv, stop)
    report.checked["rows"] = (
        len(inv.evidence) + len(inv.derivatives) + len(inv.documents) + len(inv.stops)
    )
    _bad_records(report, inv)
    _untrusted(report, inv)
    _conflicts(report, inv)
    _lost_rows(report, inv)


FORGED = "a seal record that its sealing event does not vouch for: forged"


def _bad_records(report: Report, inv: Inventory) -> None:
    """Records in the store that are not what the vault writes (not JSON, keys missing, a
    link, too large): each said, none trusted."""
    for name, reason in inv.bad:
        report.add("rows", f"record:{name}", f"not a record the vault wrote: {reason}")


def _untrusted(report: Report, inv: Inventory) -> None:
    for _, found in sorted(inv.seals.items()):
        for seal in found:
            if inv.forged(seal):
                report.add("rows", f"seal:{seal.name}", FORGED)
            elif not seal.canonical:
                report.add(
                    "rows",
                    f"seal:{seal.name}",
                    "a seal record not named as the vault names it (its facts say "
                    f"{seal.expected_name}): forged",
                )


def _conflicts(report: Report, inv: Inventory) -> None:
    """Two seal records of one sealing (its event, and for a document which one) that hold
    other facts: one of them is forged (a sealing event that vouches for its record has
    already told which)."""
    by_sealing: dict[tuple[Any, ...], list[Seal]] = {}
    for _, found in sorted(inv.seals.items()):
        for seal in found:
            if inv.trusted(seal):
                by_sealing.setdefault(seal.identity, []).append(seal)
    for (chain, seq, *_), found in by_sealing.items():
        first, *others = sorted(found, key=lambda s: s.name)
        facts = canonical_facts(first)
        for other in others:
            if canonical_facts(other) != facts:
                report.add(
                    "rows",
                    f"seal:{other.name}",
                    f"names the same sealing ({chain} event {seq}) as {first.name} with other "
                    "facts: one of them is forged",
                )


def canonical_facts(seal: Seal) -> str:
    return facts_digest(facts_of(seal.body))


def _lost_rows(report: Report, inv: Inventory) -> None:
    """Seal records of objects that no row records: the row was deleted, or its sha256 was
    changed to other bytes, or the database is older than the store (a restore)."""
    evidence = {e.sha256 for e in inv.evidence}
    derivatives = {(d.sha256, d.evidence_id) for d in inv.derivatives}
    remade = {(d.evidence_id, d.kind): as_utc(d.created_at) for d in inv.derivatives}
    documents: set[tuple[str | None, str]] = {
        (d.sha256, f"request:{d.request_id}") for d in inv.documents
    }
    documents |= {(s.statement_sha256, f"stop:{s.id}") for s in inv.stops}
    for sha, found in sorted(inv.seals.items()):
        for seal in found:
            if not inv.trusted(seal):
                continue  # said above
            if not inv.in_chain(seal) and sealed_elsewhere(seal, found, inv):
                continue  # a sealing rolled back (two stations, a crash): the other holds
            if seal.kind == "evidence" and sha not in evidence:
                what = "evidence"
            elif seal.kind == "derivative":
                original = (seal.body.get("original") or {}).get("evidence_id")
                if (sha, original) in derivatives or _superseded(seal, remade):
                    continue
                what = "derivative"
            elif seal.kind == "document" and (sha, seal.body.get("subject")) not in documents:
                what = f"document ({seal.body.get('subject')})"
                if inv.rebuilt and str(seal.body.get("subject")).startswith("request:"):
                    report.add(
                        "warnings",
                        f"seal:{seal.name}",
                        f"a {what} presented before the database was rebuilt: its request "
                        "could not be rebuilt; the document stays sealed in the store",
                    )
                    continue
            else:
                continue
            report.add(
                "rows",
                f"seal:{seal.name}",
                f"sealed object with no record: {what} {sha}; {REBUILD_HINT}",
            )


def sealed_elsewhere(seal: Seal, found: list[Seal], inv: Inventory) -> bool:
    """Another record of the same object whose event is in the chain: SEAL's sealing was
    rolled back after its record was written (two stations racing, a crash before the
    commit), and the other holds."""
    return any(
        other is not seal and other.kind == seal.kind and inv.trusted(other) and inv.in_chain(other)
        for other in found
    )


def _superseded(seal: Seal, remade: dict[tuple[int, str], datetime]) -> bool:
    """A derivative made again since (the same original and kind, newer bytes)."""
    row = seal.body.get("derivative") or {}
    at = remade.get((int(row.get("evidence_id") or 0), str(row.get("kind"))))
    sealed_at = (seal.body.get("event") or {}).get("at")
    return (
        at is not None and sealed_at is not None and at >= as_utc(datetime.fromisoformat(sealed_at))
    )
