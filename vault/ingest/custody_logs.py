"""The camera's own operation logs, sealed as custody records of the docking (OV-4).

A log (`[logs] files` of the profile, e.g. DCIM/LOGS/DEVLOG.TXT) is read once, bounded,
and its bytes are sealed as a store record `custody/<ab>/<sha256>` (write-once, kept
with the docking; the same bytes at a later docking are the same record). It is not
evidence: it is never listed with the clips and never erased from the camera. Where the
profile knows its lines, the names of the files the camera says it wrote and deleted are
kept with the docking's row (vault/compliance/sequences.py turns them into findings).
A log that cannot be read or sealed is one problem line; it never holds up the clips.
"""

from __future__ import annotations

import hashlib
import os
import re

from sqlmodel import Session

from vault.db import audit
from vault.db.models import DockLog
from vault.errors import VaultError
from vault.ingest.run import Run
from vault.ingest.volume import VolumeFile

NAMES_MAX = 10_000  # file names kept from one log's lines


def record_name(sha256: str) -> str:
    return f"custody/{sha256[:2]}/{sha256}"


def _read(run: Run, item: VolumeFile, limit: int) -> bytes:
    fd, _ = run.volume.open_file(item)
    try:
        chunks, left = [], limit + 1
        while left > 0 and (chunk := os.read(fd, min(left, 1 << 20))):
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _names(text: str, patterns: list[str]) -> list[str]:
    """The file names PATTERNS find in TEXT, in order, each once."""
    compiled = [re.compile(p) for p in patterns]
    found: dict[str, None] = {}
    for line in text.splitlines():
        for pattern in compiled:
            if (match := pattern.search(line)) and len(found) < NAMES_MAX:
                found.setdefault(match.group("file")[:255], None)
    return list(found)


def seal_logs(run: Run, session: Session) -> None:
    """Seal each of the camera's logs with this docking, and read what its lines say."""
    logs = run.profile.logs
    items = [item for item in run.volume.files if run.profile.is_log(item.rel)]
    for item in items:
        try:
            _seal_one(run, session, item, logs.max_bytes, logs.recorded, logs.deleted)
        except (OSError, VaultError) as exc:
            session.rollback()
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            run.report.problems.append(f"the camera's log {item.rel} was not sealed: {reason}")


def _seal_one(
    run: Run,
    session: Session,
    item: VolumeFile,
    limit: int,
    recorded: list[str],
    deleted: list[str],
) -> None:
    body = _read(run, item, limit)
    if len(body) > limit:
        run.report.problems.append(
            f"the camera's log {item.rel} is over {limit} bytes: not sealed "
            "(the profile's logs.max_bytes)"
        )
        return
    sha256 = hashlib.sha256(body).hexdigest()
    name = record_name(sha256)
    run.vault.store.put_record(name, body)
    text = body.decode("utf-8", errors="replace")
    assert run.dock.id is not None
    now = run.vault.clock.now()
    row = DockLog(
        dock_session_id=run.dock.id,
        path=item.rel,
        sha256=sha256,
        size=len(body),
        record=name,
        sealed_at=now,
        recorded=_names(text, recorded),
        deleted=_names(text, deleted),
    )
    session.add(row)
    session.flush()
    audit.append(
        session,
        run.vault.actor("ingest"),
        at=now,
        action="dock.log_sealed",
        subject=f"dock:{run.dock.id}",
        detail={"path": item.rel, "sha256": sha256, "size": len(body), "record": name},
    )
    session.commit()
    run.report.custody_logs.append({"path": item.rel, "sha256": sha256, "record": name})
