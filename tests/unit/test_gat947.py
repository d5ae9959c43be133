"""The GA/T 947.4 library driver against a real shared object: the stand-in camera library
(tests/gat947/libbodycam_standin.c) compiled here, loaded with ctypes in a child process per
camera (issue 21; DV-1, DV-2, DV-3)."""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlmodel import select

from tests.conftest import make_settings
from tests.gat947.standin import (
    PASSWORD,
    StandinCamera,
    build_library,
    install_profile,
    write_credentials,
)
from vault.context import Vault
from vault.db.models import AuditEvent, DeviceAssignment, Officer
from vault.dock import ledger
from vault.dock.daemon import DockDaemon
from vault.dock.drivers import CameraDriver, DriverError, LibraryCallFailed, open_driver
from vault.dock.drivers.gat947 import ZfyInfo, decode_field
from vault.errors import ProfileError
from vault.profiles import Profile, load_profile
from vault.timeutil import FixedClock

CLOCK = 'clock = { call = "GetDevTime", args = ["text_out", "password", "iret"] }'


@pytest.fixture(scope="session")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_library(tmp_path_factory.mktemp("standin"))


@pytest.fixture
def states(tmp_path: Path) -> Path:
    path = tmp_path / "cameras"
    path.mkdir()
    return path


def profile(tmp_path: Path, library: Path, states: Path, options: str = CLOCK) -> Profile:
    credentials = write_credentials(tmp_path / "standin.secret")
    return load_profile(
        install_profile(tmp_path / "profiles", library, credentials, states, options)
    )


@pytest.fixture
def opened(tmp_path: Path, library: Path, states: Path) -> Iterator[list[CameraDriver]]:
    drivers: list[CameraDriver] = []
    yield drivers
    for driver in drivers:
        driver.close()


def connect(
    camera: StandinCamera, found: Profile, opened: list[CameraDriver], password: str = PASSWORD
) -> CameraDriver:
    assert found.driver_options is not None
    driver = open_driver(
        "gat947",
        password=password,
        timezone="Asia/Shanghai",
        bus=camera.bus,
        address=camera.address,
        options=found.driver_options,
    )
    opened.append(driver)
    return driver


def dock_one(vault: Vault, camera: StandinCamera, tmp_path: Path) -> DockDaemon:
    """Dock CAMERA once with a fresh daemon, wait until it is idle, close the daemon."""
    dock = DockDaemon(vault, status_socket=tmp_path / "dock.sock")
    dock.start(serve_status=False)
    try:
        dock.handle(camera.usb_event())
        assert dock.wait_idle(30)
    finally:
        dock.close()
    return dock


def test_zfy_info_is_packed_without_padding() -> None:
    assert ctypes.sizeof(ZfyInfo) == 8 + 7 + 33 + 13 + 33


def test_identity_battery_resolution_and_clock_through_the_library(
    tmp_path: Path, library: Path, states: Path, opened: list[CameraDriver]
) -> None:
    camera = StandinCamera(states)
    driver = connect(camera, profile(tmp_path, library, states), opened)
    assert driver.supports == {"info", "mass_storage", "read_clock", "sync_clock", "write_info"}
    assert driver.identify() == "3100001"
    info = driver.read_info()
    assert (info.device_id, info.officer_id, info.unit_id) == ("3100001", "010203", "110105000000")
    assert info.battery_percent == 58 and info.resolution == "1920x1080"  # DV-3
    assert info.raw["GetIDCode"] == "EVT47" and info.raw["ZFY_INFO.badge"] == "010203"
    clock = driver.read_clock()
    assert clock is not None and clock.isoformat() == "2026-11-23T17:02:05+08:00"
    assert camera.calls()[:2] == ["Init_Device", "StandinLogin"]


def test_a_badge_name_in_gbk_is_read_right(
    tmp_path: Path, library: Path, states: Path, opened: list[CameraDriver]
) -> None:
    camera = StandinCamera(
        states, name="欧阳娜娜".encode("gbk"), unit_name="北京市公安局朝阳分局".encode("gbk")
    )
    info = connect(camera, profile(tmp_path, library, states), opened).read_info()
    assert (info.officer_name, info.unit_name) == ("欧阳娜娜", "北京市公安局朝阳分局")


