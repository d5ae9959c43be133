"""Playback in the page (issue 19): the viewing copy, obtained once per playback through the
`evidence.view` operation (which registers the view, AC-7), kept where the operation handed
it back (the call's own private work folder) for the playback's life, known only to the
session's principal by an unguessable token, and streamed with HTTP range requests; removed
(the call's cleanup) when the page ends it (a beacon on leaving), when it has been idle IDLE
seconds, or when the app stops.

Only the principal whose playback it is may fetch it; the file is never offered as a
download (that needs a copy grant: `evidence.view` with keep)."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response

IDLE = 30 * 60.0  # seconds a playback lives without a request for its bytes
MEDIA_TYPES = {".mp4": "video/mp4", ".webm": "video/webm", ".mkv": "video/x-matroska"}


@dataclass
class Playback:
    token: str
    user: str
    evidence_id: int
    path: Path
    used: float
    cleanup: Callable[[], None]


_lock = threading.Lock()
_playbacks: dict[str, Playback] = {}


def _remove(playback: Playback) -> None:
    playback.cleanup()


def sweep(now: float | None = None) -> None:
    """Remove playbacks idle longer than IDLE."""
    now = time.monotonic() if now is None else now
    with _lock:
        stale = [p for p in _playbacks.values() if now - p.used > IDLE]
        for playback in stale:
            del _playbacks[playback.token]
    for playback in stale:
        _remove(playback)


def start(request: Request, evidence_id: int) -> Playback:
    """One playback: the viewing copy through `evidence.view` (registered)."""
    sweep()
    user = request.state.user.name
    result, files, cleanup = request.state.call_files("evidence.view", evidence_id=evidence_id)
    try:
        path = files[result["file"]]
    except BaseException:
        cleanup()
        raise
    token = secrets.token_urlsafe(18)
    playback = Playback(token, user, evidence_id, path, time.monotonic(), cleanup)
    with _lock:
        _playbacks[token] = playback
    return playback


def _mine(request: Request) -> Playback | None:
    token = request.path_params["token"]
    with _lock:
        playback = _playbacks.get(token)
        if playback is None or playback.user != request.state.user.name:
            return None
        playback.used = time.monotonic()
        return playback


def stream(request: Request) -> Response:
    """The playback's bytes, with ranges (Starlette's FileResponse answers Range)."""
    playback = _mine(request)
    if playback is None or request.path_params["name"] != playback.path.name:
        return PlainTextResponse("no such playback", status_code=404)
    headers = {"Cache-Control": "no-store", "Content-Disposition": "inline"}
    media_type = MEDIA_TYPES.get(playback.path.suffix, "application/octet-stream")
    return FileResponse(playback.path, media_type=media_type, headers=headers)


def end(request: Request) -> Response:
    """The page is left: the playback's copy is removed."""
    playback = _mine(request)
    if playback is None:
        return PlainTextResponse("no such playback", status_code=404)
    with _lock:
        _playbacks.pop(playback.token, None)
    _remove(playback)
    return Response(status_code=204)


def active() -> list[dict[str, Any]]:
    with _lock:
        return [
            {"token": p.token, "user": p.user, "evidence_id": p.evidence_id, "path": str(p.path)}
            for p in _playbacks.values()
        ]


def end_all() -> None:
    with _lock:
        every = list(_playbacks.values())
        _playbacks.clear()
    for playback in every:
        _remove(playback)
