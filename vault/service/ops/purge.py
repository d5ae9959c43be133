"""Operations on the purge (RT-1..RT-5): a dry run, drawing up a list of what may be
cleared (the timer's only work), a records keeper's marks, an approver's signature, the
run that deletes the signed items, and the lists as JSON or as a paper."""

from __future__ import annotations

from typing import Any

from vault.access import approval
from vault.access.purge_paper import write_purge_list_pdf
from vault.cases import purge_lists
from vault.cases.purge import purge as run_purge
from vault.errors import AccessRefused
from vault.i18n import N_
from vault.logs import configure as configure_logging
from vault.service.api import Call, operation
from vault.timeutil import parse_time


@operation("purge.plan")
def plan(call: Call, as_of: str | None = None) -> dict[str, Any]:
    """What may be cleared now (or as of a given time): planning only, nothing recorded."""
    when = parse_time(as_of, call.vault.settings.timezone)
    return run_purge(call.vault, dry_run=True, as_of=when).to_json()


@operation("purge.draw")
def draw(call: Call) -> dict[str, Any] | None:
    """Draw up a list of what may be cleared now; deletes nothing (RT-1)."""
    configure_logging(call.vault.settings)
    by = call.principal.name if call.principal else call.vault.actor("purge").name
    listing = purge_lists.draw(call.vault, by)
    return None if listing is None else purge_lists.show(call.vault, listing.id or 0)


@operation("purge.lists")
def lists(
    call: Call, list_id: int | None = None, status: str | None = None, pdf: bool = False
) -> dict[str, Any]:
    if list_id is None:
        return {"lists": purge_lists.all_lists(call.vault, status)}
    listing = purge_lists.show(call.vault, list_id)
    if pdf:
        write_purge_list_pdf(call.vault.settings, listing, call.output("purge-list.pdf"))
    return listing


@operation("purge.mark")
def mark(
    call: Call,
    list_id: int,
    mark: str,
    evidence_ids: list[int] | None = None,
    reason: str | None = None,
    category: str | None = None,
) -> dict[str, Any]:
    marked = purge_lists.mark(call.vault, list_id, evidence_ids, mark, reason, call.name, category)
    return {"list_id": list_id, "mark": mark, "marked": marked}


@operation("purge.sign")
def sign(call: Call, list_id: int, note: str | None = None) -> dict[str, Any]:
    if call.principal is None:
        raise AccessRefused(N_("a purge list is signed by a principal with the approver role"))
    # AC-0: clearing records is approved by the bureau's head (Pingdingshan 第15条 with
    # 第4、5条: 局机关主要负责人); no document lets a deputy approve a destruction.
    approval.require_level(call.vault.settings, call.principal, "head", N_("signing a purge list"))
    purge_lists.sign(call.vault, list_id, call.principal, note)
    return purge_lists.show(call.vault, list_id)


@operation("purge.run")
def run(call: Call) -> dict[str, Any]:
    """Delete, as of now, the items of signed lists that the rules still let go (RT-5)."""
    configure_logging(call.vault.settings)
    return run_purge(call.vault, dry_run=False).to_json()
