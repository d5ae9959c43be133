"""Records: the facts about devices, dockings and clips (the store holds the bytes).

Times are UTC. Nothing here is SQLite-only: the same tables run on PostgreSQL.

One module per part of the vault; every table is importable from here."""

from __future__ import annotations

from vault.db.models.access import (
    AccessDocument,
    AccessGrant,
    AccessRequest,
    Principal,
    RegisterEntry,
    RegisterSignature,
)
from vault.db.models.cases import (
    Case,
    CaseHandler,
    CaseLink,
    Hold,
    PurgeJob,
    PurgeList,
    PurgeListItem,
    PurgeRecord,
)
from vault.db.models.compliance import (
    AnnotationVersion,
    LateReason,
    NarrationCheck,
    RecordingGap,
    RecordingSession,
    ReviewDraw,
    SessionClip,
    SessionReview,
    StopRecord,
    UnresumedStop,
)
from vault.db.models.custody import DeviceEvent, DockLog
from vault.db.models.media import Derivative, MediaJob
from vault.db.models.records import (
    AuditEvent,
    Device,
    DeviceAssignment,
    DockSession,
    Evidence,
    Officer,
    Sighting,
)
from vault.db.models.types import UTCDateTime, utc_column
from vault.db.models.units import Unit, UnitAlias
from vault.db.models.web import WebAccount, WebSession

__all__ = [
    "AccessDocument",
    "AccessGrant",
    "AccessRequest",
    "AnnotationVersion",
    "AuditEvent",
    "Case",
    "CaseHandler",
    "CaseLink",
    "Derivative",
    "Device",
    "DeviceAssignment",
    "DeviceEvent",
    "DockLog",
    "DockSession",
    "Evidence",
    "Hold",
    "LateReason",
    "MediaJob",
    "NarrationCheck",
    "Officer",
    "Principal",
    "PurgeJob",
    "PurgeList",
    "PurgeListItem",
    "PurgeRecord",
    "RecordingGap",
    "RecordingSession",
    "RegisterEntry",
    "RegisterSignature",
    "ReviewDraw",
    "SessionClip",
    "SessionReview",
    "Sighting",
    "StopRecord",
    "UTCDateTime",
    "Unit",
    "UnitAlias",
    "UnresumedStop",
    "WebAccount",
    "WebSession",
    "utc_column",
]
