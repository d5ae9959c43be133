"""The two chains held against their anchors in the WORM store (issue 15): the audit chain
and the access register. Their links and hashes catch an edited or moved row; the anchors,
which the database cannot change, catch what the links cannot: a cut tail, a wiped table, a
stretch rewritten with recomputed hashes — without the signing key.

`evault verify` reports these findings in the class "chains" (exit 4); entries the store
anchored but that are not yet signed, and entries lost before a rebuild from the store,
are "warnings" (exit 10). The register's checks are `register.verify` itself (behind
`evault access log --verify`): one truth for both commands.
"""

from __future__ import annotations

from sqlmodel import col, select

from vault.access import register
from vault.context import Vault
from vault.db.audit import GENESIS, check_chain
from vault.db.models import AuditEvent
from vault.recovery.findings import Finding
from vault.sealing import anchors
from vault.sealing.anchors import Anchor
from vault.timeutil import iso

# The action of the first event of an audit chain that `evault store rebuild-index` began
# again from an anchored head (its prev_hash is that head's hash).
REBUILT = "index.rebuilt"
# check_chain's reason for an event whose prev_hash is not its predecessor's hash.
UNLINKED = "does not follow its predecessor"


def check_audit(vault: Vault, bad: list[tuple[str, str]] | None = None) -> list[Finding]:
    """The audit chain's links and hashes, and every audit anchor in the store (those that
    are not anchors go to BAD)."""
    # The anchors first: each names a committed event, so the rows read after hold it.
    held = anchors.read_all(vault.store, "audit", bad)
    with vault.session() as session:
        events = list(session.exec(select(AuditEvent).order_by(col(AuditEvent.id))))
    return audit_findings(events, held)


def audit_findings(events: list[AuditEvent], held: list[Anchor]) -> list[Finding]:
    """What check_audit reports, for events in id order and the anchors read_all gives."""
    findings: list[Finding] = []
    base = _rebuilt_from(events, held)
    skip_first_link = False
    if base is not None:
        first = events[0]
        skip_first_link = True
        if first.action == REBUILT:
            findings.append(
                Finding(
                    "warnings",
                    f"audit:{first.id}",
                    f"events 1..{base.seq} are not in the database: the audit chain was "
                    f"rebuilt from the store's anchor of event {base.seq} ({iso(base.at)}); "
                    "they are lost",
                )
            )
        else:
            findings.append(
                Finding(
                    "chains",
                    f"audit:{first.id}",
                    f"the audit chain starts at event {first.id}, after the store's anchor of "
                    f"event {base.seq} ({iso(base.at)}), without a rebuild record: "
                    "events were deleted",
                )
            )
    for broken in check_chain(events):
        if skip_first_link and broken.event_id == events[0].id and broken.reason == UNLINKED:
            continue  # the first event follows the anchor it was rebuilt from
        findings.append(
            Finding(
                "chains", f"audit:{broken.event_id}", f"event {broken.event_id} {broken.reason}"
            )
        )
    findings.extend(_against_anchors(events, held, base))
    return findings


def _rebuilt_from(events: list[AuditEvent], held: list[Anchor]) -> Anchor | None:
    """The anchor a rebuilt chain starts from: its first event follows an anchored head
    (prev_hash is that head's hash, its id greater), not GENESIS."""
    if not events or events[0].prev_hash == GENESIS:
        return None
    first = events[0]
    assert first.id is not None
    found = [a for a in held if a.hash == first.prev_hash and a.seq < first.id]
    return found[-1] if found else None


def _against_anchors(
    events: list[AuditEvent], held: list[Anchor], base: Anchor | None
) -> list[Finding]:
    """Every anchored event must still be in the chain with the hash the store holds."""
    findings: list[Finding] = []
    by_id = {event.id: event for event in events}
    last = events[-1].id if events else None
    beyond = [a for a in held if last is None or a.seq > last]
    if beyond:
        newest = beyond[-1]
        where = (
            "the audit chain is empty" if last is None else f"the audit chain ends at event {last}"
        )
        findings.append(
            Finding(
                "chains",
                f"audit:{newest.seq}",
                f"{where} but the store anchored event {newest.seq} on {iso(newest.at)}: "
                "events were deleted",
            )
        )
    for anchor in held:
        if last is None or anchor.seq > last or (base is not None and anchor.seq <= base.seq):
            continue
        event = by_id.get(anchor.seq)
        if event is None:
            reason = f"event {anchor.seq}, anchored in the store on {iso(anchor.at)}, is missing: "
            findings.append(Finding("chains", f"audit:{anchor.seq}", reason + "deleted"))
        elif event.hash != anchor.hash:
            findings.append(
                Finding(
                    "chains",
                    f"audit:{anchor.seq}",
                    f"event {anchor.seq} differs from the one the store anchored on "
                    f"{iso(anchor.at)} (rewritten)",
                )
            )
    return findings


def check_register(vault: Vault) -> list[Finding]:
    """The access register as `evault access log --verify` checks it (links, signatures,
    anchors): its problems as "chains", its warnings as "warnings"."""
    report = register.verify(vault)
    findings = [Finding("chains", _subject(p["seq"]), p["reason"]) for p in report.problems]
    findings += [Finding("warnings", _subject(w["seq"]), w["reason"]) for w in report.warnings]
    return findings


def _subject(seq: int | None) -> str:
    return "register" if seq is None else f"register:{seq}"