def test_fields_that_fill_their_arrays_without_a_nul_are_read_whole(
    tmp_path: Path, library: Path, states: Path, opened: list[CameraDriver]
) -> None:
    name = "张" * 16 + "A"  # 33 bytes in GBK: all of userName[33], no NUL
    unit = "公安局" * 5 + "所" + "X"  # 33 bytes
    camera = StandinCamera(
        states,
        serial="31000017",  # cSerial[8]
        badge="0102030",  # userNo[7]
        name=name.encode("gbk"),
        unit_no="1101050000001",  # unitNo[13]
        unit_name=unit.encode("gbk"),
    )
    assert len(name.encode("gbk")) == 33 and len(unit.encode("gbk")) == 33
    info = connect(camera, profile(tmp_path, library, states), opened).read_info()
    assert info.device_id == "31000017" and info.officer_id == "0102030"
    assert info.officer_name == name and info.unit_id == "1101050000001"
    assert info.unit_name == unit


def test_bytes_that_are_not_gbk_are_a_clear_error(
    tmp_path: Path, library: Path, states: Path, opened: list[CameraDriver]
) -> None:
    camera = StandinCamera(states, name=b"\xff\xfe\xfd")
    driver = connect(camera, profile(tmp_path, library, states), opened)
    with pytest.raises(DriverError, match=r"camera's name in ZFY_INFO is not GBK text"):
        driver.read_info()
    assert decode_field(b"\0\0\0", "name") is None


