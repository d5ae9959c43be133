"""What the model test of the vault's life (tests/property/test_vault_life.py) found, each
kept as the shortest sequence of steps that showed it (issue 16, part 2)."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select

from tests.purge_lists import purge_approved
from vault.cases import cases
from vault.cases.retention import place_hold
from vault.context import Vault
from vault.db.models import Derivative, Evidence
from vault.ingest.pipeline import ingest_volume
from vault.media.worker import run_worker
from vault.retrieval import find_orphans
from vault.timeutil import FixedClock, add_months

DOCKED = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def one_clip_camera(root: Path, data: bytes, at: datetime) -> Path:
    """A reference camera (zfy-ref layout) holding one clip recorded at AT."""
    folder = root / "DCIM" / "100ANDRO"
    folder.mkdir(parents=True)
    local = at.astimezone(ZoneInfo("Asia/Shanghai"))
    (folder / f"3100003_030405_{local:%Y%m%d%H%M%S}_0001.MP4").write_bytes(data)
    (root / "DEVICE.TXT").write_text("device_id=3100003\nofficer_id=030405\n")
    return root


@pytest.fixture
def real_clip(tmp_path: Path) -> bytes:
    """A one-second 64x48 MP4 with sound: enough for every media job."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed")
    out = tmp_path / "clip.mp4"
    subprocess.run(
        [
            *("ffmpeg", "-nostdin", "-loglevel", "error", "-y"),
            *("-f", "lavfi", "-i", "testsrc=size=64x48:rate=5:duration=1"),
            *("-f", "lavfi", "-i", "sine=duration=1"),
            *("-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest", str(out)),
        ],
        check=True,
        capture_output=True,
    )
    return out.read_bytes()


def held_derivatives(vault: Vault, evidence_id: int) -> list[tuple[str, bool, datetime | None]]:
    with vault.session() as session:
        rows = list(session.exec(select(Derivative).where(Derivative.evidence_id == evidence_id)))
    assert rows, "the media worker made no derivative"
    return [
        (
            row.kind,
            vault.store.stat(row.storage_key).legal_hold,
            vault.store.stat(row.storage_key).retain_until,
        )
        for row in rows
    ]


def test_a_derivative_made_while_its_original_is_in_an_open_case_is_held_too(
    vault: Vault, clock: FixedClock, tmp_path: Path, real_clip: bytes
) -> None:
    """Found as: record, dock, create a case, link the clip, media work. The viewing copy,
    poster and contact sheet were sealed with the original's date but without its hold, so
    the store would have let them go while the case kept the original (RT-3, RT-4)."""
    clock.at = DOCKED
    report = ingest_volume(vault, one_clip_camera(tmp_path / "cam", real_clip, DOCKED))
    (evidence_id,) = {c.evidence_id for c in report.clips}
    cases.create_case(vault, "环罚〔2026〕1号", "检查", "other", "一大队", [], [])
    cases.link(vault, "环罚〔2026〕1号", [evidence_id], [])
    run_worker(vault, until_idle=True)
    with vault.session() as session:
        until = session.get_one(Evidence, evidence_id).retain_until
    assert until is not None
    assert all(held and kept == until for _, held, kept in held_derivatives(vault, evidence_id))


def test_a_derivative_made_after_a_hold_keeps_the_hold_and_outlives_the_purge_date(
    vault: Vault, clock: FixedClock, tmp_path: Path, real_clip: bytes
) -> None:
    """The same with a manual hold: the purge 13 months later keeps the original, and the
    store keeps every derivative too."""
    clock.at = DOCKED
    report = ingest_volume(vault, one_clip_camera(tmp_path / "cam", real_clip, DOCKED))
    (evidence_id,) = {c.evidence_id for c in report.clips}
    place_hold(vault, evidence_id, "复议")
    run_worker(vault, until_idle=True)
    assert all(held for _, held, _ in held_derivatives(vault, evidence_id))
    clock.at = add_months(DOCKED, 13)
    assert purge_approved(vault).deleted == []
    with vault.session() as session:
        live = session.exec(select(Derivative).where(col(Derivative.purged_at).is_(None))).all()
    assert live and all(vault.store.exists(row.storage_key) for row in live)
    assert find_orphans(vault) == []


def test_a_camera_docked_again_after_its_clips_were_purged_leaves_no_orphan(
    vault: Vault, clock: FixedClock, tmp_path: Path
) -> None:
    """Found as: record, dock (no erase), 13 months on, purge, dock --erase. The ingest put
    the purged bytes back into the store under a fresh retention, where no record points at
    them (an orphan, `evault verify`: "marked purged ... but its object is still in the
    store"), marked the purged record "verified", and erased the clip from the camera on the
    strength of that copy: nothing can find the clip any more (IN-2, IN-4, RT-5)."""
    clock.at = DOCKED
    camera = one_clip_camera(tmp_path / "cam", b"a clip the camera still holds", DOCKED)
    (evidence_id,) = {c.evidence_id for c in ingest_volume(vault, camera).clips}
    clock.at = add_months(DOCKED, 13)
    assert [d["evidence_id"] for d in purge_approved(vault).deleted] == [evidence_id]
    again = ingest_volume(vault, camera, erase=True)
    assert find_orphans(vault) == []
    with vault.session() as session:
        row = session.get_one(Evidence, evidence_id)
    # Either the clip is live again (and its object verifies), or its record stays purged
    # and the camera keeps the clip, since no record holds a copy of it.
    if row.purged_at is None:
        assert vault.store.verify(row.storage_key, row.sha256, row.size).ok
    else:
        assert row.status == "purged"
        assert again.erased == []
        assert list((camera / "DCIM" / "100ANDRO").iterdir())
