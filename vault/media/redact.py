"""Redacted copies for release (AC-9, issue 20): a clip's redaction plan, its versions and
its renders. Detected faces and a reviewer's changes become a new attributed plan version
(a RedactionPlan row, an audit event `media.redaction_plan`, and the plan sealed as a record
in the WORM store); rendering a version makes a derivative `redacted-<version>` sealed like
any other (its seal record, its original's retention), so every render ever released stays
in the store and in the records. The original is only read, from a re-hashed copy (IN-3).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from vault.context import Vault
from vault.db import audit
from vault.db.models import Derivative, Evidence
from vault.db.models.media import RedactionPlan
from vault.errors import Conflict, NotFound
from vault.media import derivatives, redact_plan
from vault.media.redact_plan import Plan, PlanError
from vault.media.redact_source import Source, fetched, geometry, source_of
from vault.sealing.seals import canonical
from vault.timeutil import iso

KIND = "redacted"  # a render of plan version N is the derivative "redacted-N"


def kind_of(version: int) -> str:
    return f"{KIND}-{version}"


@dataclass
class Changes:
    """What one `evault evidence redact` asks for."""

    faces: bool = False
    boxes: list[str] = field(default_factory=list)  # T0-T1:x,y,w,h
    mutes: list[str] = field(default_factory=list)  # T0-T1
    drops: list[str] = field(default_factory=list)  # box or mute ids
    plan_in: dict[str, Any] | None = None
    style: str | None = None
    every: int = 5
    detect_width: int = 640
    note: str | None = None

    def any(self) -> bool:
        return bool(
            self.faces or self.boxes or self.mutes or self.drops or self.plan_in or self.style
        )


def versions(session: Session, evidence_id: int) -> list[RedactionPlan]:
    query = select(RedactionPlan).where(RedactionPlan.evidence_id == evidence_id)
    return list(session.exec(query.order_by(col(RedactionPlan.version))))


def latest(session: Session, evidence_id: int) -> RedactionPlan | None:
    found = versions(session, evidence_id)
    return found[-1] if found else None


def render_of(session: Session, row: RedactionPlan) -> Derivative | None:
    """The live render of this very plan version, if it was rendered."""
    found = derivatives.find(session, row.evidence_id, kind_of(row.version))
    if found is not None and found.params.get("plan_sha256") == row.sha256:
        return found
    return None


@dataclass(frozen=True)
class Release:
    """What a release of a clip would hide: the newest plan and its render, or why not."""

    plan: RedactionPlan | None
    render: Derivative | None
    problem: str | None

    def facts(self) -> dict[str, Any]:
        """The plan a package's manifest and register entry name."""
        assert self.plan is not None and self.render is not None
        return {
            "plan_id": self.plan.id,
            "plan_version": self.plan.version,
            "plan_sha256": self.plan.sha256,
            "plan_author": self.plan.author,
            "plan_created_at": iso(self.plan.created_at),
            "derivative": self.render.kind,
            "sha256": self.render.sha256,
            "size": self.render.size,
            "media_type": self.render.media_type,
            "summary": redact_plan.summary(dict(self.plan.plan)),
        }


def release(session: Session, evidence_id: int) -> Release:
    """The redacted copy a release uses: the render of the newest plan version. An older
    render is never handed out in its place (the reviewer changed the plan since)."""
    row = latest(session, evidence_id)
    if row is None:
        return Release(None, None, "it has no redaction plan")
    rendered = render_of(session, row)
    if rendered is None:
        return Release(row, None, f"its redaction plan version {row.version} is not rendered")
    return Release(row, rendered, None)


