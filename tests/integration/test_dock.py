"""The dock daemon against real FAT32 and exFAT images on loop devices, mounted through its
own mount code (FUSE here: the kernel of the test machines has no vfat or exfat), fed
udev events recorded from USB mass-storage devices (issue 3; IN-1, IN-2, DV-1, DV-3)."""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from tests.conftest import EVAULT, evault_env, make_settings, run_evault
from tests.dock_cameras import (
    UDEV,
    Loop,
    build_image,
    camera_event,
    image_files,
    pull_out,
    require_dock_tools,
)
from vault.context import Vault
from vault.db.models import AuditEvent, DockSession, Evidence
from vault.dock.bays import Bay
from vault.dock.daemon import DockDaemon
from vault.dock.events import load_recorded
from vault.dock.mount import mounted_under
from vault.dock.status import DockNotRunning, read_status
from vault.timeutil import FixedClock

CLIPS = {"DCIM/100ANDRO", "DCIM/101ANDRO"}


def clip_paths(files: dict[str, str]) -> set[str]:
    return {p for p in files if p.rsplit("/", 1)[0] in CLIPS}


@pytest.fixture
def dock_vault(home: Path, clock: FixedClock, tmp_path: Path) -> Vault:
    require_dock_tools()
    settings = make_settings(home, dock={"settle_s": 0, "mount_root": str(tmp_path / "mnt")})
    return Vault(settings, clock=clock, user="tester")


class Cameras:
    """Images and loop devices made by a test, detached at its end."""

    def __init__(self, root: Path, source: Path) -> None:
        self.root, self.source = root, source
        self.loops: list[Loop] = []

    def make(
        self, name: str, fs: str = "vfat", source: Path | None = None, size_mb: int = 64
    ) -> tuple[Path, Loop]:
        image = build_image(source or self.source, self.root / f"{name}.img", fs, name, size_mb)
        loop = Loop(image)
        self.loops.append(loop)
        return image, loop

    def close(self) -> None:
        for point in mounted_under(self.root):  # what a failed test left mounted
            subprocess.run(["umount", "-l", str(point)], check=False)
        for loop in self.loops:
            loop.detach()


@pytest.fixture
def cameras(tmp_path: Path, pristine_camera: Path) -> Iterator[Cameras]:
    require_dock_tools()
    made = Cameras(tmp_path, pristine_camera)
    yield made
    made.close()


@pytest.fixture
def daemon(dock_vault: Vault, tmp_path: Path) -> Iterator[DockDaemon]:
    dock = DockDaemon(dock_vault, status_socket=tmp_path / "dock.sock")
    dock.start()
    yield dock
    dock.close()
    assert mounted_under(dock.mounter.root) == []  # nothing left mounted


def docks(vault: Vault) -> list[DockSession]:
    with vault.session() as session:
        return list(session.exec(select(DockSession).order_by(DockSession.id)).all())  # type: ignore[arg-type]


def sealed_count(vault: Vault) -> int:
    with vault.session() as session:
        return len(session.exec(select(Evidence)).all())


@pytest.mark.parametrize("fs", ["vfat", "exfat"])
def test_camera_is_mounted_read_only_sealed_and_only_verified_clips_erased(
    fs: str, daemon: DockDaemon, dock_vault: Vault, cameras: Cameras, pristine_camera: Path
) -> None:
    image, loop = cameras.make("ZFY3100001", fs)
    before = image_files(image, fs) if fs == "vfat" else None
    seen_read_only: list[bool] = []

    def watch(bay: Bay, step: str) -> None:
        if step == "reading":
            options = next(
                (
                    line.split()[5]
                    for line in Path("/proc/self/mountinfo").read_text().splitlines()
                    if line.split()[4].startswith(str(daemon.mounter.root))
                ),
                "",
            )
            seen_read_only.append("ro" in options.split(","))

    daemon.on_bay_change = watch
    daemon.handle(camera_event(loop.devname, fs, "ZFY3100001"))
    assert daemon.wait_idle(120)
    (bay,) = daemon.board.bays()
    assert bay.state == "done", bay.reason
    assert seen_read_only and all(seen_read_only)  # read-only while reading (mounted ro)
    (dock,) = docks(dock_vault)
    assert (dock.bay, dock.fs_type, dock.devname) == ("usb-0:1.2", fs, loop.devname)
    assert dock.mounted_with == ("fusefat" if fs == "vfat" else "exfat-fuse")
    assert dock.usb_id == "1d6b:0104" and dock.usb_serial == "3100001"
    assert dock.status == "done" and dock.battery_percent == 76  # DV-3
    assert dock.clips_erased == dock.clips_seen > dock.clips_sealed > 0  # one IMP copy

    daemon.handle(camera_event(loop.devname, fs, "ZFY3100001", name="gadget-camera-remove.json"))
    (dock,) = docks(dock_vault)
    assert dock.undocked_at is not None and dock.docked_at is not None

    loop.detach()
    after = image_files(image, fs)
    assert clip_paths(after) == set()  # every clip sealed, verified, then erased (IN-2)
    assert "DCIM/LOGS/DEVLOG.TXT" in after and "DEVICE.TXT" in after  # not evidence: kept
    assert sealed_count(dock_vault) == dock.clips_sealed
    if before is not None:  # what was not erased is byte for byte what it was
        assert {p: h for p, h in before.items() if p in after} == after


