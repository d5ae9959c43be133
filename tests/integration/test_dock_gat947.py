"""The dock end to end with a camera driven through the stand-in GA/T 947.4 library: its
storage (a FAT image) appears on a loop device only once SetMSDC told it to, and what the
camera said of itself over USB lands in the records (issue 21; DV-1, DV-2, DV-3)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select

from tests.conftest import make_settings, run_evault
from tests.dock_cameras import build_image, camera_event, image_files, require_dock_tools
from tests.gat947.standin import (
    USB_ID,
    StandinCamera,
    build_library,
    install_profile,
    write_credentials,
)
from vault.compliance import clock as dv2
from vault.compliance.report import ReportFilters, build_report
from vault.compliance.todo import todo
from vault.context import Vault
from vault.db.models import DockSession, Evidence
from vault.dock import ledger
from vault.dock.daemon import DockDaemon
from vault.dock.events import UdevEvent
from vault.dock.mount import mounted_under
from vault.timeutil import FixedClock

CLOCK = 'clock = { call = "GetDevTime", args = ["text_out", "password", "iret"] }'
LABEL = "ZFY3100001"
PORT = "1.5"


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_library(tmp_path_factory.mktemp("standin"))


class Station:
    """A dock with the stand-in's profile installed, and the loop devices its cameras made."""

    def __init__(
        self, home: Path, clock: FixedClock, tmp_path: Path, library: Path, options: str = CLOCK
    ) -> None:
        self.states = tmp_path / "cameras"
        self.states.mkdir()
        credentials = write_credentials(tmp_path / "standin.secret")
        install_profile(tmp_path / "profiles", library, credentials, self.states, options)
        settings = make_settings(
            home,
            devices={"profile_dirs": [str(tmp_path / "profiles")]},
            dock={"settle_s": 0, "mount_root": str(tmp_path / "mnt")},
        )
        self.vault = Vault(settings, clock=clock, user="tester")
        self.tmp_path = tmp_path
        self.cameras: list[StandinCamera] = []

    def camera(self, source: Path, **values: bytes | str) -> tuple[StandinCamera, Path]:
        image = build_image(source, self.tmp_path / f"{LABEL}.img", "vfat", LABEL)
        camera = StandinCamera(self.states, image=str(image), **values)
        self.cameras.append(camera)
        return camera, image

    def detach(self) -> None:
        for point in mounted_under(self.tmp_path):
            subprocess.run(["umount", "-l", str(point)], check=False)
        for camera in self.cameras:
            device = camera.state().get("storage")
            if device:
                subprocess.run(["blockdev", "--setrw", device.decode()], check=False)
                subprocess.run(["losetup", "-d", device.decode()], check=False)
                camera.set(storage="")


@pytest.fixture
def station(home: Path, clock: FixedClock, tmp_path: Path, library: Path) -> Iterator[Station]:
    require_dock_tools()
    made = Station(home, clock, tmp_path, library)
    yield made
    made.detach()


def storage_event(devname: str) -> UdevEvent:
    """The camera back on the bus as a disk (its storage), on the same port."""
    event = camera_event(devname, "vfat", LABEL, port=PORT)
    vendor, product = USB_ID
    return UdevEvent.from_properties(
        event.action, {**event.properties, "ID_VENDOR_ID": vendor, "ID_MODEL_ID": product}
    )


def dock_camera(station: Station, camera: StandinCamera) -> DockDaemon:
    dock = DockDaemon(station.vault, status_socket=station.tmp_path / "dock.sock")
    dock.start(serve_status=False)
    try:
        dock.handle(camera.usb_event(port=PORT))
        assert dock.wait_idle(60)
        (bay,) = dock.board.bays()
        assert bay.state == "done", bay.reason
        storage = camera.state().get("storage", b"").decode()
        assert storage.startswith("/dev/loop")  # shown only now, after SetMSDC
        dock.handle(storage_event(storage))
        assert dock.wait_idle(120)
    finally:
        dock.close()
    return dock