def _changed_plan(
    current: Plan, changes: Changes, source: Path, vault: Vault
) -> tuple[Plan, list[str]]:
    """The plan with the changes applied (in the order: file, faces, drops, boxes, mutes)."""
    plan, done = copy.deepcopy(current), []
    if changes.plan_in is not None:
        plan = redact_plan.validate(changes.plan_in, plan)
        done.append("plan file read")
    if changes.faces:
        from vault.media import redact_detect  # numpy and a model: not for every command

        found = redact_detect.find_faces(
            source,
            plan,
            vault.settings.media,
            every=changes.every,
            detect_width=changes.detect_width,
        )
        count = redact_plan.set_faces(plan, found.tracks, found.detector)
        done.append(f"{count} face tracks from {found.frames} frames looked at")
    for item in changes.drops:
        redact_plan.drop(plan, item)
        done.append(f"dropped {item}")
    for text in changes.boxes:
        t0, t1, rect = redact_plan.parse_box(text)
        done.append(f"box {redact_plan.add_box(plan, t0, t1, rect)}")
    for text in changes.mutes:
        t0, t1 = redact_plan.parse_range(text)
        done.append(f"mute {redact_plan.add_mute(plan, t0, t1)}")
    if changes.style is not None:
        if changes.style not in redact_plan.STYLES:
            raise PlanError(f"style {changes.style!r}: one of {', '.join(redact_plan.STYLES)}")
        plan["style"] = changes.style
        done.append(f"style {changes.style}")
    return plan, done


def _seal_version(vault: Vault, session: Session, evidence: Evidence, row: RedactionPlan) -> str:
    """The plan version as a record in the WORM store, beside its original's seal records,
    naming the audit event that recorded it: the database row is never its only copy."""
    event = audit.append(
        session,
        vault.actor("redact"),
        at=row.created_at,
        action="media.redaction_plan",
        subject=f"evidence:{evidence.id}",
        detail={
            "plan_id": row.id,
            "version": row.version,
            "sha256": row.sha256,
            "author": row.author,
            "note": row.note,
            **redact_plan.summary(dict(row.plan)),
        },
    )
    session.flush()
    sha = evidence.sha256
    name = f"redaction/{sha[:2]}/{sha}/{row.version:06d}-{event.hash[:16]}.json"
    body = {
        "format": 1,
        "type": "redaction_plan",
        "evidence_id": evidence.id,
        "original_sha256": sha,
        "version": row.version,
        "plan_sha256": row.sha256,
        "author": row.author,
        "os_user": row.os_user,
        "created_at": row.created_at.isoformat(),
        "note": row.note,
        "plan": row.plan,
        "event": {"chain": "audit", "seq": event.id, "hash": event.hash, "at": iso(event.at)},
    }
    vault.store.put_record(name, canonical(body))
    return name


def _new_version(
    vault: Vault, evidence_id: int, plan: Plan, author: str, note: str | None
) -> RedactionPlan:
    with vault.session() as session:
        evidence = session.get_one(Evidence, evidence_id)
        previous = latest(session, evidence_id)
        plan["version"] = (previous.version if previous else 0) + 1
        row = RedactionPlan(
            evidence_id=evidence_id,
            version=plan["version"],
            plan=plan,
            sha256=redact_plan.digest(plan),
            author=author,
            os_user=vault.user,
            created_at=vault.clock.now(),
            note=note,
        )
        session.add(row)
        try:
            session.flush()
        except IntegrityError:
            raise Conflict(
                f"another version {row.version} of evidence {evidence_id}'s redaction plan was "
                "made meanwhile: look at it (--plan-out) and run again"
            ) from None
        _seal_version(vault, session, evidence, row)
        session.commit()
        session.refresh(row)
        return row


