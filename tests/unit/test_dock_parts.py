"""The dock's parts that need no mount: udev events, profile matching, the fusefat time fix,
the udev rules, the bay board, and a camera driver run by the daemon (issue 3)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from tests.conftest import ROOT, make_settings
from vault.context import Vault
from vault.db.models import AuditEvent
from vault.dock import drivers
from vault.dock.bays import Bay, Board
from vault.dock.daemon import DockDaemon
from vault.dock.drivers.fake import Answer, Expect, ScriptedTransport, Unplug
from vault.dock.events import UdevEvent, load_recorded
from vault.dock.match import decide
from vault.dock.mount import fusefat_true_mtime
from vault.dock.udev_rules import udev_rules
from vault.timeutil import FixedClock

UDEV = ROOT / "tests" / "fixtures" / "udev"


def recorded(name: str, **changes: str) -> UdevEvent:
    (event,) = load_recorded(UDEV / name)
    return UdevEvent.from_properties(event.action, {**event.properties, **changes})


def test_events_give_the_port_ids_and_label_udev_recorded() -> None:
    camera = recorded("gadget-camera-disk.json")
    assert camera.bay == "usb-0:1.2"  # the port, whatever /dev name the disk gets
    assert camera.usb_id == "1d6b:0104" and camera.serial == "3100001"
    assert (camera.fs_type, camera.fs_label) == ("vfat", "ZFY3100001")
    stick = recorded("sandisk-cruzer-partition.json")
    assert stick.bay == "usb-0:4" and stick.usb_id == "0781:5567"
    amba = recorded("ambarella-usb-device.json")
    assert (amba.usb_id, amba.busnum, amba.devnum, amba.bay) == ("4255:0001", 1, 7, "usb-0:1.3")
    described = stick.describe()
    assert "0781:5567" in described and "Cruzer_Blade" in described and "CRUZER" in described


def test_a_gbk_volume_label_is_decoded() -> None:
    label = "执法仪".encode("gbk")
    escaped = "".join(f"\\x{b:02x}" for b in label)
    event = recorded("gadget-camera-disk.json", ID_FS_LABEL_ENC=escaped, ID_FS_LABEL="____")
    assert event.fs_label == "执法仪"


@pytest.fixture
def profiles(vault: Vault) -> dict[str, Any]:
    return vault.profiles


def test_matching_decides_what_the_dock_touches(profiles: dict[str, Any]) -> None:
    camera = decide(recorded("gadget-camera-disk.json"), profiles)
    assert camera.action == "ingest" and camera.profile is not None
    assert camera.profile.name == "zfy-ref"
    # A USB stick whose label looks like a camera's is not taken: profiles with USB ids are
    # matched on them, and ambarella-generic names 4255:0001.
    stick = decide(recorded("sandisk-cruzer-partition.json"), profiles)
    assert stick.action == "unknown"
    partitioned = recorded("gadget-camera-disk.json", ID_PART_TABLE_TYPE="dos")
    assert decide(partitioned, profiles).action == "ignore"  # its partitions come apart
    internal = recorded("gadget-camera-disk.json", ID_BUS="ata")
    assert decide(internal, profiles).action == "ignore"  # never the station's own disks
    ntfs = decide(recorded("gadget-camera-disk.json", ID_FS_TYPE="ntfs"), profiles)
    assert ntfs.action == "unknown" and "not FAT or exFAT" in ntfs.reason
    amba = decide(recorded("ambarella-usb-device.json"), profiles)
    assert amba.action == "driver" and amba.profile is not None
    assert amba.profile.name == "ambarella-generic"
    amba_disk = recorded(
        "gadget-camera-disk.json", ID_VENDOR_ID="4255", ID_MODEL_ID="0001", ID_FS_LABEL="AB12345"
    )
    decided = decide(amba_disk, profiles)
    assert decided.action == "ingest" and decided.profile is not None
    assert decided.profile.name == "ambarella-generic"


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ("2026-11-23 15:00:00", "2026-12-23 15:00:00"),  # what fusefat was seen to show
        ("2026-12-31 23:59:58", "2027-01-31 23:59:58"),  # FAT month 12 -> January next year
        ("2026-01-15 08:00:00", "2026-02-15 08:00:00"),
    ],
)
def test_fusefat_times_are_put_back_a_month(written: str, shown: str) -> None:
    from zoneinfo import ZoneInfo

    zone = ZoneInfo("Asia/Shanghai")

    def ns(text: str) -> int:
        return int(datetime.fromisoformat(text).replace(tzinfo=zone).timestamp()) * 10**9

    assert fusefat_true_mtime(ns(shown) + 123, "Asia/Shanghai") == ns(written) + 123


def test_the_committed_udev_rules_match_the_built_in_profiles(
    profiles: dict[str, Any],
) -> None:
    committed = (ROOT / "udev" / "70-evidence-vault.rules").read_text()
    assert committed == udev_rules(profiles), "run: evault dock udev-rules > udev/70-...rules"
    assert 'ATTRS{idVendor}=="1d6b", ATTRS{idProduct}=="0104"' in committed
    assert 'ENV{UDISKS_IGNORE}="1"' in committed


def test_board_summary_for_systemd_status() -> None:
    board = Board()
    assert board.summary() == "waiting for cameras"
    at = datetime(2026, 11, 23, tzinfo=UTC)
    first, second = Bay("usb-0:1.1", "/dev/sdb", "zfy-ref", at), Bay("usb-0:1.2", None, None, at)
    board.put(first)
    board.put(second)
    first.begin(3, 3000)
    first.phase("reading")
    first.advance(1000)
    second.end("failed", "camera removed mid-copy", at)
    assert board.summary().startswith("2 bays: 1 failed, 1 reading;")
    snap = first.snapshot()
    assert (snap["state"], snap["bytes_done"], snap["files_total"]) == ("reading", 1000, 3)
    assert [b.key for b in board.active()] == ["usb-0:1.1"]


def dock_once(vault: Vault, tmp_path: Path, event: UdevEvent) -> DockDaemon:
    """A daemon that handles one event and stops once its work is done."""
    dock = DockDaemon(vault, status_socket=tmp_path / "dock.sock")
    dock.start(serve_status=False)
    try:
        dock.handle(event)
        assert dock.wait_idle(30)
    finally:
        dock.close()
    return dock


def test_the_dock_drives_a_camera_that_must_be_told_to_show_its_storage(
    home: Path, clock: FixedClock, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = make_settings(
        home,
        devices={"driver_passwords": {"ambarella-generic": "12345678"}},
        dock={"settle_s": 0, "mount_root": str(tmp_path / "mnt")},
    )
    vault = Vault(settings, clock=clock, user="tester")
    # 09:00 UTC is 17:00 in Shanghai, the camera's zone.
    transport = ScriptedTransport(
        [
            Expect(b"@Ver;8;00000000;#"),
            Answer(b"@Ver;OK;#"),
            Expect(b"@Gdv;8;12345678;#"),
            Answer(b"@Gdv;OK;AB12345;#"),
            Expect(b"@Sdt;8;20261123;#"),
            Answer(b"@Sdt;OK;#"),
            Expect(b"@Stm;6;17000000;#"),
            Answer(b"@Stm;OK;#"),
            Expect(b"@ATH;8;12345678;#"),
            Unplug(),  # it leaves the bus to come back as a disk
        ]
    )
    opened: list[dict[str, Any]] = []
    real_open = drivers.open_driver

    def open_with_script(name: str, **kwargs: Any) -> Any:
        opened.append(kwargs)
        return real_open(name, **{**kwargs, "transport": transport})

    monkeypatch.setattr(drivers, "open_driver", open_with_script)
    dock = dock_once(vault, tmp_path, recorded("ambarella-usb-device.json"))
    transport.finish()
    assert transport.closed
    assert (opened[0]["bus"], opened[0]["address"]) == (1, 7)
    report = dock._drivers["usb-0:1.3"]  # handed to the bay when the storage appears
    assert report.device_id == "AB12345"
    with vault.session() as session:
        synced = session.exec(
            select(AuditEvent).where(AuditEvent.action == "device.clock_synced")
        ).one()
    assert synced.detail["device_id"] == "AB12345"
    assert "12345678" not in str(synced.detail)


def test_a_driver_camera_without_a_password_is_refused_and_logged(
    vault: Vault, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dock_once(vault, tmp_path, recorded("ambarella-usb-device.json"))
    assert "no driver password for profile ambarella-generic" in caplog.text
