"""Spot checks (OV-2, Gansu-Eco 第48条, Pingdingshan 第17条): a random sample of recording
sessions drawn for playback review, and the reviewer's findings (reported under OV-3).

The draw is reproducible: the same seed over the same sessions gives the same sample, and
each draw (seed, range, population, result) is stored and recorded in the audit chain, so
nobody can draw until a convenient sample comes up without it showing.
"""

from __future__ import annotations

import random
import secrets
from datetime import datetime
from typing import Any

from sqlmodel import col, select

from vault.compliance.reasons import acting_name
from vault.context import Vault
from vault.db import audit
from vault.db.models import RecordingSession, ReviewDraw, SessionReview
from vault.errors import Conflict, NotFound
from vault.i18n import N_
from vault.timeutil import iso

RESULTS = ("ok", "finding")


def draw_sample(
    vault: Vault,
    count: int,
    seed: str | None = None,
    range_from: datetime | None = None,
    range_to: datetime | None = None,
) -> ReviewDraw:
    """Draw `count` sessions (all of them when fewer) from those in the range."""
    if count < 1:
        raise Conflict(N_("{option} must be at least 1"), option="--count")
    seed = seed if seed is not None else secrets.token_hex(8)
    if not seed or len(seed) > 64:
        raise Conflict(N_("{option} must be 1 to 64 characters"), option="--seed")
    with vault.session() as session:
        query = select(RecordingSession.id).where(RecordingSession.state == "current")
        if range_from is not None:
            query = query.where(col(RecordingSession.ends_at) >= range_from)
        if range_to is not None:
            query = query.where(col(RecordingSession.starts_at) < range_to)
        population = sorted(i for i in session.exec(query) if i is not None)
        if not population:
            raise NotFound(
                N_("no recording sessions in that range (run `{command}`)"),
                command="evault compliance scan",
            )
        # Reproducible on purpose (OV-2): the recorded seed redraws the same sample.
        rng = random.Random(seed)  # noqa: S311
        chosen = sorted(rng.sample(population, min(count, len(population))))
        now = vault.clock.now()
        draw = ReviewDraw(
            seed=seed,
            count=count,
            range_from=range_from,
            range_to=range_to,
            population=len(population),
            session_ids=chosen,
            drawn_by=acting_name(vault, session, "reviewer"),
            drawn_at=now,
        )
        session.add(draw)
        session.flush()
        audit.append(
            session,
            vault.actor("review"),
            at=now,
            action="review.sample_drawn",
            subject=f"draw:{draw.id}",
            detail={
                "seed": seed,
                "count": count,
                "from": iso(range_from),
                "to": iso(range_to),
                "population": len(population),
                "sessions": chosen,
                "by": draw.drawn_by,
            },
        )
        session.commit()
    return draw


def record_review(vault: Vault, session_id: int, result: str, note: str) -> SessionReview:
    """The reviewer's result for one session; a finding goes into the report (OV-3)."""
    if result not in RESULTS:
        raise Conflict(
            N_("{option} must be one of {known}"), option="--result", known=", ".join(RESULTS)
        )
    if not note.strip():
        raise Conflict(N_("a note is required: what was reviewed and what was found"))
    with vault.session() as session:
        if session.get(RecordingSession, session_id) is None:
            raise NotFound(N_("no recording session {id}"), id=session_id)
        draws = session.exec(select(ReviewDraw).order_by(col(ReviewDraw.id).desc()))
        draw = next((d for d in draws if session_id in (d.session_ids or [])), None)
        now = vault.clock.now()
        row = SessionReview(
            session_id=session_id,
            draw_id=draw.id if draw else None,
            result=result,
            note=note.strip(),
            reviewer=acting_name(vault, session, "reviewer"),
            reviewed_at=now,
        )
        session.add(row)
        session.flush()
        audit.append(
            session,
            vault.actor("review"),
            at=now,
            action="review.recorded",
            subject=f"session:{session_id}",
            detail={
                "result": result,
                "note": row.note,
                "draw_id": row.draw_id,
                "by": row.reviewer,
            },
        )
        session.commit()
    return row


def draw_json(draw: ReviewDraw) -> dict[str, Any]:
    return {
        "draw_id": draw.id,
        "seed": draw.seed,
        "count": draw.count,
        "from": iso(draw.range_from),
        "to": iso(draw.range_to),
        "population": draw.population,
        "sessions": draw.session_ids,
        "drawn_by": draw.drawn_by,
        "drawn_at": iso(draw.drawn_at),
    }


def review_json(row: SessionReview) -> dict[str, Any]:
    return {
        "review_id": row.id,
        "session_id": row.session_id,
        "draw_id": row.draw_id,
        "result": row.result,
        "note": row.note,
        "reviewer": row.reviewer,
        "reviewed_at": iso(row.reviewed_at),
    }
