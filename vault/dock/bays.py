"""The state of every bay of the dock, as `evault dock status` shows it.

A bay goes detected -> mounted -> reading <-> sealing -> verifying -> erasing -> done, or
ends in failed with a reason at any step. A Bay is also the ingest pipeline's Progress, so
the bytes, files, rate and ETA shown are the pipeline's own counts. A camera that must be
told to show its storage is first `driving` (its control driver at work), then `done` until
its storage appears on the same port.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from vault.timeutil import iso

STATES = (
    "detected",
    "driving",
    "mounted",
    "reading",
    "sealing",
    "verifying",
    "erasing",
    "done",
    "failed",
)
ENDED = ("done", "failed")


@dataclass
class Bay:
    key: str  # the USB port, e.g. usb-0:1.2
    devname: str | None
    profile: str | None
    docked_at: datetime
    state: str = "detected"
    reason: str | None = None  # why it failed, or what the operator should know
    dock_id: int | None = None
    device_id: str | None = None
    files_total: int = 0
    files_done: int = 0
    files_failed: int = 0
    bytes_total: int = 0
    bytes_done: int = 0
    current: str | None = None
    removed_at: datetime | None = None  # the camera was pulled out
    ended_at: datetime | None = None
    erased: int = 0
    _started: float = field(default_factory=time.monotonic)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    on_change: Callable[[Bay, str], None] | None = field(default=None, repr=False)

    # -- the pipeline's Progress ------------------------------------------------------------
    def phase(self, name: str) -> None:
        self.set_state(name)

    def begin(self, total_files: int, total_bytes: int) -> None:
        with self._lock:
            self.files_total, self.bytes_total = total_files, total_bytes
            self._started = time.monotonic()

    def file_started(self, path: str, size: int) -> None:
        self.current = path
        if self.on_change is not None:
            self.on_change(self, f"reading:{path}")

    def advance(self, count: int) -> None:
        self.bytes_done += count  # one writer (the bay's worker); readers take a snapshot

    def file_done(self, path: str, status: str) -> None:
        with self._lock:
            self.files_done += 1
            self.files_failed += status == "failed"
            if self.current == path:  # grouped records: a clip is done after the next began
                self.current = None
        if self.on_change is not None:
            self.on_change(self, f"file:{status}")

    # -- state -------------------------------------------------------------------------------
    @property
    def active(self) -> bool:
        return self.state not in ENDED

    def set_state(self, state: str, reason: str | None = None) -> None:
        assert state in STATES, state
        with self._lock:
            if self.state == state and reason is None:
                return
            self.state = state
            if reason is not None:
                self.reason = reason
        if self.on_change is not None:
            self.on_change(self, state)

    def end(self, state: str, reason: str | None, at: datetime) -> None:
        self.ended_at = at
        self.current = None
        self.set_state(state, reason)

    def rate(self) -> float:
        elapsed = time.monotonic() - self._started
        return self.bytes_done / elapsed if elapsed > 0 and self.active else 0.0

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            rate = self.rate()
            left = max(self.bytes_total - self.bytes_done, 0)
            return {
                "bay": self.key,
                "state": self.state,
                "reason": self.reason,
                "devname": self.devname,
                "profile": self.profile,
                "dock_id": self.dock_id,
                "device_id": self.device_id,
                "files_total": self.files_total,
                "files_done": self.files_done,
                "files_failed": self.files_failed,
                "bytes_total": self.bytes_total,
                "bytes_done": self.bytes_done,
                "current": self.current,
                "rate_bps": round(rate, 1),
                "eta_s": round(left / rate, 1) if rate > 0 and self.active else None,
                "docked_at": iso(self.docked_at),
                "removed_at": iso(self.removed_at),
                "ended_at": iso(self.ended_at),
                "erased": self.erased,
            }


class Board:
    """All bays, by key; a bay stays on the board until the next camera takes its port."""

    def __init__(self) -> None:
        self._bays: dict[str, Bay] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> Bay | None:
        with self._lock:
            return self._bays.get(key)

    def put(self, bay: Bay) -> None:
        with self._lock:
            self._bays[bay.key] = bay

    def bays(self) -> list[Bay]:
        with self._lock:
            return sorted(self._bays.values(), key=lambda b: b.key)

    def active(self) -> list[Bay]:
        return [b for b in self.bays() if b.active]

    def summary(self) -> str:
        """One line for systemd's STATUS=."""
        bays = self.bays()
        if not bays:
            return "waiting for cameras"
        counts: dict[str, int] = {}
        for bay in bays:
            counts[bay.state] = counts.get(bay.state, 0) + 1
        rate = sum(b.rate() for b in bays) / 1e6
        states = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        return f"{len(bays)} bays: {states}; {rate:.1f} MB/s"
