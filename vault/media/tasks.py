"""What each media job does, between reading the records and writing them back. The heavy
part (ffmpeg, salvage) runs with no database transaction open: sealing never waits on it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from vault.config import MediaSettings
from vault.context import Vault
from vault.db.models import Derivative, Device, Evidence, Officer
from vault.media import derivatives, frames, remux, sheets, transcode
from vault.media.probe import ProbeResult, probe
from vault.media.runner import MediaError, MediaTimeout, ReferenceMissing
from vault.media.salvage import looks_like_mp4, rebuild_isolated

Fraction = Callable[[float], None]  # progress of the running job, 0..1


@dataclass
class Source:
    """The bytes a job works from: the original, or for a damaged clip its salvage copy."""

    key: str
    sha256: str
    suffix: str
    media: dict[str, Any]


@dataclass
class Plan:
    """Everything read from the records before the work starts."""

    evidence: Evidence
    source: Source | None
    caption: str | None = None
    reference: Evidence | None = None
    missing: str | None = None  # why there is no reference for a salvage
    skip: str | None = None  # why there is nothing to do


@dataclass
class Product:
    """What a job made: a derivative file, or a probe result."""

    kind: str
    path: Path | None = None
    encoder: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    recovered_s: float | None = None
    probe: ProbeResult | None = None
    skip: str | None = None


class Fetcher:
    """Copies of sealed objects in the worker's scratch folder; the last one is kept, since
    the jobs of one clip come one after another (a 2 GB clip is copied once, not five times)."""

    def __init__(self, vault: Vault, folder: Path) -> None:
        self.vault, self.folder = vault, folder
        self.current: tuple[str, Path] | None = None

    def get(self, key: str, sha256: str, suffix: str) -> Path:
        if self.current and self.current[0] == sha256 and self.current[1].exists():
            return self.current[1]
        self.drop()
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self.folder / f"{sha256}{suffix}"
        derivatives.fetch(self.vault, key, sha256, path)
        self.current = (sha256, path)
        return path

    def drop(self) -> None:
        if self.current:
            self.current[1].unlink(missing_ok=True)
            self.current = None


def suffix_of(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return suffix if suffix.isascii() and 1 < len(suffix) <= 6 and suffix[1:].isalnum() else ""


def plan(vault: Vault, session: Session, evidence: Evidence, kind: str) -> Plan:
    suffix = suffix_of(evidence.file_name)
    original = Source(evidence.storage_key, evidence.sha256, suffix, evidence.media or {})
    if kind == "probe":
        return Plan(evidence, original)
    if kind == "salvage":
        try:
            return Plan(evidence, original, reference=reference_for(session, evidence))
        except ReferenceMissing as exc:  # raised once the file is known to be an MP4 at all
            return Plan(evidence, original, missing=str(exc))
    source = original
    if evidence.media_state == "damaged":
        salvage = derivatives.find(session, evidence.id or 0, "salvage")
        if salvage is None:
            return Plan(evidence, None, skip="damaged and not salvaged: nothing to work from")
        media = salvage.params.get("media")
        found = dict(media) if isinstance(media, dict) else {}
        source = Source(salvage.storage_key, salvage.sha256, ".mp4", found)
    elif evidence.media_state != "ok":
        return Plan(evidence, None, skip=f"media state is {evidence.media_state}")
    caption = caption_for(vault, session, evidence) if kind == "viewing" else None
    return Plan(evidence, source, caption=caption)


def reference_for(session: Session, evidence: Evidence) -> Evidence:
    """A healthy clip of the same camera, the nearest in time: the codec parameters of the
    damaged one are taken from it (the untrunc technique)."""
    query = select(Evidence).where(
        Evidence.kind == "video",
        Evidence.media_state == "ok",
        col(Evidence.purged_at).is_(None),
        Evidence.id != evidence.id,
    )
    if evidence.device_pk is not None:
        query = query.where(Evidence.device_pk == evidence.device_pk)
    else:
        query = query.where(Evidence.dock_session_id == evidence.dock_session_id)
    candidates = [e for e in session.exec(query) if (e.media or {}).get("video_codec") == "h264"]
    if not candidates:
        pending = session.exec(
            select(Evidence.id).where(
                Evidence.kind == "video",
                Evidence.media_state == "pending",
                Evidence.device_pk == evidence.device_pk,
            )
        ).first()
        wait = " (clips of it still wait for their probe)" if pending else ""
        raise ReferenceMissing(
            "salvage needs a healthy H.264 clip from the same camera as a reference, and none "
            f"is sealed yet{wait}; the job retries, or dock a clip from this camera"
        )
    anchor = evidence.recorded_at or evidence.docked_at
    return min(
        candidates, key=lambda e: abs(((e.recorded_at or e.docked_at) - anchor).total_seconds())
    )


def caption_for(vault: Vault, session: Session, evidence: Evidence) -> str | None:
    """device, officer, camera time and corrected time, in the station's zone."""
    if not vault.settings.media.caption:
        return None
    device = session.get(Device, evidence.device_pk) if evidence.device_pk else None
    officer = session.get(Officer, evidence.officer_pk) if evidence.officer_pk else None
    zone = ZoneInfo(vault.settings.timezone)
    corrected = evidence.recorded_at_corrected
    shown = corrected.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S") if corrected else "?"
    return (
        f"device {device.device_id if device else '?'}"
        f"  officer {officer.officer_id if officer else '?'}"
        f"  camera {evidence.camera_time or '?'}  corrected {shown}"
    )


