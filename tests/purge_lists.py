"""Purge through a signed list, for tests that need what the old `purge(dry_run=False)`
did (RT-1: nothing is deleted that a records keeper did not mark of no value and an
approver did not sign): draw up the list of what is due, mark every item of no value, have
another person sign it, and run. `purge_approved(vault)` is the adapter for tests written
against the old purge; tests of the lists themselves are tests/integration/test_purge_lists.py."""

from __future__ import annotations

from vault.cases import purge_lists
from vault.cases.purge import PurgeReport, purge
from vault.context import Vault
from vault.db.models import Principal

KEEPER = "鉴定人（测试）"
APPROVER = Principal(
    name="审批人（测试）",
    kind="staff",
    roles=["approver"],
    created_at=None,  # type: ignore[arg-type]  # never stored: only its name and roles count
    created_by="tests",
)


def approve_due(vault: Vault) -> int | None:
    """Draw up what is due now, mark it all of no value, sign it; the list's id (None: none)."""
    listing = purge_lists.draw(vault, vault.actor("purge").name)
    if listing is None or listing.id is None:
        return None
    purge_lists.mark(vault, listing.id, None, "no_value", None, KEEPER)
    purge_lists.sign(vault, listing.id, APPROVER)
    return listing.id


def purge_approved(vault: Vault) -> PurgeReport:
    """As the purge did before lists: every due clip nothing holds is deleted. `kept` has
    what the list left out (holds, open cases) and what the run skipped."""
    left_out = purge(vault, dry_run=True).kept
    approve_due(vault)
    report = purge(vault, dry_run=False)
    skipped = {entry["evidence_id"] for entry in report.kept}
    report.kept = [e for e in left_out if e["evidence_id"] not in skipped] + report.kept
    return report
