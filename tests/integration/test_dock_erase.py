"""The dock's erase step on real FAT32 and exFAT images (issue 22 part 3, IN-2): the camera is
not changed by one byte before the erase step begins, whatever the drivers; only clips whose
sealed copy read back and matched are erased; a clip whose copy did not verify stays on the
camera as it was."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select

from tests.conftest import make_settings
from tests.dock_cameras import Loop, build_image, camera_event, image_files, require_dock_tools
from vault.context import Vault
from vault.db.models import DockSession, Evidence
from vault.dock.bays import Bay
from vault.dock.daemon import DockDaemon
from vault.dock.mount import mounted_under
from vault.store import VerifyResult
from vault.store.local import LocalWormStore
from vault.timeutil import FixedClock

CLIP_DIRS = {"DCIM/100ANDRO", "DCIM/101ANDRO"}


def device_sha256(devname: str) -> str:
    """The block device's bytes as a reader of the camera sees them now (the page cache of
    the device included: a write a driver has not flushed shows here)."""
    digest = hashlib.sha256()
    with open(devname, "rb") as device:
        while block := device.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def clips(files: dict[str, str]) -> dict[str, str]:
    return {p: h for p, h in files.items() if p.rsplit("/", 1)[0] in CLIP_DIRS}


@pytest.fixture
def loops() -> Iterator[list[Loop]]:
    made: list[Loop] = []
    yield made
    for loop in made:
        loop.detach()


def dock_one(vault: Vault, tmp_path: Path, loop: Loop, fs: str, on_change: object) -> Bay:
    daemon = DockDaemon(vault, status_socket=tmp_path / "dock.sock", on_bay_change=on_change)  # type: ignore[arg-type]
    daemon.start(serve_status=False)
    try:
        daemon.handle(camera_event(loop.devname, fs, "ZFY3100001"))
        assert daemon.wait_idle(120)
        (bay,) = daemon.board.bays()
    finally:
        daemon.close()
    assert mounted_under(daemon.mounter.root) == []
    return bay


@pytest.mark.parametrize("fs", ["vfat", "exfat"])
def test_the_camera_is_not_changed_before_the_erase_step(
    fs: str, home: Path, clock: FixedClock, tmp_path: Path, pristine_camera: Path, loops: list
) -> None:
    """Read the device itself at every step up to 'erasing': not one byte differs from the
    image as docked (no driver's dirty flag, no access time); then the verified clips go."""
    require_dock_tools()
    settings = make_settings(home, dock={"settle_s": 0, "mount_root": str(tmp_path / "mnt")})
    vault = Vault(settings, clock=clock, user="tester")
    image = build_image(pristine_camera, tmp_path / "cam.img", fs, "ZFY3100001")
    docked = hashlib.sha256(image.read_bytes()).hexdigest()
    files_before = image_files(image, fs)
    loop = Loop(image)
    loops.append(loop)
    seen: dict[str, str] = {}

    def watch(bay: Bay, step: str) -> None:
        if step in ("mounted", "verifying", "erasing"):
            seen[step] = device_sha256(loop.devname)

    bay = dock_one(vault, tmp_path, loop, fs, watch)
    assert bay.state == "done", bay.reason
    assert seen == {"mounted": docked, "verifying": docked, "erasing": docked}
    loop.detach()
    after = image_files(image, fs)
    assert clips(after) == {} and clips(files_before)  # the verified clips were erased
    kept = {p: h for p, h in files_before.items() if p not in clips(files_before)}
    assert {p: after.get(p) for p in kept} == kept  # the rest as it was


@pytest.mark.parametrize("fs", ["vfat", "exfat"])
def test_only_clips_that_verified_are_erased(
    fs: str,
    home: Path,
    clock: FixedClock,
    tmp_path: Path,
    pristine_camera: Path,
    loops: list,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One clip's sealed copy is damaged in the store after it was sealed and before it is
    read back: that clip stays on the camera byte for byte; every other clip is erased."""
    require_dock_tools()
    settings = make_settings(home, dock={"settle_s": 0, "mount_root": str(tmp_path / "mnt")})
    vault = Vault(settings, clock=clock, user="tester")
    image = build_image(pristine_camera, tmp_path / "cam.img", fs, "ZFY3100001")
    before = clips(image_files(image, fs))
    counts: dict[str, int] = {}
    for sha in before.values():
        counts[sha] = counts.get(sha, 0) + 1
    victim = sorted(p for p, sha in before.items() if counts[sha] == 1)[0]  # bytes seen once
    loop = Loop(image)
    loops.append(loop)
    damaged: list[str] = []
    store = vault.store
    assert isinstance(store, LocalWormStore)
    read_back = store.verify

    def damage_then_verify(
        key: str, expected_sha256: str, expected_size: int | None = None
    ) -> VerifyResult:
        # The victim's copy is sealed (the read-back is asked for it) and not yet read back:
        # the overlapped ingest reads back on its own thread, in groups (issue 22).
        if expected_sha256 == before[victim] and not damaged:
            sealed = store.path_for(key)
            os.chmod(sealed, 0o600)
            with open(sealed, "r+b") as f:
                first = f.read(1)
                f.seek(0)
                f.write(bytes([first[0] ^ 0xFF]))
            damaged.append(victim)
        return read_back(key, expected_sha256, expected_size)

    monkeypatch.setattr(store, "verify", damage_then_verify)

    def damage(bay: Bay, step: str) -> None:
        pass

    bay = dock_one(vault, tmp_path, loop, fs, damage)
    assert damaged == [victim]
    assert bay.state == "failed" and bay.reason and "did not verify" in bay.reason
    loop.detach()
    left = clips(image_files(image, fs))
    assert left == {victim: before[victim]}  # only the unverified clip remains, unchanged
    with vault.session() as session:
        (dock,) = session.exec(select(DockSession)).all()
        rows = session.exec(select(Evidence)).all()
    assert dock.clips_erased == len(before) - 1
    bad = [r for r in rows if r.sha256 == before[victim]]
    assert len(bad) == 1 and bad[0].status != "verified"