def test_a_wrong_password_is_refused_without_the_password_in_any_output(
    tmp_path: Path,
    library: Path,
    states: Path,
    opened: list[CameraDriver],
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    camera = StandinCamera(states)
    wrong = "WRONG9"
    with pytest.raises(DriverError) as caught:
        connect(camera, profile(tmp_path, library, states), opened, password=wrong)
    message = str(caught.value)
    assert "wrong camera password" in message and "StandinLogin" in message
    assert "standin.secret" in message  # it names the file, not what is in it
    out, err = capfd.readouterr()
    for text in (message, caplog.text, out, err):
        assert wrong not in text and PASSWORD not in text


def test_a_credentials_file_others_may_read_is_refused(tmp_path: Path) -> None:
    from vault.dock.drivers.credentials import read_password

    loose = write_credentials(tmp_path / "loose.secret", mode=0o640)
    with pytest.raises(DriverError, match=r"may be read by others \(mode 0640\)") as caught:
        read_password(loose)
    assert PASSWORD not in str(caught.value)
    assert read_password(write_credentials(tmp_path / "tight.secret")) == PASSWORD


def test_a_profile_cannot_hold_the_password(tmp_path: Path, library: Path, states: Path) -> None:
    with pytest.raises(ProfileError, match="password"):
        profile(tmp_path, library, states, options=f'password = "{PASSWORD}"')


def test_a_hanging_call_is_cut_at_its_time_limit(
    tmp_path: Path, library: Path, states: Path, opened: list[CameraDriver]
) -> None:
    camera = StandinCamera(states, hang="GetZFYInfo")
    driver = connect(camera, profile(tmp_path, library, states, CLOCK + "\ntimeout_s = 1"), opened)
    started = time.monotonic()
    with pytest.raises(LibraryCallFailed) as caught:
        driver.read_info()
    assert time.monotonic() - started < 5
    assert caught.value.call == "GetZFYInfo"
    assert "GetZFYInfo did not return within 1 s" in str(caught.value)
    with pytest.raises(DriverError, match="process is gone"):
        driver.identify()  # the child was stopped; nothing more is asked of it


def test_a_crashing_call_fails_with_the_call_named(
    tmp_path: Path, library: Path, states: Path, opened: list[CameraDriver]
) -> None:
    camera = StandinCamera(states, crash="ReadDeviceBatteryDumpEnergy")
    driver = connect(camera, profile(tmp_path, library, states), opened)
    with pytest.raises(
        LibraryCallFailed, match=r"crashed in ReadDeviceBatteryDumpEnergy \(SIGSEGV\)"
    ):
        driver.read_info()


def test_a_leaking_call_fails_past_the_memory_limit(
    tmp_path: Path, library: Path, states: Path, opened: list[CameraDriver]
) -> None:
    camera = StandinCamera(states, leak="ReadDeviceResolution", leak_mb="400")
    driver = connect(
        camera, profile(tmp_path, library, states, CLOCK + "\nmemory_mb = 256"), opened
    )
    with pytest.raises(LibraryCallFailed, match=r"leaked: .* in ReadDeviceResolution"):
        driver.read_info()


# -- in the dock -----------------------------------------------------------------------


def standin_vault(
    home: Path,
    clock: FixedClock,
    tmp_path: Path,
    library: Path,
    states: Path,
    options: str = CLOCK,
    workers: int = 4,
) -> Vault:
    profile(tmp_path, library, states, options)
    settings = make_settings(
        home,
        devices={"profile_dirs": [str(tmp_path / "profiles")]},
        dock={"settle_s": 0, "mount_root": str(tmp_path / "mnt"), "workers": workers},
    )
    return Vault(settings, clock=clock, user="tester")


def test_sync_dev_time_comes_only_after_the_offset_was_recorded(
    home: Path, clock: FixedClock, tmp_path: Path, library: Path, states: Path
) -> None:
    """DV-2: the camera's clock is read and its offset committed before SyncDevTime."""
    vault = standin_vault(home, clock, tmp_path, library, states)
    camera = StandinCamera(states)
    dock = DockDaemon(vault, status_socket=tmp_path / "dock.sock")
    seen: dict[str, list[str]] = {}
    real_audit = dock._audit

    def audit(action: str, bay: str, detail: dict[str, object]) -> None:
        real_audit(action, bay, detail)
        seen[action] = camera.calls()  # what the library had been asked when it was recorded

    dock._audit = audit  # type: ignore[method-assign]
    dock.start(serve_status=False)
    try:
        dock.handle(camera.usb_event())
        assert dock.wait_idle(30)
    finally:
        dock.close()
    (bay,) = dock.board.bays()
    assert bay.state == "done", bay.reason
    assert "GetDevTime" in seen["device.clock_measured"]
    assert "SyncDevTime" not in seen["device.clock_measured"]
    calls = camera.calls()
    assert calls.index("GetDevTime") < calls.index("SyncDevTime") < calls.index("SetMSDC")
    with vault.session() as session:
        measured = session.exec(
            select(AuditEvent).where(AuditEvent.action == "device.clock_measured")
        ).one()
    assert measured.detail["offset_s"] == 125.0  # 17:02:05 in Shanghai against 09:00:00 UTC
    assert camera.state()["clock"] == b"host" and camera.state()["msdc"] == b"1"
    assert dock._drivers[bay.key].camera is not None


def test_without_a_clock_call_the_camera_clock_is_never_set(
    home: Path, clock: FixedClock, tmp_path: Path, library: Path, states: Path
) -> None:
    """DV-2: an offset that cannot be measured first is not destroyed by setting the clock."""
    vault = standin_vault(home, clock, tmp_path, library, states, options="")
    camera = StandinCamera(states)
    dock = dock_one(vault, camera, tmp_path)
    assert dock.board.bays()[0].state == "done"
    assert "SyncDevTime" not in camera.calls() and "SetMSDC" in camera.calls()


def test_a_crash_in_the_library_fails_only_its_bay_and_the_dock_runs_on(
    home: Path, clock: FixedClock, tmp_path: Path, library: Path, states: Path
) -> None:
    options = CLOCK + "\nmsdc_timeout_s = 1"
    vault = standin_vault(home, clock, tmp_path, library, states, options, workers=3)
    broken = StandinCamera(states, address=11, crash="GetZFYInfo")
    hanging = StandinCamera(states, address=12, hang="SetMSDC")
    sound = StandinCamera(states, address=13)
    dock = DockDaemon(vault, status_socket=tmp_path / "dock.sock")
    dock.start(serve_status=False)
    try:
        dock.handle(broken.usb_event(port="1.1"))
        dock.handle(hanging.usb_event(port="1.2"))
        dock.handle(sound.usb_event(port="1.3"))
        assert dock.wait_idle(30)
        states_now = {b.key: (b.state, b.reason or "") for b in dock.board.bays()}
        assert states_now["usb-0:1.1"][0] == "failed"
        assert "crashed in GetZFYInfo (SIGSEGV)" in states_now["usb-0:1.1"][1]
        assert states_now["usb-0:1.2"][0] == "failed"
        assert "SetMSDC did not return within 1 s" in states_now["usb-0:1.2"][1]
        assert states_now["usb-0:1.3"][0] == "done"
        # The dock still takes cameras: the broken one, mended and plugged in again.
        broken.set(crash="")
        dock.handle(broken.usb_event(port="1.1"))
        assert dock.wait_idle(30)
        assert dock.board.get("usb-0:1.1") is not None
        assert dock.board.get("usb-0:1.1").state == "done"  # type: ignore[union-attr]
    finally:
        dock.close()
    with vault.session() as session:
        failed = session.exec(
            select(AuditEvent).where(AuditEvent.action == "device.driver_failed")
        ).all()
    assert sorted(str(e.detail.get("call")) for e in failed) == ["GetZFYInfo", "SetMSDC"]


def test_the_dock_writes_the_keepers_badge_into_the_camera(
    home: Path, clock: FixedClock, tmp_path: Path, library: Path, states: Path
) -> None:
    """DV-1: with write_keeper, the camera carries the badge of its keeper (WriteZFYInfo)."""
    vault = standin_vault(home, clock, tmp_path, library, states, CLOCK + "\nwrite_keeper = true")
    ledger.assign(vault, "3100001", "020304", profile="gat947-standin")
    assert ledger.badge_written_by_dock(vault, "3100001")
    with vault.session() as session:  # what the records know of the keeper
        keeper = session.exec(select(Officer).where(Officer.officer_id == "020304")).one()
        keeper.name, keeper.unit = "李四", "海淀分局"
        session.add(keeper)
        session.commit()
    camera = StandinCamera(states)
    dock = dock_one(vault, camera, tmp_path)
    assert dock.board.bays()[0].state == "done", dock.board.bays()[0].reason
    assert camera.state()["badge"] == b"020304"
    # The previous officer's name and unit went with his badge: the keeper's replace them.
    assert camera.state()["name"] == "李四".encode("gbk")
    assert camera.state()["unit_name"] == "海淀分局".encode("gbk")
    assert camera.state()["unit_no"] == b""  # not known for the keeper: cleared
    assert "WriteZFYInfo" in camera.calls()
    report = dock._drivers["usb-0:1.5"]
    assert report.officer_id == "010203"  # what the camera said before it was written
    assert report.badge_written == "020304"
    with vault.session() as session:
        (assignment,) = session.exec(select(DeviceAssignment)).all()
        written = session.exec(
            select(AuditEvent).where(AuditEvent.action == "device.badge_written")
        ).one()
    assert assignment.carried_at is not None
    assert written.detail == {"device_id": "3100001", "badge": "020304", "was": "010203"}


def _alive(pid: int) -> bool:
    """Running (not gone, not a zombie waiting for init to reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _gone(pid: int, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_unreadable_clock_text_is_recorded_and_the_clock_left_alone(
    home: Path, clock: FixedClock, tmp_path: Path, library: Path, states: Path
) -> None:
    """DV-2: no offset measured, no SyncDevTime; what the camera said is kept as it said it."""
    vault = standin_vault(home, clock, tmp_path, library, states)
    camera = StandinCamera(states, clock="2026-13-45 99")
    dock = dock_one(vault, camera, tmp_path)
    (bay,) = dock.board.bays()
    assert bay.state == "done", bay.reason
    assert "GetDevTime" in camera.calls() and "SetMSDC" in camera.calls()
    assert "SyncDevTime" not in camera.calls()
    assert camera.state()["clock"] == b"2026-13-45 99"
    with vault.session() as session:
        measured = session.exec(
            select(AuditEvent).where(AuditEvent.action == "device.clock_measured")
        ).one()
        synced = session.exec(
            select(AuditEvent).where(AuditEvent.action == "device.clock_synced")
        ).all()
    assert measured.detail["camera_time"] is None and measured.detail["offset_s"] is None
    assert measured.detail["camera_time_raw"] == "2026-13-45 99"
    assert synced == []
    assert dock._drivers[bay.key].info["device_time_raw"] == "2026-13-45 99"


def test_a_library_that_started_a_child_is_stopped_whole_and_closes_at_once(
    tmp_path: Path, library: Path, states: Path, opened: list[CameraDriver]
) -> None:
    """The child's process group is killed: the library's helper neither survives nor
    keeps the bay (its standard error) waiting."""
    camera = StandinCamera(states, spawn="SetMSDC", spawn_s="30")
    driver = connect(
        camera, profile(tmp_path, library, states, CLOCK + "\nmsdc_timeout_s = 1"), opened
    )
    started = time.monotonic()
    with pytest.raises(LibraryCallFailed, match="SetMSDC did not return within 1 s"):
        driver.enter_mass_storage()
    helper = camera.spawned()
    assert helper is not None
    driver.close()
    assert time.monotonic() - started < 5
    assert _gone(helper), "the library's helper outlived its camera's child"


def test_a_death_between_calls_is_not_blamed_on_the_last_call(
    tmp_path: Path, library: Path, states: Path, opened: list[CameraDriver]
) -> None:
    camera = StandinCamera(states)
    driver = connect(camera, profile(tmp_path, library, states), opened)
    assert driver.identify() == "3100001"  # GetZFYInfo answered
    os.kill(driver._proc.pid, 9)  # type: ignore[attr-defined]
    with pytest.raises(LibraryCallFailed) as caught:
        driver.read_info()
    assert caught.value.call is None
    assert "between library calls" in str(caught.value)
    assert "GetZFYInfo" not in str(caught.value)


CHILD_OF_A_KILLED_DOCK = """
import os, sys, threading, time
from pathlib import Path
from vault.dock.drivers import open_driver
from vault.profiles import load_profile
from tests.gat947.standin import PASSWORD
found = load_profile(Path(sys.argv[1]))
driver = open_driver(
    "gat947", password=PASSWORD, timezone="Asia/Shanghai", bus=1, address=9,
    options=found.driver_options,
)
print(driver._proc.pid, flush=True)
threading.Thread(target=driver.read_info, daemon=True).start()
time.sleep(0.5)
os.kill(os.getpid(), 9)
"""


def test_the_child_dies_with_a_killed_dock(tmp_path: Path, library: Path, states: Path) -> None:
    """PR_SET_PDEATHSIG: a SIGKILLed dock leaves no camera child (with its password) behind."""
    StandinCamera(states, hang="GetZFYInfo")
    profile(tmp_path, library, states)
    root = Path(__file__).resolve().parents[2]
    dock = subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent(CHILD_OF_A_KILLED_DOCK),
            str(tmp_path / "profiles" / "gat947-standin.toml"),
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert dock.returncode == -9, dock.stderr
    child = int(dock.stdout.split()[0])
    assert _gone(child), "the camera's child outlived the dock"


def test_the_child_runs_from_root_with_a_minimal_environment(
    tmp_path: Path,
    library: Path,
    states: Path,
    opened: list[CameraDriver],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """No dock cwd on sys.path, none of the dock's settings, no core dump, no runpy warning."""
    caplog.set_level(logging.WARNING)
    monkeypatch.setenv("EVAULT_DATABASE_URL", "postgresql://vault:secret@db/vault")
    monkeypatch.setenv("PYTHONPATH", "")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "vault").mkdir()  # a package the dock's cwd would have shadowed `vault` with
    (tmp_path / "vault" / "__init__.py").write_text("raise SystemExit('imported from cwd')\n")
    camera = StandinCamera(states)
    driver = connect(camera, profile(tmp_path, library, states), opened)
    pid = driver._proc.pid  # type: ignore[attr-defined]
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    assert not any(e.startswith(b"EVAULT_") for e in environ)
    assert b"PYTHONPATH=" + str(Path(__file__).resolve().parents[2]).encode() in environ
    assert os.readlink(f"/proc/{pid}/cwd") == "/"
    limits = Path(f"/proc/{pid}/limits").read_text()
    (core,) = [line for line in limits.splitlines() if line.startswith("Max core file size")]
    assert core.split()[4:6] == ["0", "0"]
    assert driver.identify() == "3100001"
    driver.close()
    assert "vault.dock.drivers.library_child" not in sys.modules  # only ever run, in the child
    assert not [r for r in caplog.records if "RuntimeWarning" in r.getMessage()]