def test_nothing_on_the_camera_changes_when_erasing_is_off(
    home: Path, clock: FixedClock, tmp_path: Path, cameras: Cameras
) -> None:
    settings = make_settings(
        home, dock={"settle_s": 0, "erase": False, "mount_root": str(tmp_path / "mnt")}
    )
    vault = Vault(settings, clock=clock, user="tester")
    image, loop = cameras.make("ZFY3100001")
    raw_before = (tmp_path / "ZFY3100001.img").read_bytes()
    dock = DockDaemon(vault, status_socket=tmp_path / "dock.sock")
    dock.start(serve_status=False)
    try:
        dock.handle(camera_event(loop.devname, "vfat", "ZFY3100001"))
        assert dock.wait_idle(120)
    finally:
        dock.close()
    assert dock.board.bays()[0].state == "done"
    loop.detach()
    assert image.read_bytes() == raw_before  # not one byte of the camera written
    assert sealed_count(vault) > 0


def test_an_unknown_usb_disk_is_logged_and_left_untouched(
    daemon: DockDaemon, dock_vault: Vault, caplog: pytest.LogCaptureFixture
) -> None:
    (event,) = load_recorded(UDEV / "sandisk-cruzer-partition.json")
    daemon.handle(event)
    assert daemon.board.bays() == []
    assert "0781:5567" in caplog.text and "left untouched" in caplog.text
    assert not (daemon.mounter.root.exists() and any(daemon.mounter.root.iterdir()))
    with dock_vault.session() as session:
        logged = session.exec(
            select(AuditEvent).where(AuditEvent.action == "dock.unknown_device")
        ).one()
    assert "Cruzer" in str(logged.detail["ids"])


def test_four_cameras_at_once_one_pulled_out_mid_copy(
    home: Path, clock: FixedClock, tmp_path: Path, cameras: Cameras, pristine_camera: Path
) -> None:
    settings = make_settings(
        home, dock={"settle_s": 0, "workers": 4, "mount_root": str(tmp_path / "mnt")}
    )
    vault = Vault(settings, clock=clock, user="tester")
    made = {}
    for n, port in enumerate(["1.1", "1.2", "1.3", "1.4"]):
        source = tmp_path / f"src{n}"
        shutil.copytree(pristine_camera, source)
        for clip in (source / "DCIM/100ANDRO").iterdir():  # each camera its own clips
            with clip.open("ab") as f:
                f.write(f"camera {n}".encode())
        made[port] = (*cameras.make(f"CAM{n}", "vfat" if n % 2 else "exfat", source), n)
    pulled = "usb-0:1.3"
    # Pulled as its third clip starts to be read: two clips read before it. (Counted by the
    # clips begun, not by files_done: the overlapped ingest records and verifies clips in
    # groups, so files_done lags the reading, issue 22.)
    begun: set[str] = set()

    def pull(bay: Bay, step: str) -> None:
        if bay.key != pulled or not step.startswith("reading:") or step in begun:
            return
        begun.add(step)
        if len(begun) == 3:
            pull_out(dock.mounter.root / "usb-0_1.3")
            _, loop, n = made["1.3"]
            dock.handle(
                camera_event(
                    loop.devname,
                    "exfat" if n % 2 == 0 else "vfat",
                    f"CAM{n}",
                    port="1.3",
                    name="gadget-camera-remove.json",
                )
            )

    dock = DockDaemon(vault, status_socket=tmp_path / "dock.sock", on_bay_change=pull)
    dock.start()
    try:
        for port, (_, loop, n) in made.items():
            dock.handle(
                camera_event(loop.devname, "vfat" if n % 2 else "exfat", f"CAM{n}", port=port)
            )
        assert dock.wait_idle(180)
        states = {b.key: (b.state, b.reason) for b in dock.board.bays()}
        assert len(states) == 4
        for key, (state, reason) in states.items():
            if key == pulled:
                assert state == "failed" and reason and "removed mid-copy" in reason
            else:
                assert state == "done", (key, reason)
    finally:
        dock.close()
    image, loop, n = made["1.3"]
    loop.detach()
    fs = "vfat" if n % 2 else "exfat"
    left = clip_paths(image_files(image, fs))
    # Nothing erased from the pulled camera: its two sealed clips were never verified there.
    assert left == clip_paths(image_files_of_source(tmp_path / f"src{n}"))
    pulled_dock = next(d for d in docks(vault) if d.bay == pulled)
    assert pulled_dock.clips_erased == 0 and pulled_dock.undocked_at is not None

    # Docked again: the rest is taken, what was already sealed is recognised, all erased.
    again = Loop(image)
    cameras.loops.append(again)
    dock = DockDaemon(vault, status_socket=tmp_path / "dock.sock")
    dock.start()
    try:
        dock.handle(camera_event(again.devname, fs, f"CAM{n}", port="1.3"))
        assert dock.wait_idle(120)
        (bay,) = dock.board.bays()
        assert bay.state == "done", bay.reason
    finally:
        dock.close()
    again.detach()
    assert clip_paths(image_files(image, fs)) == set()
    with vault.session() as session:
        rows = session.exec(select(Evidence)).all()
    assert all(r.status == "verified" for r in rows)


