"""The evidence discs of footage kept long-term (EV-2): the pair of labelled disc images a
records keeper burns for the case file (Pingdingshan 第16条 刻录光盘 ... 一式两份, 标明制作单位、
制作人、制作时间、执法活动或者案件名称及标号; Xiangxi 第17条 刻盘保存). Classifying footage
long-term queues the pair (the records keeper's `evault todo`); `evault evidence discs`
makes it: the originals, re-hashed from the store, with SHA256SUMS and a LABEL.TXT whose
制作单位 is the bureau (access.bureau_name). Burning and labelling are a person's task (the
制作人); making the images is recorded in the audit chain (evidence.discs_made, which takes
the item off the list) and, as copies of footage, in the access register (AC-7)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from vault.access import iso, register
from vault.access.export import copy_from_store
from vault.access.facts import safe_name
from vault.access.principals import current
from vault.cases.retention import get_evidence, keep_as_evidence, linked_cases, record_event
from vault.context import Vault
from vault.db.models import AuditEvent, Evidence
from vault.errors import Conflict
from vault.i18n import N_
from vault.timeutil import paper_time

MADE = "evidence.discs_made"


def made(session: Session) -> set[int]:
    """The evidence whose disc pair was made (its audit events)."""
    subjects = session.exec(select(AuditEvent.subject).where(AuditEvent.action == MADE))
    return {int(s.split(":", 1)[1]) for s in subjects if s and s.startswith("evidence:")}


def to_make(session: Session) -> list[dict[str, Any]]:
    """EV-2: footage kept long-term whose two labelled discs are not made yet."""
    done = made(session)
    query = (
        select(Evidence)
        .where(Evidence.retention_class == "long_term", col(Evidence.purged_at).is_(None))
        .order_by(col(Evidence.id))
    )
    return [
        {
            "evidence_id": e.id,
            "file_name": e.file_name,
            "category": e.long_term_category,
            "cases": ", ".join(c.number for c in linked_cases(session, e.id or 0)),
        }
        for e in session.exec(query)
        if e.id not in done
    ]


def make_discs(
    vault: Vault, evidence_ids: list[int], out: Path, shown_out: Path | None = None
) -> dict[str, Any]:
    """Write copy-1.iso and copy-2.iso (with label-copy-N.txt to print) of EVIDENCE_IDS into
    OUT (SHOWN_OUT: where the caller receives them); the footage is then kept at least
    long-term (RT-3: copied onto evidence discs)."""
    ids = sorted(set(evidence_ids))
    if not ids:
        raise Conflict(N_("name the evidence ids whose discs to make"))
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise Conflict(
            N_("{path} exists and is not an empty folder: choose a new {option}"),
            path=out,
            option="--out",
        )
    with vault.session() as session:
        maker = current(vault, session).name
        records = [get_evidence(session, i) for i in ids]
        cases = {c.number: c for e in records for c in linked_cases(session, e.id or 0)}
    case_label = "；".join(f"{c.name} {c.number}" for c in cases.values())
    units = list(dict.fromkeys(c.unit for c in cases.values()))
    out.mkdir(parents=True, exist_ok=True)
    content = out / "content"
    content.mkdir()
    try:
        sums = []
        for record in records:
            name = f"originals/{record.id:06d}-{safe_name(record.file_name)}"
            (content / name).parent.mkdir(parents=True, exist_ok=True)
            copy_from_store(vault, record.storage_key, record.sha256, content / name)
            sums.append(f"{record.sha256}  {name}\n")
        (content / "SHA256SUMS").write_text("".join(sums), encoding="utf-8")
        date = (paper_time(vault.clock.now(), vault.settings.timezone) or "")[:10]
        label = case_label or f"执法记录仪音像资料（证据 {', '.join(map(str, ids))}）"
        images = iso.write_images(
            content,
            out,
            f"EVAULT_E{ids[0]}",
            "、".join(units),
            maker,
            date,
            label,
            bureau=vault.settings.access.bureau_name,
            language=vault.settings.language,
        )
    finally:
        shutil.rmtree(content, ignore_errors=True)
    shown = shown_out or out
    keep_as_evidence(vault, ids, "copied onto the evidence discs (RT-3, EV-2)")
    with vault.session() as session:
        for record in records:
            record_event(
                vault,
                session,
                MADE,
                f"evidence:{record.id}",
                images=[p.name for p in images],
                maker=maker,
                bureau=vault.settings.access.bureau_name,
                language=vault.settings.language,
            )
        register.append(
            vault,
            session,
            "copy",
            who=maker,
            what=f"discs {' '.join(f'evidence:{i}' for i in ids)}",
            handled_by=maker,
            reason="EV-2: the evidence discs for the case file (Pingdingshan 第16条)",
            detail={"evidence": ids, "images": [p.name for p in images], "out": str(shown)},
        )
        session.commit()
    return {
        "evidence": ids,
        "images": [str(shown / p.name) for p in images],
        "labels": [str(shown / f"label-copy-{n}.txt") for n in range(1, iso.COPIES + 1)],
    }
