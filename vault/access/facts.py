"""What an export package says about its records (EV-1, EV-3): device, officers, times and
clock offset, cases, and the chain of custody (audit chain and access register entries);
and which records go out as their redacted copy, by whose plan (AC-9)."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, or_, select

from vault.access import policy
from vault.access.policy import Scope
from vault.cases.cases import find_case
from vault.cases.retention import linked_cases
from vault.context import Vault
from vault.db.models import (
    AccessDocument,
    AccessGrant,
    AccessRequest,
    AuditEvent,
    Case,
    CaseHandler,
    Derivative,
    Device,
    DockSession,
    Evidence,
    Officer,
    Principal,
    RegisterEntry,
)
from vault.errors import AccessRefused
from vault.media import redact
from vault.timeutil import iso, paper_time

SUFFIXES = {"video/mp4": ".mp4", "video/webm": ".webm", "audio/mp4": ".m4a", "image/jpeg": ".jpg"}


def viewing_copy(session: Session, evidence_id: int) -> Derivative | None:
    """The viewing derivative made by the media jobs, when there is one."""
    query = select(Derivative).where(
        Derivative.evidence_id == evidence_id,
        Derivative.kind == "viewing",
        col(Derivative.purged_at).is_(None),
    )
    return session.exec(query).first()


def redactions(
    session: Session, evidence: list[Evidence], grantee: Principal, action: str, asked: bool
) -> dict[int, redact.Release]:
    """The redacted copy of each record that must go out redacted (AC-9); refused (and
    registered as refusals are) when one has no render of its newest plan."""
    found: dict[int, redact.Release] = {}
    for record in evidence:
        assert record.id is not None
        if not policy.needs_redaction(record, grantee, action, asked):
            continue
        release = redact.release(session, record.id)
        if release.problem is not None:
            raise AccessRefused(policy.redaction_refusal(record, grantee, asked, release.problem))
        found[record.id] = release
    return found


def register_redactions(hidden: dict[int, redact.Release]) -> list[dict[str, Any]]:
    """The register entry's account of what was hidden: each record's plan and copy."""
    keys = ("plan_id", "plan_version", "plan_sha256", "plan_author", "sha256")
    return [
        {"evidence_id": evidence_id, **{k: release.facts()[k] for k in keys}}
        for evidence_id, release in sorted(hidden.items())
    ]


def safe_name(name: str) -> str:
    """File names any receiving machine (and sha256sum -c) takes as they are."""
    cleaned = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in name)
    return cleaned.lstrip(".") or "file"


def local(value: datetime | None, tz: str) -> str | None:
    """Times in the package and its statement: local, to the second, the zone named in
    Chinese (2026-12-02 03:01:05 北京时间)."""
    return paper_time(value, tz)


def _officer(session: Session, pk: int | None) -> dict[str, Any] | None:
    officer = session.get(Officer, pk) if pk else None
    if officer is None:
        return None
    name = officer.name
    if not name:  # the person the records keeper registered with this badge
        named = select(Principal.name).where(Principal.officer_pk == officer.id)
        name = session.exec(named).first()
    return {"officer_id": officer.officer_id, "name": name, "unit": officer.unit}


def _handlers(session: Session, cases: list[Case]) -> list[dict[str, Any]]:
    """The officers a case record names as its handlers (承办人), set by a records keeper."""
    found = []
    for case in cases:
        query = (
            select(CaseHandler.officer_pk)
            .where(CaseHandler.case_id == case.id)
            .order_by(col(CaseHandler.id))
        )
        found += [o for pk in session.exec(query) if (o := _officer(session, pk))]
    return found


def present_officers(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """EV-1: the officers present (执法人员), by badge, each once: who wore the camera of
    each clip (it recorded them there), and the handlers of the clips' cases, the officers
    the case record names as conducting the enforcement (Xiangxi 第16条 执法人员姓名, 由分管
    领导和执法人员签名). Who docked the camera later was not necessarily there: the
    collecting officer is named apart."""
    seen: dict[str, dict[str, Any]] = {}
    for item in items:
        people = [item.get("officer"), *item["handlers"]]
        for person in people:
            if person and person["officer_id"] not in seen:
                seen[person["officer_id"]] = person
    return list(seen.values())


def _custody(session: Session, evidence: Evidence, cases: list[Case]) -> list[dict[str, Any]]:
    subjects = [f"evidence:{evidence.id}", *(f"case:{c.number}" for c in cases)]
    audit = session.exec(
        select(AuditEvent).where(col(AuditEvent.subject).in_(subjects)).order_by(col(AuditEvent.id))
    )
    events = [
        {
            "at": iso(e.at),
            "by": e.actor,
            "station": e.station_id,
            "event": e.action,
            "subject": e.subject,
            "detail": e.detail,
            "hash": e.hash,
        }
        for e in audit
    ]
    # Subjects hold user text (case numbers): escaped, so `%` and `_` match only
    # themselves; then compared exactly, as SQLite's LIKE ignores ASCII case.
    access = session.exec(
        select(RegisterEntry)
        .where(or_(*(col(RegisterEntry.what).endswith(s, autoescape=True) for s in subjects)))
        .order_by(col(RegisterEntry.seq))
    )
    events += [
        {
            "at": iso(r.at),
            "by": r.handled_by,
            "station": r.station_id,
            "event": f"access.{r.event}",
            "subject": r.what,
            "detail": {"who": r.who, "approver": r.approver},
            "hash": r.hash,
        }
        for r in access
        if any(r.what and r.what.endswith(s) for s in subjects)
    ]
    return sorted(events, key=lambda e: str(e["at"]))


def _item(
    vault: Vault, session: Session, evidence: Evidence, release: redact.Release | None
) -> dict[str, Any]:
    assert evidence.id is not None
    tz = vault.settings.timezone
    device = session.get(Device, evidence.device_pk) if evidence.device_pk else None
    dock = session.get_one(DockSession, evidence.dock_session_id)
    cases = linked_cases(session, evidence.id)
    name = f"{evidence.id:06d}-{safe_name(evidence.file_name)}"
    copy = viewing_copy(session, evidence.id)
    start = evidence.recorded_at_corrected or evidence.recorded_at
    viewing = None
    if copy is not None:
        stem = Path(name).stem
        viewing = {
            "path": f"viewing/{stem}{SUFFIXES.get(copy.media_type, '.bin')}",
            "sha256": copy.sha256,
            "size": copy.size,
            "media_type": copy.media_type,
        }
    redacted = None
    if release is not None:
        # AC-9: the redacted copy in the original's place; neither the original nor the
        # viewing copy (which shows everything) goes into the package.
        redacted = {"path": f"redacted/{Path(name).stem}.mp4", **release.facts()}
        viewing = None
    return {
        "evidence_id": evidence.id,
        "file_name": evidence.file_name,
        "camera_folder": evidence.camera_folder,
        "kind": evidence.kind,
        "sha256": evidence.sha256,
        "size": evidence.size,
        "original": None if redacted else f"originals/{name}",
        "viewing": viewing,
        "released_as": "redacted" if redacted else "original",
        "redacted": redacted,
        "cases": [c.number for c in cases],
        # EV-1: where it was recorded, as its case records it (else the export's --place).
        "place": next((c.place for c in cases if c.place), None),
        "handlers": _handlers(session, cases),
        "device": {
            "device_id": device.device_id if device else None,
            "vendor": device.vendor if device else None,
            "model": device.model if device else None,
            "firmware": device.firmware if device else None,
        },
        "officer": _officer(session, evidence.officer_pk),
        "collecting_officer": _officer(session, dock.officer_pk),
        "camera_time": evidence.camera_time,
        "recorded_at": iso(evidence.recorded_at),
        "recorded_at_corrected": iso(evidence.recorded_at_corrected),
        "start": iso(start),
        "start_local": local(start, tz),
        "end_local": None,
        "clock_offset_s": dock.clock_offset_s,
        "dock": {
            "dock_id": dock.id,
            "station_id": dock.station_id,
            "docked_at": iso(dock.started_at),
        },
        "sealed_at": iso(evidence.sealed_at),
        "sealed_local": local(evidence.sealed_at, tz),
        "verified_at": iso(evidence.verified_at),
        "media": evidence.media,
        "confidentiality": evidence.confidentiality or [],
        "chain_of_custody": _custody(session, evidence, cases),
    }


def package_facts(
    vault: Vault,
    session: Session,
    scope: Scope,
    evidence: list[Evidence],
    caller: Principal,
    grant: AccessGrant,
    hidden: dict[int, redact.Release] | None = None,
) -> dict[str, Any]:
    """manifest.json's content before the file list (EV-3) and the statement's (EV-1);
    HIDDEN: the records that go out as their redacted copy."""
    request = session.get_one(AccessRequest, grant.request_id)
    requester = session.get_one(Principal, grant.grantee_id)
    hidden = hidden or {}
    items = [_item(vault, session, e, hidden.get(e.id or 0)) for e in evidence]
    number = scope.ref if scope.kind == "case" else next(iter(items[0]["cases"]), None)
    case = find_case(session, number) if number else None
    documents = session.exec(
        select(AccessDocument.kind).where(AccessDocument.request_id == request.id)
    )
    now = vault.clock.now()
    to_prove = request.to_prove or (case.to_prove if case else None)
    return {
        "format": "evidence-vault-export/1",
        "scope": str(scope),
        "created_at": iso(now),
        "created_at_local": local(now, vault.settings.timezone),
        "timezone": vault.settings.timezone,
        "station_id": vault.settings.station_id,
        "exported_by": caller.name,
        "unit": (case.unit if case else None) or caller.unit,
        "case": {
            "number": case.number,
            "name": case.name,
            "type": case.case_type,
            "unit": case.unit,
        }
        if case
        else None,
        "grant_id": grant.id,
        "request_id": request.id,
        "action": grant.action,
        "requester": requester.name,
        "requester_unit": requester.unit,
        "documents": sorted(set(documents)),
        "approver": session.get_one(Principal, grant.granted_by_id).name,
        "reason": request.reason,
        "to_prove": to_prove,  # EV-1: 证明对象, of the request, else of the case
        "officers_present": present_officers(items),
        "place": None,
        "redacted": sorted(hidden),  # AC-9: the evidence ids released as redacted copies
        "evidence": items,
    }


def _probe(path: Path) -> dict[str, Any]:
    if shutil.which("ffprobe") is None:
        return {}
    done = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-show_entries",
            "format=format_long_name,duration:stream=codec_type,codec_name,width,height",
            "-of",
            "json",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if done.returncode != 0:
        return {}
    found: dict[str, Any] = json.loads(done.stdout or "{}")
    return found


STREAM_KINDS = {"video": "视频", "audio": "音频"}
CODECS = {
    "h264": "H.264",
    "hevc": "H.265",
    "mpeg4": "MPEG-4",
    "mjpeg": "MJPEG",
    "aac": "AAC",
    "pcm_s16le": "PCM",
    "pcm_alaw": "G.711",
    "pcm_mulaw": "G.711",
    "adpcm_ima_wav": "ADPCM",
    "mp3": "MP3",
    "opus": "Opus",
}


def add_recording_formats(package: Path, facts: dict[str, Any]) -> None:
    """Recording format and end time, from the exported original itself (EV-1)."""
    for item in facts["evidence"]:
        shown = item["original"] or item["redacted"]["path"]  # what the package holds
        probed = _probe(package / shown)
        parts = [f"{Path(item['file_name']).suffix.lstrip('.').upper() or '未知'} 文件"]
        fmt = probed.get("format", {})
        for stream in probed.get("streams", []):
            kind = STREAM_KINDS.get(str(stream.get("codec_type")))
            if kind is None:
                continue  # data and timecode tracks: not what a reader asks about
            codec = str(stream.get("codec_name") or "")
            size = f" {stream['width']}×{stream['height']}" if stream.get("width") else ""
            parts.append(f"{kind} {CODECS.get(codec, codec.upper())}{size}")
        item["format"] = "，".join(parts)
        duration = fmt.get("duration")
        if duration and item["start"]:
            item["duration_s"] = float(duration)
            start = datetime.fromisoformat(item["start"].replace("Z", "+00:00"))
            end = start + timedelta(seconds=float(duration))
            item["end"] = iso(end)
            item["end_local"] = local(end, facts["timezone"])
