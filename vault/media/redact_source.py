"""What a redaction works from: the original (or a damaged clip's salvage copy), its exact
geometry from ffprobe, and a private copy of it re-hashed on the way (IN-3)."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from sqlmodel import Session

from vault.context import Vault
from vault.db.models import Evidence
from vault.errors import Conflict, NotFound
from vault.media import derivatives
from vault.media.runner import MediaError, run_tool


@dataclass(frozen=True)
class Source:
    key: str
    sha256: str
    kind: str  # original | salvage
    suffix: str


def source_of(session: Session, evidence: Evidence) -> Source:
    """What a redaction works from: the original, or a damaged clip's salvage copy."""
    if evidence.purged_at is not None:
        raise NotFound(f"evidence {evidence.id} was purged")
    if evidence.kind != "video":
        raise Conflict(f"evidence {evidence.id} is a {evidence.kind}: only video is redacted")
    if evidence.media_state == "damaged":
        salvage = derivatives.find(session, evidence.id or 0, "salvage")
        if salvage is None:
            raise Conflict(f"evidence {evidence.id} is damaged and not salvaged: nothing to redact")
        return Source(salvage.storage_key, salvage.sha256, "salvage", ".mp4")
    if evidence.media_state not in ("ok", "pending"):
        # pending: not probed by the media worker yet; the render probes the file itself,
        # and a clip that turns out damaged fails there with ffmpeg's one line.
        raise Conflict(
            f"evidence {evidence.id} cannot be redacted while its media state is "
            f"{evidence.media_state}: run `evault media run --until-idle` first"
        )
    suffix = Path(evidence.file_name).suffix.lower()
    return Source(evidence.storage_key, evidence.sha256, "original", suffix[:8])


def geometry(path: Path, sha256: str, kind: str, timeout_s: float) -> dict[str, Any]:
    """Width, height, exact frame rate, duration and sound of the source, from ffprobe."""
    args = [
        "ffprobe",
        "-v",
        "error",
        "-show_entries",
        "stream=codec_type,width,height,avg_frame_rate,r_frame_rate:format=duration",
        "-of",
        "json",
        str(path),
    ]
    done = run_tool(args, timeout_s=timeout_s)
    if done.returncode != 0:
        raise MediaError(done.reason("ffprobe"))
    data = json.loads(done.stdout or b"{}")
    streams = data.get("streams", [])
    video = next((s for s in streams if s.get("codec_type") == "video"), None)
    if video is None or not video.get("width"):
        raise MediaError("the source has no picture to redact")
    rate = next(
        (r for r in (video.get("avg_frame_rate"), video.get("r_frame_rate")) if _rate_ok(r)),
        "25/1",
    )
    return {
        "sha256": sha256,
        "kind": kind,
        "width": int(video["width"]),
        "height": int(video["height"]),
        "frame_rate": rate,
        "fps": round(float(Fraction(rate)), 6),
        "duration_s": round(float(data.get("format", {}).get("duration") or 0), 3),
        "has_audio": any(s.get("codec_type") == "audio" for s in streams),
    }


def _rate_ok(text: Any) -> bool:
    try:
        return isinstance(text, str) and 0 < Fraction(text) <= 1000
    except (ValueError, ZeroDivisionError):
        return False


@contextmanager
def fetched(vault: Vault, source: Source) -> Iterator[Path]:
    """A private copy of the source, re-hashed on the way (IN-3), removed afterwards."""
    folder = derivatives.work_root(vault) / f"redact-{uuid.uuid4().hex}"
    folder.mkdir(mode=0o700)
    try:
        path = folder / f"source{source.suffix}"
        derivatives.fetch(vault, source.key, source.sha256, path)
        yield path
    finally:
        shutil.rmtree(folder, ignore_errors=True)
