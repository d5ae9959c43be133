"""Purge lists (待清除清单, RT-1, RT-5): what may be cleared is drawn up, never deleted, by
the timer; a records keeper appraises each item (Pingdingshan 第15条: 到期后，管理人员根据
情况对无保存意义的进行清除处理) as of no value to keep (无保存价值) or to keep, with a
reason; an approver signs the list; `evault purge run` (vault/cases/purge.py) then deletes
exactly the no-value items of signed lists that the rules still let go.

Keeping an item extends nothing by itself: retention is the rules' (RT-4), and a keeper
who finds a clip worth keeping beyond its term has one of Pingdingshan 第16条's grounds
(a dispute, an obstruction, a major or sensitive case) — so `keep` with a category
classifies it long-term at once (RT-2), as the store then holds it too. A keep without a
category is an appraisal only: the clip is not drawn again until another routine term
(`routine_months`) has passed since the list was signed, when it is appraised afresh, as an
archive re-appraises what it kept (Shanxi 第22条: nothing is destroyed within its term).

Lists, marks, signatures and outcomes are rows that are never deleted, and each step is an
audit event (the chain is anchored in the store).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from vault.cases.purge import plan
from vault.cases.retention import classify, record_event
from vault.config import Settings
from vault.context import Vault
from vault.db.models import Device, Evidence, Officer, Principal, PurgeList, PurgeListItem
from vault.errors import AccessRefused, Conflict, NotFound
from vault.i18n import N_, Phrase
from vault.retention_rules import LONG_TERM_CATEGORIES
from vault.timeutil import add_months, iso

MARKS = ("no_value", "keep")
STATUSES = ("drawn", "signed", "done")
_STATUS = {"signed": Phrase(N_("signed")), "done": Phrase(N_("done"))}  # of a final list
REASON_MAX = 2000


def may_sign(principal: Principal, settings: Settings) -> str | None:
    """None when PRINCIPAL may sign a purge list; else why not: the approver role. The
    approval level (AC-0: the head) is checked by the service's purge.sign
    (vault.access.approval sits above this layer)."""
    del settings  # the level matrix (issue 18 part 1) reads it
    if "approver" not in principal.roles:
        has = ", ".join(principal.roles) or "no role"
        return f"signing a purge list needs the approver role; {principal.name} has {has}"
    return None


def _on_lists(session: Session, now: datetime, routine_months: int) -> set[int]:
    """Evidence a new list leaves out: on a list not yet run, or kept by an appraisal
    signed less than a routine term ago."""
    pending = select(PurgeListItem.evidence_id).join(
        PurgeList, col(PurgeList.id) == PurgeListItem.list_id
    )
    left = set(session.exec(pending.where(col(PurgeList.status).in_(("drawn", "signed")))))
    kept = session.exec(
        select(PurgeListItem.evidence_id, PurgeList.signed_at)
        .join(PurgeList, col(PurgeList.id) == PurgeListItem.list_id)
        .where(PurgeListItem.mark == "keep", col(PurgeList.signed_at).is_not(None))
    )
    for evidence_id, signed_at in kept:
        if signed_at is not None and add_months(signed_at, routine_months) > now:
            left.add(evidence_id)
    return left


def draw(vault: Vault, drawn_by: str) -> PurgeList | None:
    """Draw up a list of what may be cleared now (due, and nothing holds it); None when
    nothing has come due that is not already on a list. Deletes nothing."""
    now = vault.clock.now()
    with vault.session() as session:
        skip = _on_lists(session, now, vault.settings.retention.routine_months)
        entries = [e for e in plan(vault, session, now, []) if e["evidence_id"] not in skip]
        if not entries:
            return None
        listing = PurgeList(station_id=vault.settings.station_id, drawn_by=drawn_by, drawn_at=now)
        session.add(listing)
        session.flush()
        assert listing.id is not None
        for entry in entries:
            session.add(_item(session, listing.id, entry))
        record_event(
            vault,
            session,
            "purge.list_drawn",
            f"purge_list:{listing.id}",
            by=drawn_by,
            items=[entry["evidence_id"] for entry in entries],
        )
        session.commit()
        session.refresh(listing)
        return listing


def _item(session: Session, list_id: int, entry: dict[str, Any]) -> PurgeListItem:
    evidence = session.get_one(Evidence, entry["evidence_id"])
    assert evidence.id is not None and evidence.retain_until is not None
    device = session.get(Device, evidence.device_pk) if evidence.device_pk else None
    officer = session.get(Officer, evidence.officer_pk) if evidence.officer_pk else None
    return PurgeListItem(
        list_id=list_id,
        evidence_id=evidence.id,
        sha256=evidence.sha256,
        size=evidence.size,
        device_id=device.device_id if device else None,
        officer_id=officer.officer_id if officer else None,
        recorded_at=evidence.recorded_at_corrected,
        rule=entry["rule"],
        retain_until=evidence.retain_until,
    )


def _listing(session: Session, list_id: int) -> PurgeList:
    listing = session.get(PurgeList, list_id)
    if listing is None:
        raise NotFound(N_("no purge list {id}"), id=list_id)
    return listing


def _items(session: Session, list_id: int) -> list[PurgeListItem]:
    query = select(PurgeListItem).where(PurgeListItem.list_id == list_id)
    return list(session.exec(query.order_by(col(PurgeListItem.evidence_id))))


def mark(
    vault: Vault,
    list_id: int,
    evidence_ids: list[int] | None,
    mark: str,
    reason: str | None,
    marked_by: str,
    category: str | None = None,
) -> list[int]:
    """Appraise items of a list not yet signed (EVIDENCE_IDS, or every unmarked one): of no
    value to keep, or keep with a reason (and a long-term category to classify it RT-2).
    A new mark replaces an earlier one; each is an audit event."""
    if mark not in MARKS:
        raise Conflict(
            N_("unknown mark {mark} (known: {known})"), mark=repr(mark), known=", ".join(MARKS)
        )
    reason = (reason or "").strip() or None
    if mark == "keep" and reason is None:
        raise Conflict(
            N_("keeping an item needs {option}: why it is of value to keep"), option="--reason"
        )
    if reason is not None and len(reason) > REASON_MAX:
        raise Conflict(N_("the reason is longer than {most} characters"), most=REASON_MAX)
    if category is not None and (mark != "keep" or category not in LONG_TERM_CATEGORIES):
        raise Conflict(
            N_("{option} goes with {keep}, one of {known}"),
            option="--category",
            keep="--keep",
            known=", ".join(LONG_TERM_CATEGORIES),
        )
    with vault.session() as session:
        listing = _listing(session, list_id)
        if listing.status != "drawn":
            raise Conflict(
                N_("purge list {id} is {status}: its marks are final"),
                id=list_id,
                status=_STATUS.get(listing.status, listing.status),
            )
        items = {item.evidence_id: item for item in _items(session, list_id)}
        if evidence_ids:
            missing = sorted(set(evidence_ids) - set(items))
            if missing:
                raise NotFound(N_("evidence {ids} not on purge list {id}"), ids=missing, id=list_id)
            chosen = [items[e] for e in dict.fromkeys(evidence_ids)]
        else:
            chosen = [item for item in items.values() if item.mark is None]
            if not chosen:
                raise Conflict(
                    N_("every item of purge list {id} is marked: name the ids"), id=list_id
                )
    if category is not None:  # RT-2: a ground of Pingdingshan 第16条: kept long-term
        assert reason is not None
        for item in chosen:
            classify(vault, item.evidence_id, "long_term", category, reason)
    now = vault.clock.now()
    with vault.session() as session:
        for item in chosen:
            row = session.get_one(PurgeListItem, item.id)
            row.mark, row.mark_reason, row.marked_by, row.marked_at = mark, reason, marked_by, now
            session.add(row)
            record_event(
                vault,
                session,
                "purge.item_marked",
                f"evidence:{row.evidence_id}",
                purge_list=list_id,
                mark=mark,
                reason=reason,
                category=category,
                by=marked_by,
            )
        session.commit()
    return [item.evidence_id for item in chosen]


def sign(vault: Vault, list_id: int, signer: Principal, note: str | None = None) -> PurgeList:
    """An approver signs a fully marked list; never its maker nor one who marked it (the one
    who appraises and the one who approves are two people, RT-1)."""
    refused = may_sign(signer, vault.settings)
    if refused is not None:
        raise AccessRefused(refused)
    with vault.session() as session:
        listing = _listing(session, list_id)
        if listing.status != "drawn":
            raise Conflict(
                N_("purge list {id} was signed by {who}"), id=list_id, who=listing.signed_by
            )
        if listing.drawn_by == signer.name:
            raise AccessRefused(
                N_(
                    "purge list {id} was drawn up by {who}: another approver signs it, "
                    "never its maker"
                ),
                id=list_id,
                who=signer.name,
            )
        items = _items(session, list_id)
        unmarked = [item.evidence_id for item in items if item.mark is None]
        if unmarked:
            raise Conflict(
                N_(
                    "purge list {id} has unmarked items {ids}: a records keeper marks each "
                    "({command})"
                ),
                id=list_id,
                ids=unmarked,
                command="evault purge list mark",
            )
        if signer.name in {item.marked_by for item in items}:
            raise AccessRefused(
                N_(
                    "{who} marked items of purge list {id}: another approver signs it, "
                    "never one who appraised it"
                ),
                who=signer.name,
                id=list_id,
            )
        now = vault.clock.now()
        listing.status, listing.signed_by, listing.signed_at = "signed", signer.name, now
        listing.sign_note = (note or "").strip() or None
        session.add(listing)
        record_event(
            vault,
            session,
            "purge.list_signed",
            f"purge_list:{list_id}",
            by=signer.name,
            note=listing.sign_note,
            items=[[i.evidence_id, i.sha256, i.mark] for i in items],
        )
        session.flush()
        # The signed list in the WORM store (issue 15's rule: a lost or forged database loses
        # no decision): written once, in the signing's transaction, before it commits.
        vault.store.put_record(
            signed_record_name(list_id), signed_record(list_json(session, listing), now)
        )
        session.commit()
        session.refresh(listing)
        return listing


def signed_record_name(list_id: int) -> str:
    return f"purgelist/{list_id:010d}.json"


def signed_record(listed: dict[str, Any], at: datetime) -> bytes:
    """The signed list as sealed: its items, marks, reasons, maker, markers and signer."""
    body = {"type": "purge_list", "signed_at": iso(at), "list": listed}
    return json.dumps(body, ensure_ascii=False, sort_keys=True, default=str).encode()


def item_json(item: PurgeListItem) -> dict[str, Any]:
    return {
        "evidence_id": item.evidence_id,
        "sha256": item.sha256,
        "size": item.size,
        "device_id": item.device_id,
        "officer_id": item.officer_id,
        "recorded_at": iso(item.recorded_at),
        "rule": item.rule,
        "retain_until": iso(item.retain_until),
        "mark": item.mark,
        "mark_reason": item.mark_reason,
        "marked_by": item.marked_by,
        "marked_at": iso(item.marked_at),
        "outcome": item.outcome,
        "outcome_reason": item.outcome_reason,
        "outcome_at": iso(item.outcome_at),
        "job_id": item.job_id,
    }


def list_json(session: Session, listing: PurgeList, with_items: bool = True) -> dict[str, Any]:
    assert listing.id is not None
    items = _items(session, listing.id)
    found: dict[str, Any] = {
        "list_id": listing.id,
        "station_id": listing.station_id,
        "status": listing.status,
        "drawn_by": listing.drawn_by,
        "drawn_at": iso(listing.drawn_at),
        "signed_by": listing.signed_by,
        "signed_at": iso(listing.signed_at),
        "sign_note": listing.sign_note,
        "finished_at": iso(listing.finished_at),
        "counts": {
            "items": len(items),
            "unmarked": sum(1 for i in items if i.mark is None),
            "no_value": sum(1 for i in items if i.mark == "no_value"),
            "keep": sum(1 for i in items if i.mark == "keep"),
            "deleted": sum(1 for i in items if i.outcome == "deleted"),
            "skipped": sum(1 for i in items if i.outcome == "skipped"),
        },
    }
    if with_items:
        found["items"] = [item_json(item) for item in items]
    return found


def show(vault: Vault, list_id: int) -> dict[str, Any]:
    with vault.session() as session:
        return list_json(session, _listing(session, list_id))


def all_lists(vault: Vault, status: str | None = None) -> list[dict[str, Any]]:
    if status is not None and status not in STATUSES:
        raise Conflict(
            N_("unknown status {status} (known: {known})"),
            status=repr(status),
            known=", ".join(STATUSES),
        )
    with vault.session() as session:
        query = select(PurgeList).order_by(col(PurgeList.id))
        if status is not None:
            query = query.where(PurgeList.status == status)
        return [list_json(session, row, with_items=False) for row in session.exec(query)]