def test_a_library_without_a_required_call_is_refused_before_the_camera_is_touched(
    tmp_path: Path, states: Path, opened: list[CameraDriver]
) -> None:
    lacking = build_library(tmp_path, ("STANDIN_WITHOUT_SETMSDC",), "libnomsdc.so")
    camera = StandinCamera(states)
    with pytest.raises(DriverError, match=r"has no SetMSDC"):
        connect(camera, profile(tmp_path, lacking, states), opened)
    assert camera.calls() == []  # not even Init_Device: nothing half done


def test_the_library_must_be_absolute_and_trusted(
    tmp_path: Path, library: Path, states: Path, opened: list[CameraDriver]
) -> None:
    with pytest.raises(ProfileError, match="absolute path"):
        load_profile(
            install_profile(
                tmp_path / "relative",
                Path("libbodycam_standin.so"),
                write_credentials(tmp_path / "r.secret"),
                states,
            )
        )
    camera = StandinCamera(states)
    loose = tmp_path / "loose" / "libbodycam.so"
    loose.parent.mkdir()
    shutil.copy(library, loose)
    loose.chmod(0o775)
    with pytest.raises(DriverError, match=r"may be written by its group or others \(mode 0775\)"):
        connect(camera, profile(tmp_path, loose, states), opened)
    loose.chmod(0o755)
    os.chown(loose, 4321, 4321)
    with pytest.raises(DriverError, match="belongs to uid 4321"):
        connect(camera, profile(tmp_path, loose, states), opened)
    assert camera.calls() == []  # refused before it was loaded