def run(
    vault: Vault,
    kind: str,
    work: Plan,
    fetcher: Fetcher,
    folder: Path,
    progress: Fraction,
    stop: threading.Event | None = None,
) -> Product:
    """The job's work proper; raises MediaError (or any error) to fail the attempt. stop:
    set when the worker is told to stop; a salvage in hand is killed (MediaStopped)."""
    assert work.source is not None
    source = fetcher.get(work.source.key, work.source.sha256, work.source.suffix)
    settings = vault.settings.media
    if kind == "probe":
        return Product(kind, probe=probe(source, timeout_s=settings.probe_timeout_s, nice=0))
    if kind == "salvage":
        return salvage(vault, work, source, fetcher, folder, stop)
    media = work.source.media
    if kind == "audio":
        if not media.get("audio_codec"):
            return Product(kind, skip="no audio stream")
        out = folder / f"audio.{settings.audio_format}"
        transcode.run_ffmpeg(
            transcode.audio_args(source, out, settings.audio_format), settings, out=out
        )
        codec = "flac" if settings.audio_format == "flac" else "pcm_s16le"
        params = {"sample_rate": 16000, "channels": 1, "format": settings.audio_format}
        return Product(kind, out, encoder=codec, params=params)
    if not media.get("width"):
        return Product(kind, skip="no picture to show")
    if kind == "viewing":
        return viewing(settings, work, source, folder, progress)
    if kind == "poster":
        return poster(settings, media, source, folder)
    if kind == "contact_sheet":
        return contact_sheet(settings, work, source, folder)
    raise MediaError(f"unknown media job kind {kind!r}")


def viewing(
    settings: MediaSettings, work: Plan, source: Path, folder: Path, progress: Fraction
) -> Product:
    """A remux where a browser plays the clip as it is (vault.media.remux), checked to play;
    a transcode otherwise, or where the remux does not pass its check."""
    assert work.source is not None
    media = work.source.media
    why = remux.why_transcode(media, settings, caption=bool(work.caption))
    if why is None:
        out = folder / "viewing.mp4"
        has_audio = bool(media.get("audio_codec"))
        try:
            seconds = transcode.run_ffmpeg(
                remux.remux_args(
                    source, out, has_audio=has_audio, original_sha256=work.source.sha256
                ),
                settings,
                out=out,
            )
            checked = remux.verify(out, media, settings)
        except MediaTimeout:
            raise
        except MediaError as exc:
            out.unlink(missing_ok=True)
            why = f"the remux did not pass its check: {exc}"
        else:
            progress(1.0)
            duration = float(media.get("duration_s") or 0)
            params: dict[str, Any] = {
                "method": "remux",
                "caption": None,
                "width": media.get("width"),
                "height": media.get("height"),
                "checked": checked,
                "encode_s": round(seconds, 3),
                "speed_x": round(duration / seconds, 2) if seconds > 0 and duration else None,
            }
            return Product("viewing", out, encoder="copy", params=params)
    product = transcoded(settings, work, source, folder, progress)
    product.params = {"method": "transcode", "why": why, **product.params}
    return product


def transcoded(
    settings: MediaSettings, work: Plan, source: Path, folder: Path, progress: Fraction
) -> Product:
    assert work.source is not None
    media = work.source.media
    encoder = transcode.choose_encoder(settings)
    geometry = transcode.scaled(media.get("width"), media.get("height"), settings.viewing_max_side)
    caption_file = None
    if work.caption:
        caption_file = folder / "caption.txt"
        caption_file.write_text(work.caption, encoding="utf-8")
    out = folder / "viewing.mp4"
    duration = float(media.get("duration_s") or 0)

    def on_progress(block: dict[str, str]) -> None:
        done_us = block.get("out_time_us") or block.get("out_time_ms") or "0"
        if duration > 0 and done_us.lstrip("-").isdigit():
            progress(min(1.0, int(done_us) / 1e6 / duration))

    def encode(encoder: str) -> float:
        args = transcode.viewing_args(
            source,
            out,
            settings=settings,
            encoder=encoder,
            geometry=geometry,
            has_audio=bool(media.get("audio_codec")),
            caption_file=caption_file,
        )
        return transcode.run_ffmpeg(args, settings, out=out, progress=on_progress)

    try:
        seconds = encode(encoder)
    except MediaTimeout:
        raise
    except MediaError:
        if encoder != "h264_nvenc" or settings.encoder == "h264_nvenc":
            raise
        encoder = "libx264"  # the GPU refused this one (busy, out of sessions): use the CPU
        seconds = encode(encoder)
    params: dict[str, Any] = {
        "crf": settings.crf,
        "preset": settings.preset,
        "caption": work.caption,
        "width": geometry.width if geometry else None,
        "height": geometry.height if geometry else None,
        "encode_s": round(seconds, 3),
        "speed_x": round(duration / seconds, 2) if seconds > 0 and duration else None,
    }
    return Product("viewing", out, encoder=encoder, params=params)