def test_a_standin_camera_docks_end_to_end_through_its_library(
    station: Station, home: Path, pristine_camera: Path
) -> None:
    camera, image = station.camera(pristine_camera)
    assert "storage" not in camera.state()  # no storage before SetMSDC
    dock = dock_camera(station, camera)
    (bay,) = dock.board.bays()
    assert bay.state == "done", bay.reason
    calls = camera.calls()
    assert calls.index("GetZFYInfo") < calls.index("GetDevTime") < calls.index("SyncDevTime")
    assert calls.index("SyncDevTime") < calls.index("SetMSDC")  # DV-2: measured, then set
    with station.vault.session() as session:
        (record,) = session.exec(select(DockSession)).all()
        evidence = session.exec(select(Evidence)).all()
    assert record.bay == f"usb-0:{PORT}" and record.status == "done"
    assert record.camera_officer_id == "010203" and record.camera_officer_name == "张三"
    assert (record.camera_unit_id, record.camera_unit_name) == ("110105000000", "朝阳分局")
    assert record.battery_percent == 58  # DV-3, from ReadDeviceBatteryDumpEnergy
    assert record.clock_offset_s == 125.0  # DV-2: the camera's clock before it was set
    assert record.device_info["resolution"] == "1920x1080"
    assert record.clips_sealed > 0 and record.clips_erased == record.clips_seen
    assert evidence and all(e.status == "verified" for e in evidence)
    station.detach()
    assert not [p for p in image_files(image, "vfat") if p.startswith("DCIM/100ANDRO")]

    shown = run_evault(home, "evidence", "show", str(evidence[0].id), "--json")
    assert shown.returncode == 0, shown.stderr
    detail = json.loads(shown.stdout)
    reported = {
        "officer_id": "010203",
        "officer_name": "张三",
        "unit_id": "110105000000",
        "unit_name": "朝阳分局",
    }
    assert detail["camera_reported"] == reported
    assert detail["sightings"][0]["camera_reported"] == reported
    (device,) = json.loads(run_evault(home, "device", "ledger", "--json").stdout)
    assert device["device_id"] == "3100001" and device["docks"][0]["camera"] == reported
    report = build_report(station.vault, ReportFilters())
    assert [f for f in report["findings"] if f["rule"] == "DV-1"] == []
    assert report["camera_badges"][0]["agrees"] is True
    # DV-2: the offset found is reported, and so is that the station set the clock: the
    # records keeper is not asked to set it again.
    (docking,) = report["clock"]
    assert dv2.OFFSET in docking["flags"] and docking["synced"] is True
    assert todo(station.vault, ["records_keeper"], None, None)["sections"]["clocks_to_set"] == []


def test_a_camera_whose_clock_cannot_be_read_is_on_the_keepers_to_do(
    home: Path, clock: FixedClock, tmp_path: Path, library: Path, pristine_camera: Path
) -> None:
    """DV-2: a library without the clock call: the clock is neither read nor set, so the
    records keeper's to-do names the camera and its docking, until a later docking reads a
    clock that can be trusted."""
    require_dock_tools()
    station = Station(home, clock, tmp_path, library, options="")
    try:
        camera, _ = station.camera(pristine_camera)
        dock_camera(station, camera)
    finally:
        station.detach()
    assert "GetDevTime" not in camera.calls() and "SyncDevTime" not in camera.calls()
    (docking,) = build_report(station.vault, ReportFilters())["clock"]
    assert docking["flags"] == [dv2.UNKNOWN] and docking["synced"] is False
    (to_set,) = todo(station.vault, ["records_keeper"], None, None)["sections"]["clocks_to_set"]
    assert (to_set["dock_id"], to_set["device_id"]) == (docking["dock_id"], "3100001")
    assert to_set["finding"] == dv2.DESCRIPTIONS[dv2.UNKNOWN]
    assert todo(station.vault, ["officer"], None, "010203")["sections"].get("clocks_to_set") is None


def test_a_camera_badge_that_disagrees_with_files_and_keeper_is_a_finding(
    station: Station, pristine_camera: Path
) -> None:
    """DV-1: the camera says 999999; its clips name 010203; its keeper is 020304."""
    ledger.assign(station.vault, "3100001", "020304", profile="gat947-standin")
    camera, _ = station.camera(pristine_camera, badge="999999")
    dock_camera(station, camera)
    report = build_report(station.vault, ReportFilters())
    found = sorted(f["detail"] for f in report["findings"] if f["rule"] == "DV-1")
    assert found == [
        "camera 3100001 reports badge 999999; its files name officer 010203",
        "camera 3100001 reports badge 999999; its keeper is 020304 (evault device ledger)",
    ]
    (row,) = report["camera_badges"]
    assert row["agrees"] is False and row["keeper"] == "020304"
