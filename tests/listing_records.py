"""Records for the listing tests (issue 22): a few officers, cameras and dockings, and clips
with many ties on their recording time, some with none; the filters a listing takes; and the
pages of a listing read to its end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session

from vault.db.models import Case, CaseLink, Device, DockSession, Evidence, Officer, Sighting
from vault.retrieval import Filters, page_evidence

START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def add_records(session: Session, clips: list[tuple[int | None, int, int]]) -> list[int]:
    """Officers 010001-010002, cameras 3100001-3100003 (the third, 010001's spare) and one
    docking per camera; CLIPS: (minutes after START or None: no recording time, camera,
    officer) each, sealed at its camera's docking and every third seen again at the next
    camera's (a copy between cameras, IN-6). Every fourth clip is linked to case C-1 (one
    of them unlinked again), every fifth is long_term. The ids of the clips, in order."""
    officers = [Officer(officer_id=f"01000{n}") for n in (1, 2)]
    devices = [
        Device(device_id=f"310000{n}", profile="zfy-ref", first_seen_at=START, last_seen_at=START)
        for n in (1, 2, 3)
    ]
    session.add_all([*officers, *devices])
    session.flush()
    docks = [
        DockSession(
            station_id="s1",
            device_pk=device.id,
            officer_pk=officers[n % 2].id,
            profile="zfy-ref",
            volume="/media/camera",
            started_at=START + timedelta(days=3),
        )
        for n, device in enumerate(devices)
    ]
    case = Case(
        number="C-1", name="c", case_type="行政处罚", unit="u", opened_at=START, created_by="t"
    )
    session.add_all([*docks, case])
    session.flush()
    ids = []
    for n, (minutes, device, officer) in enumerate(clips):
        at = None if minutes is None else START + timedelta(minutes=minutes)
        evidence = Evidence(
            sha256=f"{n:064x}",
            size=1000 + n,
            kind="video",
            device_pk=devices[device].id,
            officer_pk=officers[officer].id,
            dock_session_id=docks[device].id,
            file_name=f"clip{n:03d}.MP4",
            camera_folder="DCIM",
            recorded_at=at,
            recorded_at_corrected=at,
            docked_at=docks[device].started_at,
            sealed_at=docks[device].started_at,
            storage_backend="local",
            storage_key=f"sha256/{n:064x}",
            retention_class="long_term" if n % 5 == 0 else "routine",
        )
        session.add(evidence)
        session.flush()
        assert evidence.id is not None and docks[device].id is not None
        ids.append(evidence.id)
        seen_at = [docks[device]] + ([docks[(device + 1) % 3]] if n % 3 == 0 else [])
        for dock in seen_at:
            assert dock.id is not None
            session.add(
                Sighting(
                    evidence_id=evidence.id,
                    dock_session_id=dock.id,
                    path=f"DCIM/clip{n:03d}.MP4",
                    size=1000 + n,
                    outcome="sealed",
                    seen_at=dock.started_at,
                )
            )
        if n % 4 == 0:
            assert case.id is not None
            session.add(
                CaseLink(
                    case_id=case.id,
                    evidence_id=evidence.id,
                    linked_at=START,
                    linked_by="t",
                    unlinked_at=START if n == 8 else None,
                )
            )
    session.commit()
    return ids


# Many ties: 60 clips over six distinct minutes, four with no recording time.
CLIPS = [(None if n % 15 == 7 else (n * 7) % 6 * 30, n % 3, n % 2) for n in range(60)]
SPAN = {"recorded_from": START + timedelta(minutes=30), "recorded_to": START + timedelta(hours=2)}
FILTERS = {
    "everything": Filters(),
    "camera": Filters(device_id="3100002"),
    "officer": Filters(officer_id="010001"),
    "recorded by": Filters(recorded_by="010002"),
    "officer and span": Filters(officer_id="010002", **SPAN),
    "camera and span": Filters(device_id="3100001", **SPAN),
    "span": Filters(**SPAN),
    "from": Filters(recorded_from=START + timedelta(minutes=90)),
    "case": Filters(case_number="C-1"),
    "class": Filters(retention_class="long_term"),
}


def key(row: dict[str, Any], nulls_first: bool) -> tuple[bool, str, int]:
    """A row's place in a listing: NULL times where the database sorts them."""
    at = row["recorded_at_corrected"]
    return (at is not None if nulls_first else at is None, at or "", row["evidence_id"])


def every_page(session: Session, filters: Filters, size: int) -> list[list[dict[str, Any]]]:
    pages, after = [], None
    while True:
        page = page_evidence(session, Filters(**{**vars(filters), "limit": size, "after": after}))
        pages.append(page.rows)
        assert len(page.rows) <= size
        if page.next is None:
            return pages
        assert len(page.rows) == size  # only the last page is short
        after = page.next
        assert len(pages) <= 100, "the pages never end"
