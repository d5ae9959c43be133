"""Issue 16, part 3: a clip delivered by several cameras or officers is found under each
(IN-4), and the same bytes arriving from two different cameras is a finding a reviewer sees
(IN-6: a copy between cameras)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlmodel import select

from tests.conftest import run_evault
from vault.access.principals import add_principal
from vault.compliance import copies
from vault.compliance.scan import scan
from vault.context import Vault
from vault.db.models import AuditEvent, Evidence
from vault.ingest.pipeline import ingest_volume
from vault.retrieval import Filters, list_evidence
from vault.service import api, ops

FIRST, SECOND = ("3100001", "010203"), ("3100002", "020304")


def second_camera(first: Path, where: Path, copied: str) -> Path:
    """Camera 3100002 of officer 020304: one clip of its own, and the clip COPIED of the
    first camera's (the same bytes, under the second camera's name for it)."""
    camera = where / "second"
    clips = camera / "DCIM" / "100ANDRO"
    clips.mkdir(parents=True)
    info = (first / "DEVICE.TXT").read_text()
    (camera / "DEVICE.TXT").write_text(
        info.replace(f"device_id={FIRST[0]}", f"device_id={SECOND[0]}").replace(
            f"officer_id={FIRST[1]}", f"officer_id={SECOND[1]}"
        )
    )
    source = first / "DCIM" / "100ANDRO" / copied
    renamed = copied.replace(f"{FIRST[0]}_{FIRST[1]}_", f"{SECOND[0]}_{SECOND[1]}_")
    shutil.copyfile(source, clips / renamed.replace("_0002.", "_0007."))
    (clips / f"{SECOND[0]}_{SECOND[1]}_20261123151000_0001.JPG").write_bytes(
        b"\xff\xd8\xff\xe0 the second camera's own photo \xff\xd9"
    )
    return camera


def first_video(camera: Path) -> str:
    return sorted(p.name for p in (camera / "DCIM" / "100ANDRO").glob("*_0002.MP4"))[0]


@pytest.fixture
def two_cameras(vault: Vault, camera: Path, tmp_path: Path) -> tuple[int, int]:
    """Both cameras docked; (the copied clip's evidence id, the second camera's own)."""
    name = first_video(camera)
    second = second_camera(camera, tmp_path, name)
    ingest_volume(vault, camera)
    report = ingest_volume(vault, second)
    by_name = {Path(c.path).name: c.evidence_id for c in report.clips}
    with vault.session() as session:
        copied = session.exec(select(Evidence).where(Evidence.file_name == name)).one()
    assert copied.id is not None
    own = next(i for n, i in by_name.items() if n.endswith(".JPG"))
    assert copied.id in by_name.values()  # the second camera delivered it, not sealed again
    return copied.id, own


def ids(vault: Vault, **filters: str) -> set[int]:
    with vault.session() as session:
        return {r["evidence_id"] for r in list_evidence(session, Filters(**filters))}


def test_a_clip_delivered_by_two_cameras_is_found_under_each_camera_and_officer(
    vault: Vault, two_cameras: tuple[int, int]
) -> None:
    copied, own = two_cameras
    assert copied in ids(vault, device_id=FIRST[0])
    assert ids(vault, device_id=SECOND[0]) == {copied, own}
    assert ids(vault, officer_id=SECOND[1]) == {copied, own}
    assert copied in ids(vault, officer_id=FIRST[1])
    assert own not in ids(vault, device_id=FIRST[0]) | ids(vault, officer_id=FIRST[1])
    # Filters combine: the copy is the only clip of officer 010203 the second camera brought.
    assert ids(vault, device_id=SECOND[0], officer_id=FIRST[1]) == {copied}
    # An officer's own scope stays the clips he recorded (the copy is 010203's, not his).
    assert ids(vault, recorded_by=SECOND[1]) == {own}


def test_evidence_list_of_the_second_camera_finds_the_copy(
    vault: Vault, two_cameras: tuple[int, int], home: Path
) -> None:
    copied, own = two_cameras
    done = run_evault(home, "evidence", "list", "--device", SECOND[0], "--json")
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)
    assert {r["evidence_id"] for r in listed} == {copied, own}
    row = next(r for r in listed if r["evidence_id"] == copied)
    assert row["device_id"] == FIRST[0]  # the row names the camera that recorded it
    shown = json.loads(run_evault(home, "evidence", "show", str(copied), "--json").stdout)
    assert len(shown["sightings"]) == 2


def test_an_officer_lists_his_own_clips_not_the_copies_his_camera_brought(
    vault: Vault, two_cameras: tuple[int, int]
) -> None:
    """Scope own is what he recorded (as `evidence show` decides it): the copy of 010203's
    clip on his camera is found by a records keeper under his badge, not listed to him."""
    _copied, own = two_cameras
    add_principal(vault, "王档案", "staff", ["records_keeper"], unit="一大队")  # mapped to tester
    add_principal(
        vault, "李四", "staff", ["officer"], unit="一大队", officer=SECOND[1], os_user="lisi"
    )
    ops.known_operations()
    lisi = api.Caller(1005, "lisi", system=False)
    mine = api.run(vault, lisi, "evidence.list", {}, remote=True)
    assert mine.ok, mine.error
    assert {r["evidence_id"] for r in mine.result} == {own}
    seen = api.run(vault, lisi, "evidence.list", {"device": SECOND[0]}, remote=True)
    assert {r["evidence_id"] for r in seen.result} == {own}


def test_the_same_bytes_from_two_cameras_is_a_finding_of_the_scan(
    vault: Vault, two_cameras: tuple[int, int]
) -> None:
    copied, _own = two_cameras
    report = scan(vault)
    (found,) = [c for c in report.copies if c["evidence_id"] == copied]
    assert found["code"] == "copied_between_cameras" and found["rule"] == "IN-6"
    assert found["device_ids"] == [FIRST[0], SECOND[0]]  # the first camera first
    assert report.new_copies == len(report.copies)
    with vault.session() as session:
        events = session.exec(
            select(AuditEvent).where(AuditEvent.action == copies.AUDIT_ACTION)
        ).all()
    assert f"evidence:{copied}" in {e.subject for e in events}
    again = scan(vault)  # idempotent: recorded once
    assert again.new_copies == 0 and again.copies == report.copies
    with vault.session() as session:
        assert len(
            session.exec(select(AuditEvent).where(AuditEvent.action == copies.AUDIT_ACTION)).all()
        ) == len(events)
        findings: list[dict[str, object]] = []
        copies.report_findings(
            session,
            lambda rule, subject, detail, **extra: findings.append(
                {"rule": rule, "subject": subject, "detail": detail, **extra}
            ),
            lambda device_pk, officer_pk: True,
            lambda at: True,
        )
    (finding,) = [f for f in findings if f["subject"] == f"evidence:{copied}"]
    assert finding["rule"] == "IN-6" and finding["code"] == "copied_between_cameras"
    assert FIRST[0] in str(finding["detail"]) and SECOND[0] in str(finding["detail"])


def test_docking_the_same_camera_twice_is_no_copy(vault: Vault, camera: Path) -> None:
    ingest_volume(vault, camera)
    ingest_volume(vault, camera)
    assert scan(vault).copies == []
