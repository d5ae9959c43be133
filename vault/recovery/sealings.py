"""Seal records held against the audit chain (`evault verify`, class "chains"): each names
the event that sealed its object, so an audit chain whose tail was cut after its newest
anchor is still found by the records of what that tail sealed.

A record whose event is not in the chain is no loss where its sealing was rolled back
after the record was written (two stations racing, a crash before the commit) and another
record of the same object is in the chain; nor where it was sealed before the database was
rebuilt from the store (those events are lost, and said so).
"""

from __future__ import annotations

from datetime import datetime

from vault.recovery.findings import Finding
from vault.recovery.inventory import Inventory
from vault.recovery.rows import sealed_elsewhere
from vault.sealing.seals import Seal
from vault.timeutil import as_utc


def _before_rebuild(seal: Seal, inv: Inventory) -> bool:
    if inv.rebuilt_at is None:
        return False
    return as_utc(datetime.fromisoformat(str(seal.body["event"]["at"]))) < inv.rebuilt_at


def lost_sealings(inv: Inventory) -> list[Finding]:
    events = {seq: h for chain, seq, h in inv.chain if chain == "audit"}
    newest = max(events, default=0)
    findings = []
    for sha, found in sorted(inv.seals.items()):
        for seal in found:
            chain, seq, _ = seal.sealing_event
            if chain != "audit" or not inv.trusted(seal) or inv.in_chain(seal):
                continue
            held = events.get(seq)
            if seq <= newest and held is None:
                continue  # a gap: the chain's links say so; a sequence number rolled back
            if sealed_elsewhere(seal, found, inv) or _before_rebuild(seal, inv):
                continue
            findings.append(
                Finding(
                    "chains",
                    f"audit:{seq}",
                    f"the audit chain lost event {seq} that sealed {seal.kind} {sha} (its seal "
                    f"record {seal.name}): cut",
                )
            )
    return findings
