"""What an ingest did, in the shape `evault ingest --json` prints."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from vault.timeutil import iso


@dataclass
class ClipResult:
    path: str
    sha256: str
    size: int
    evidence_id: int
    status: str  # sealed | already_sealed | duplicate | unclassified | damaged
    kind: str
    verified: bool | None = None  # None: not checked in this run (already verified before)
    verify_error: str | None = None
    spooled: bool = False  # sealed in the local spool during an S3 outage: not erased


@dataclass
class IngestReport:
    dock_id: int
    profile: str
    device_id: str | None
    officer_id: str | None
    model: str | None
    device_time: datetime | None
    station_time: datetime
    offset_s: float | None
    clips: list[ClipResult] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # read or store errors
    erased: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    custody_logs: list[dict[str, str]] = field(default_factory=list)  # the camera's logs (OV-4)

    @property
    def ok(self) -> bool:
        return not self.failed and all(c.verified is not False for c in self.clips)

    def to_json(self) -> dict[str, Any]:
        return {
            "dock_id": self.dock_id,
            "device": {
                "device_id": self.device_id,
                "officer_id": self.officer_id,
                "model": self.model,
                "profile": self.profile,
            },
            "clock": {
                "device_time": iso(self.device_time),
                "station_time": iso(self.station_time),
                "offset_s": self.offset_s,
            },
            "clips": [
                {
                    "path": c.path,
                    "sha256": c.sha256,
                    "size": c.size,
                    "evidence_id": c.evidence_id,
                    "status": c.status,
                    "kind": c.kind,
                    "verified": c.verified,
                    **({"verify_error": c.verify_error} if c.verify_error else {}),
                    **({"spooled": True} if c.spooled else {}),
                }
                for c in self.clips
            ],
            "skipped": [{"path": p, "reason": r} for p, r in [*self.failed, *self.skipped]],
            "erased": self.erased,
            "custody_logs": self.custody_logs,
            "problems": self.problems,
            "ok": self.ok,
        }


class Progress(Protocol):
    """Where the pipeline reports its advance (Rich bars in the CLI, bay status in the dock)."""

    def phase(self, name: str) -> None: ...  # reading | sealing | verifying | erasing

    def begin(self, total_files: int, total_bytes: int) -> None: ...

    def file_started(self, path: str, size: int) -> None: ...

    def advance(self, count: int) -> None: ...

    def file_done(self, path: str, status: str) -> None: ...


class NoProgress:
    def phase(self, name: str) -> None:
        pass

    def begin(self, total_files: int, total_bytes: int) -> None:
        pass

    def file_started(self, path: str, size: int) -> None:
        pass

    def advance(self, count: int) -> None:
        pass

    def file_done(self, path: str, status: str) -> None:
        pass