def poster(settings: MediaSettings, media: dict[str, Any], source: Path, folder: Path) -> Product:
    """A frame near the middle of the clip's first ten seconds: the key frame at or before
    it, unless that lies in the first half (then the frame there, by an exact seek)."""
    duration = float(media.get("duration_s") or 0)
    at = min(duration / 2, 5.0) if duration > 0.5 else 0.0
    want = frames.Want(key_by=at, not_before=at / 2, exact=at)
    found = frames.grab(
        source, [want], folder / "poster", width=settings.viewing_max_side, settings=settings
    )[0]
    out = folder / "poster.jpg"
    size = sheets.save_poster(found.path, out)
    params = {"at_s": found.at_s, "key_frame": found.key, "width": size[0], "height": size[1]}
    return Product("poster", out, encoder="pillow", params=params)


def contact_sheet(settings: MediaSettings, work: Plan, source: Path, folder: Path) -> Product:
    """One frame per time slot of equal length (the first slot starts a quarter slot in): a
    key frame in the first half of the slot, else the slot's first frame (vault.media.frames)."""
    assert work.source is not None
    duration = float(work.source.media.get("duration_s") or 0)
    if duration <= 0:
        return Product("contact_sheet", skip="no duration: a still image has no contact sheet")
    count = settings.sheet_columns * settings.sheet_rows
    step = duration / count
    begins = [step / 4 + index * step for index in range(count)]
    wants = [frames.Want(key_by=b + step / 2, not_before=b, exact=b) for b in begins]
    grabbed = frames.grab(
        source,
        wants,
        folder / "frames",
        width=settings.sheet_thumb_width,
        settings=settings,
        enlarge=True,
    )
    out = folder / "contact_sheet.jpg"
    title = f"{work.evidence.file_name}  {sheets.timestamp(duration)}  evidence {work.evidence.id}"
    sheet = sheets.contact_sheet(
        [g.path for g in grabbed],
        [g.at_s for g in grabbed],
        out,
        columns=settings.sheet_columns,
        title=title,
    )
    params = {
        "columns": settings.sheet_columns,
        "rows": -(-sheet.frames // settings.sheet_columns),
        "frames": sheet.frames,
        "times_s": sheet.times_s,
        "key_frames": sum(1 for g in grabbed if g.key),
        "width": sheet.width,
        "height": sheet.height,
    }
    return Product("contact_sheet", out, encoder="pillow", params=params)


def salvage(
    vault: Vault,
    work: Plan,
    source: Path,
    fetcher: Fetcher,
    folder: Path,
    stop: threading.Event | None = None,
) -> Product:
    """Rebuild an MP4 whose index (moov) is missing from its raw media data: in a process
    of its own, under the job's time limit (media.timeout_s, as for ffmpeg), stopped with
    the worker; the seal and the records are made here, by the worker."""
    if not looks_like_mp4(source):
        return Product("salvage", skip="not an MP4/MOV file: nothing to rebuild")
    reference = work.reference
    if reference is None:
        raise ReferenceMissing(work.missing or "no reference clip for salvage")
    ref_path = folder / f"reference{suffix_of(reference.file_name)}"
    derivatives.fetch(vault, reference.storage_key, reference.sha256, ref_path)
    out = folder / "salvage.mp4"
    settings = vault.settings.media
    try:
        result = rebuild_isolated(
            source, ref_path, out, timeout_s=settings.timeout_s, nice=settings.nice, stop=stop
        )
    finally:
        ref_path.unlink(missing_ok=True)
    checked = probe(out, timeout_s=settings.probe_timeout_s)
    if not checked.ok or checked.media is None:
        raise MediaError(f"the rebuilt file does not play: {checked.damage}")
    media = {**checked.media, "creation_time": None, "tags": {}}  # untrusted: see params
    params = {
        "reference_evidence_id": reference.id,
        "video_frames": result.video_frames,
        "audio_frames": result.audio_frames,
        "bytes_used": result.bytes_used,
        "bytes_skipped": result.bytes_skipped,
        "media": media,
        "times": "from the original's file name and the camera index; the rebuilt file's "
        "own metadata is not evidence",
    }
    return Product("salvage", out, encoder="untrunc-py", params=params, recovered_s=result.seconds)


def follow_ups(evidence: Evidence, kind: str, has_audio: bool) -> list[str]:
    """What a finished probe or salvage leads to."""
    if kind == "probe":
        if evidence.media_state == "damaged":
            return ["salvage"] if evidence.kind == "video" else []
        if evidence.kind == "photo":
            return ["poster"]
        if evidence.kind == "audio":
            return ["audio"] if has_audio else []
    if evidence.kind != "video":
        return []
    return ["viewing", "poster", "contact_sheet"] + (["audio"] if has_audio else [])


def existing(session: Session, evidence_id: int, kind: str) -> Derivative | None:
    return derivatives.find(session, evidence_id, kind)