def image_files_of_source(source: Path) -> dict[str, str]:
    return {str(p.relative_to(source)): "" for p in source.rglob("*") if p.is_file()}


def _replay_file(tmp_path: Path, loop: Loop, label: str) -> Path:
    event = camera_event(loop.devname, "vfat", label)
    path = tmp_path / "events.json"
    path.write_text(json.dumps([{"action": "add", "properties": dict(event.properties)}]))
    return path


def _dock_config(home: Path, tmp_path: Path, **dock: object) -> None:
    settings = {"settle_s": 0, "mount_root": str(tmp_path / "mnt"), "watchdog_s": 0.2, **dock}
    lines = "".join(f"{k} = {json.dumps(v)}\n" for k, v in settings.items())
    env = evault_env(home)  # writes the test config
    config = Path(env["EVAULT_CONFIG"])
    config.write_text(config.read_text() + "[dock]\n" + lines)


def test_sigkill_mid_ingest_then_restart_loses_nothing(
    home: Path, tmp_path: Path, cameras: Cameras
) -> None:
    image, loop = cameras.make("ZFY3100001")
    events = _replay_file(tmp_path, loop, "ZFY3100001")
    _dock_config(home, tmp_path)
    argv = [*EVAULT, "dock", "--replay", str(events), "--exit-when-idle"]
    killed = subprocess.run(
        argv,
        env=evault_env(home, kill_at="ingest.sealed:2"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert killed.returncode == -signal.SIGKILL
    assert mounted_under(tmp_path / "mnt")  # the killed daemon left its mount behind

    done = subprocess.run(argv, env=evault_env(home), capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert "left by an earlier run" in done.stderr and "was left open; closed" in done.stderr
    assert mounted_under(tmp_path / "mnt") == []
    loop.detach()
    assert clip_paths(image_files(image, "vfat")) == set()  # all taken and verified, then erased
    listed = run_evault(home, "device", "ledger", "3100001", "--json")
    assert listed.returncode == 0, listed.stderr
    (device,) = json.loads(listed.stdout)
    statuses = sorted(d["status"] for d in device["docks"])
    assert statuses == ["done", "interrupted"]
    verify = run_evault(home, "evidence", "verify", "--all")
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_sigterm_finishes_the_current_clip_and_reports_to_systemd(
    home: Path, tmp_path: Path, cameras: Cameras, pristine_camera: Path
) -> None:
    image, loop = cameras.make("ZFY3100001")
    clips = clip_paths(image_files(image, "vfat"))
    events = _replay_file(tmp_path, loop, "ZFY3100001")
    _dock_config(home, tmp_path)
    notify = tmp_path / "notify.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(notify))
    listener.settimeout(0.2)
    # The first clip's seal waits 10 s: SIGTERM comes while the dock is mid-volume.
    env = {
        **evault_env(home),
        "NOTIFY_SOCKET": str(notify),
        # The first clip read (and handed to the sealing thread), the next not yet begun.
        "EVAULT_PAUSE_AT": "ingest.read:1:10",
    }
    proc = subprocess.Popen(
        [*EVAULT, "dock", "--replay", str(events)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    messages: list[str] = []
    done = threading.Event()

    def read_notify() -> None:  # as systemd does: the socket is drained all along
        while not done.is_set():
            with contextlib.suppress(TimeoutError):
                messages.append(listener.recv(4096).decode())

    reader = threading.Thread(target=read_notify, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 60
        state: dict[str, Any] = {}
        while time.monotonic() < deadline:
            time.sleep(0.2)
            with contextlib.suppress(DockNotRunning):
                state = read_status(home / "dock.sock")
                if state["bays"] and state["bays"][0]["bytes_done"] > 0:
                    break
        else:
            pytest.fail(f"the dock never showed a bay reading: {state}")
        assert state["bays"][0]["state"] == "reading"
        text = run_evault(home, "dock", "status")
        assert "usb-0:1.2" in text.stdout and "reading" in text.stdout
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 0, stderr
        time.sleep(0.5)  # the last datagrams, read by the reader
    finally:
        done.set()
        reader.join(5)
        if proc.poll() is None:
            proc.kill()
        listener.close()
    joined = "\n".join(messages)
    assert "READY=1" in joined and "WATCHDOG=1" in joined and "STOPPING=1" in joined
    assert "STATUS=1 bays: 1 reading" in joined
    (device,) = json.loads(run_evault(home, "device", "ledger", "3100001", "--json").stdout)
    (dock,) = device["docks"]
    assert dock["status"] == "interrupted" and dock["clips_erased"] == 0
    assert dock["clips_seen"] == 1 and dock["clips_sealed"] == 1  # the clip it was reading
    assert mounted_under(tmp_path / "mnt") == []
    loop.detach()
    assert clip_paths(image_files(image, "vfat")) == clips  # nothing erased


def test_device_keeper_and_ledger(home: Path, daemon: DockDaemon, cameras: Cameras) -> None:
    _, loop = cameras.make("ZFY3100001")
    daemon.handle(camera_event(loop.devname, "vfat", "ZFY3100001"))
    assert daemon.wait_idle(120)
    # The CLI reads the same vault (home) the in-process daemon wrote.
    evault_env(home)
    keeper = run_evault(home, "principal", "add", "王档案", "--role", "records_keeper")
    assert keeper.returncode == 0, keeper.stderr  # root, mapped as the records keeper
    assert run_evault(home, "device", "assign", "3100001", "010203").returncode == 0
    # A keeper is an officer on record (issue 16): 020304 is added before he takes it over.
    added = run_evault(home, "principal", "add", "李四", "--role", "officer", "--officer", "020304")
    assert added.returncode == 0, added.stderr
    moved = run_evault(home, "device", "assign", "3100001", "020304", "--note", "hand-over")
    assert moved.returncode == 0, moved.stderr
    again = run_evault(home, "device", "assign", "3100001", "020304")
    assert again.returncode == 1 and "already keeps" in again.stderr
    unknown = run_evault(home, "device", "assign", "9999999", "020304")
    assert unknown.returncode == 1 and "no camera" in unknown.stderr
    (device,) = json.loads(run_evault(home, "device", "ledger", "--json").stdout)
    assert device["keeper"] == "020304"
    assert [(k["keeper"], k["to"] is None) for k in device["keepers"]] == [
        ("010203", False),
        ("020304", True),
    ]
    (dock,) = device["docks"]
    assert dock["battery_percent"] == 76 and dock["free_bytes"] == 27_000_000_000  # DV-3
    assert dock["officer_id"] == "010203" and dock["bay"] == "usb-0:1.2"
    assert dock["clock_offset_s"] is not None
    table = run_evault(home, "device", "ledger", "3100001")
    assert "020304" in table.stdout and "76%" in table.stdout


def test_a_camera_the_desktop_mounts_in_a_watched_folder_is_taken(
    home: Path, clock: FixedClock, tmp_path: Path, camera: Path
) -> None:
    """dock.watch_dirs: a folder mounted under /media (here a bind mount) is ingested."""
    require_dock_tools()
    from vault.dock.watch import DirWatcher

    media = tmp_path / "media"
    media.mkdir()
    settings = make_settings(
        home, dock={"settle_s": 0.2, "watch_dirs": [str(media)], "erase": True}
    )
    vault = Vault(settings, clock=clock, user="tester")
    dock = DockDaemon(vault, status_socket=tmp_path / "dock.sock")
    dock.start(serve_status=False)
    watcher = DirWatcher(dock, settings.dock.watch_dirs)
    watcher.start()
    target = media / "officer" / "ZFY3100001"
    try:
        target.mkdir(parents=True)
        subprocess.run(["mount", "--bind", str(camera), str(target)], check=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (
            dock.board.bays() and not dock.board.bays()[0].active
        ):
            time.sleep(0.1)
        (bay,) = dock.board.bays()
        assert bay.state == "done", bay.reason
        assert bay.profile == "zfy-ref" and bay.key == "dir:ZFY3100001"
    finally:
        watcher.stop()
        dock.close()
        subprocess.run(["umount", str(target)], check=False)
    assert not list((camera / "DCIM/100ANDRO").iterdir())  # verified, then erased
    assert sealed_count(vault) > 0