def test_a_credentials_file_of_another_owner_a_link_or_a_fifo_is_refused(tmp_path: Path) -> None:
    from vault.dock.drivers.credentials import read_password

    theirs = write_credentials(tmp_path / "theirs.secret")
    os.chown(theirs, 4321, 4321)
    with pytest.raises(DriverError, match="belongs to uid 4321"):
        read_password(theirs)
    link = tmp_path / "link.secret"
    link.symlink_to(write_credentials(tmp_path / "tight.secret"))
    with pytest.raises(DriverError, match="cannot read the camera credentials file"):
        read_password(link)
    fifo = tmp_path / "fifo.secret"
    os.mkfifo(fifo, 0o600)
    started = time.monotonic()
    with pytest.raises(DriverError, match="is not a regular file"):
        read_password(fifo)  # no writer: it would block for ever without O_NONBLOCK
    assert time.monotonic() - started < 2


def test_a_badge_the_camera_cannot_hold_fails_only_the_write(
    home: Path, clock: FixedClock, tmp_path: Path, library: Path, states: Path
) -> None:
    """DV-1: a keeper badge longer than userNo[7] is audited; the camera still docks."""
    from vault.service.ops import cases

    vault = standin_vault(home, clock, tmp_path, library, states, CLOCK + "\nwrite_keeper = true")
    call: Any = SimpleNamespace(vault=vault)  # `evault device assign`: the operation itself
    with vault.session() as session:  # a keeper is an officer on record (issue 16)
        session.add(Officer(officer_id="01020304"))
        session.commit()
    reply = cases.assign(call, "3100001", "01020304", profile="gat947-standin")
    assert "cannot be written into the camera" in reply["camera_badge"]
    assert "userNo holds 7" in reply["warning"]  # the keeper is recorded; the operator told
    assert ledger.keeper_of(vault, "3100001") is not None
    camera = StandinCamera(states)
    dock = dock_one(vault, camera, tmp_path)
    (bay,) = dock.board.bays()
    assert bay.state == "done", bay.reason
    assert "SetMSDC" in camera.calls() and "WriteZFYInfo" not in camera.calls()
    assert camera.state()["badge"] == b"010203"
    assert dock._drivers[bay.key].badge_written is None
    with vault.session() as session:
        failed = session.exec(
            select(AuditEvent).where(AuditEvent.action == "device.badge_write_failed")
        ).one()
    assert failed.detail["badge"] == "01020304" and "userNo holds 7" in failed.detail["reason"]


def test_a_refused_badge_write_is_audited_and_the_docking_goes_on(
    home: Path, clock: FixedClock, tmp_path: Path, library: Path, states: Path
) -> None:
    """The keeper's name is not GBK text: WriteZFYInfo cannot be filled in; SetMSDC comes."""
    vault = standin_vault(home, clock, tmp_path, library, states, CLOCK + "\nwrite_keeper = true")
    ledger.assign(vault, "3100001", "020304", profile="gat947-standin")
    with vault.session() as session:
        keeper = session.exec(select(Officer).where(Officer.officer_id == "020304")).one()
        keeper.name = "Zoë 🙂"  # no GBK for the emoji
        session.add(keeper)
        session.commit()
    camera = StandinCamera(states)
    dock = dock_one(vault, camera, tmp_path)
    (bay,) = dock.board.bays()
    assert bay.state == "done", bay.reason
    assert "SetMSDC" in camera.calls() and camera.state()["badge"] == b"010203"
    with vault.session() as session:
        failed = session.exec(
            select(AuditEvent).where(AuditEvent.action == "device.badge_write_failed")
        ).one()
    assert failed.detail["badge"] == "020304"