def _render(vault: Vault, row: RedactionPlan, source: Path) -> Derivative:
    """Render ROW's plan, seal the file (no transaction open) and link it to its original."""
    settings = vault.settings.media
    out = source.parent / "redacted.mp4"
    plan: Plan = dict(row.plan)
    from vault.media import redact_render  # OpenCV: not for every command (issue 22)

    done = redact_render.render(source, plan, out, settings)
    with vault.session() as session:  # the latest retention, read and let go
        evidence = session.get_one(Evidence, row.evidence_id)
        until, held = evidence.retain_until, evidence.legal_hold
        session.commit()
    sealed = derivatives.seal(vault, out, until)
    if held:
        vault.store.set_legal_hold(sealed.key, True)
    kind = kind_of(row.version)
    params = {
        "plan_id": row.id,
        "plan_version": row.version,
        "plan_sha256": row.sha256,
        "plan_author": row.author,
        "source": plan["source"],
        "source_sha256": plan["source_sha256"],
        "style": plan["style"],
        "face_scale": plan["face_scale"],
        **redact_plan.summary(plan),
        "crf": settings.crf,
        "preset": settings.preset,
        "frames": done.frames,
        "frames_hidden": done.hidden_frames,
        "render_s": round(done.seconds, 3),
        "speed_x": round(float(plan["duration_s"]) / done.seconds, 2) if done.seconds else None,
    }
    with vault.session() as session:
        linked = derivatives.link(
            vault, session, row.evidence_id, kind, sealed, encoder=done.encoder, params=params
        )
        session.commit()
        session.refresh(linked)
        return linked


def redact(
    vault: Vault, evidence_id: int, author: str, changes: Changes, render: bool
) -> dict[str, Any]:
    """Apply CHANGES as a new plan version (when they change anything) and, with RENDER,
    render the newest version (once: an existing render of it is kept)."""
    if not 1 <= changes.every <= 100:
        raise PlanError("--every: look at every Nth frame, N from 1 to 100")
    with vault.session() as session:
        evidence = session.get(Evidence, evidence_id)
        if evidence is None:
            raise NotFound(f"no evidence {evidence_id}")
        source = source_of(session, evidence)
        current = latest(session, evidence_id)
        rendered = render_of(session, current) if current else None
        session.commit()
    needs_source = (changes.any() and (current is None or changes.faces)) or (
        render and (changes.any() or rendered is None)
    )
    created, done = None, list[str]()
    with _maybe_fetched(vault, source, bool(needs_source)) as path:
        if changes.any():
            base = dict(current.plan) if current else _empty(vault, evidence_id, source, path)
            if base["source_sha256"] != source.sha256:
                raise Conflict(
                    f"evidence {evidence_id}'s plan was made on {base['source']} "
                    f"{base['source_sha256']}, and it is redacted from {source.sha256} now: "
                    "start a new plan with --plan-in"
                )
            plan, done = _changed_plan(base, changes, path or Path("/nonexistent"), vault)
            if current is None or not redact_plan.same_content(plan, dict(current.plan)):
                created = current = _new_version(vault, evidence_id, plan, author, changes.note)
                rendered = None
        if render:
            if current is None:
                raise Conflict(f"evidence {evidence_id} has no redaction plan: give --faces first")
            if rendered is None:
                assert path is not None
                rendered = _render(vault, current, path)
    with vault.session() as session:
        history = [_version_json(session, row) for row in versions(session, evidence_id)]
    return {
        "evidence_id": evidence_id,
        "changed": created is not None,
        "changes": done,
        "plan": dict(current.plan) if current else None,
        "version": current.version if current else None,
        "render": derivatives.as_json(rendered) if rendered else None,
        "versions": history,
    }


@contextmanager
def _maybe_fetched(vault: Vault, source: Source, wanted: bool) -> Iterator[Path | None]:
    if not wanted:
        yield None
        return
    with fetched(vault, source) as path:
        yield path


def _empty(vault: Vault, evidence_id: int, source: Source, path: Path | None) -> Plan:
    assert path is not None
    found = geometry(path, source.sha256, source.kind, vault.settings.media.probe_timeout_s)
    return redact_plan.new_plan(evidence_id, found)


def _version_json(session: Session, row: RedactionPlan) -> dict[str, Any]:
    rendered = render_of(session, row)
    return {
        "plan_id": row.id,
        "version": row.version,
        "sha256": row.sha256,
        "author": row.author,
        "os_user": row.os_user,
        "created_at": iso(row.created_at),
        "note": row.note,
        **redact_plan.summary(dict(row.plan)),
        "rendered": rendered.sha256 if rendered else None,
    }
