"""The retention class of `evault verify`: the database's retain-until and legal hold of each
live original (of a derivative: its retain-until) held against the store's own (RT-4), and
the purge's marks against what the store holds.

The store enforces its own retention (the local store in immutable records, S3 in Object
Lock); the database's copy only decides what the purge asks for. A database date earlier
than the store's means it was edited (the purge would be refused); a later one means the
store would let the object go before the database says (a push that failed, or a store
edited); either way the two no longer agree. A format 1 retention file beside a record
series is something written by hand: the store ignores it, but it should not be there.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

from vault.errors import ObjectMissing, StoreError
from vault.recovery.findings import Report
from vault.recovery.inventory import SPOOL, Inventory, exists
from vault.retention_rules import PERMANENT
from vault.store import WormStore
from vault.store.s3_bucket import MAX_RETAIN_UNTIL
from vault.timeutil import as_utc, iso

# S3 keeps Object Lock dates to the second (some services round up): closer is the same.
SLACK = timedelta(seconds=1)


def _local_root(store: WormStore, key: str) -> Path | None:
    """The folder of the local store that holds KEY (the store's, or the spool's)."""
    if key.startswith(SPOOL):
        store = getattr(store, "spool", store)
    root = getattr(store, "root", None)
    return root if isinstance(root, Path) else None


def _compare(
    report: Report,
    store: WormStore,
    subject: str,
    key: str,
    until: datetime,
    hold: bool | None,
) -> None:
    """HOLD None: not compared (a derivative's hold follows its original's only when the
    original's retention is next pushed; the original's own hold is what the purge asks)."""
    try:
        info = store.stat(key)
    except ObjectMissing:
        return  # the objects class reports it
    except StoreError as exc:
        report.add("retention", subject, f"the store's retention cannot be read: {exc}")
        return
    if info.retain_until is None:
        report.add("retention", subject, f"the store holds no retention record for {key}")
        return
    # S3 services hold "permanent" as the latest date they can (2106-01-01, s3_bucket.py):
    # past that, the two sides are the same date.
    until = min(as_utc(until), MAX_RETAIN_UNTIL)
    stored = min(as_utc(info.retain_until), MAX_RETAIN_UNTIL)
    if until < stored - SLACK:
        report.add(
            "retention",
            subject,
            f"the database keeps it until {iso(until)}, the store until "
            f"{iso(info.retain_until)}: the database was edited (a purge would be refused)",
        )
    elif until > stored + SLACK:
        report.add(
            "retention",
            subject,
            f"the database keeps it until {iso(until)}, but the store would let it go at "
            f"{iso(info.retain_until)}: its retention was never pushed, or the store was edited",
        )
    if hold is not None and hold != info.legal_hold:
        held = "holds it" if hold else "has no hold on it"
        report.add(
            "retention",
            subject,
            f"the database {held}, the store {'does' if info.legal_hold else 'does not'}",
        )
    _sidecar(report, store, subject, key)


def _sidecar(report: Report, store: WormStore, subject: str, key: str) -> None:
    """A format 1 retention file beside a record series (which alone holds)."""
    root = _local_root(store, key)
    sha = key.rsplit("/", 1)[-1]
    if root is None:
        return
    path = root / "retention" / sha[:2] / f"{sha}.json"
    if not path.exists():
        return
    local = getattr(store, "spool", store) if key.startswith(SPOOL) else store
    try:
        series = [
            json.loads(local.read_record(n))
            for n in local.record_names(f"retention/{sha[:2]}/{sha}/")
        ]
        data = json.loads(path.read_text())
    except (OSError, ValueError, StoreError) as exc:
        report.add("retention", subject, f"unreadable format 1 retention file {path}: {exc}")
        return
    if not series:
        return  # the store reads it and turns it into records on its next look
    held = max(datetime.fromisoformat(str(r["retain_until"])) for r in series)
    written = data.get("retain_until")
    if written is None or abs(as_utc(datetime.fromisoformat(written)) - as_utc(held)) > SLACK:
        report.add(
            "retention",
            subject,
            f"a format 1 retention file {path} says {written}, the store's records "
            f"{iso(held)}: someone wrote it (the store ignores it; remove it)",
        )


def check_retention(report: Report, store: WormStore, inv: Inventory) -> None:
    checked = 0
    for e in inv.evidence:
        subject = f"evidence:{e.id}"
        if e.id in inv.purging:
            continue  # the purge finishes it (`evault purge`)
        held = exists(store, e.storage_key)
        if held is None:
            continue  # no key of this store: the objects and rows classes report it
        if e.purged_at is not None:
            if held:
                report.add(
                    "retention",
                    subject,
                    f"marked purged on {iso(e.purged_at)} but its object is still in the store",
                )
            continue
        checked += 1
        if not held and e.sha256 in inv.deleted:
            report.add(
                "retention",
                subject,
                "the store deleted its object (a deleted/ record), yet the row is live: the "
                "database was restored from before the purge, or edited",
            )
            continue
        _compare(report, store, subject, e.storage_key, e.retain_until or PERMANENT, e.legal_hold)
    # Derivatives follow their originals; bytes shared by two are kept for the longer.
    shared: dict[str, list[int]] = defaultdict(list)
    row_ids: dict[str, list[int]] = defaultdict(list)
    for d in inv.derivatives:
        if d.purged_at is None and d.id is not None:
            shared[d.storage_key].append(d.evidence_id)
            row_ids[d.storage_key].append(d.id)
    live = {d.storage_key for d in inv.derivatives if d.purged_at is None}
    for d in inv.derivatives:
        if d.purged_at is not None and d.storage_key not in live and exists(store, d.storage_key):
            report.add(
                "retention",
                f"derivative:{d.id}",
                f"marked purged on {iso(d.purged_at)} but its object is still in the store",
            )
    for key, originals in shared.items():
        rows = [inv.by_id[i] for i in originals if i in inv.by_id]
        if not rows:
            continue
        checked += 1
        until = max(as_utc(r.retain_until or PERMANENT) for r in rows)
        _compare(report, store, f"derivative:{min(row_ids[key])}", key, until, None)
    report.checked["retention"] = checked
