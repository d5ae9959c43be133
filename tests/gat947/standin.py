"""The stand-in camera library, built with the system's C compiler, and its cameras.

Each simulated camera is a state file (see libbodycam_standin.c) named by the profile's
id_code from the USB bus and address of its udev event, so several cameras can be docked
at once, each misbehaving in its own way.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from vault.dock.events import UdevEvent

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "libbodycam_standin.c"
PROFILE = HERE / "gat947-standin.toml"
PASSWORD = "ZFY947"
USB_ID = ("1d6b", "0947")


def build_library(
    directory: Path, defines: tuple[str, ...] = (), name: str = "libbodycam_standin.so"
) -> Path:
    """libbodycam_standin.so, compiled from its C source; no compiler: skip (CI: fail).

    `defines` are C macros (e.g. STANDIN_WITHOUT_SETMSDC) for a library that lacks a call.
    """
    compiler = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if compiler is None:
        if os.environ.get("CI"):
            pytest.fail("no C compiler (cc) to build the stand-in camera library")
        pytest.skip("no C compiler (cc) to build the stand-in camera library")
    library = directory / name
    flags = [f"-D{define}" for define in defines]
    subprocess.run(
        [compiler, "-shared", "-fPIC", "-O1", "-Wall", *flags, "-o", str(library), str(SOURCE)],
        check=True,
        capture_output=True,
    )
    return library


def write_credentials(path: Path, password: str = PASSWORD, mode: int = 0o600) -> Path:
    path.write_text(password + "\n")
    path.chmod(mode)
    return path


def install_profile(
    directory: Path, library: Path, credentials: Path, state_dir: Path, options: str = ""
) -> Path:
    """The stand-in's profile, filled in, in a profile folder of the test's own."""
    directory.mkdir(parents=True, exist_ok=True)
    text = (
        PROFILE.read_text()
        .replace("@LIBRARY@", str(library))
        .replace("@CREDENTIALS@", str(credentials))
        .replace("@STATE_DIR@", str(state_dir))
        .replace("@OPTIONS@", options)
    )
    path = directory / "gat947-standin.toml"
    path.write_text(text)
    return path


class StandinCamera:
    """One simulated camera: its state file, as the stand-in library keeps it."""

    def __init__(self, state_dir: Path, bus: int = 1, address: int = 9, **values: bytes | str):
        self.bus, self.address = bus, address
        self.path = state_dir / f"camera-{bus}-{address}.state"
        state: dict[str, bytes | str] = {
            "serial": "3100001",
            "badge": "010203",
            "name": "张三".encode("gbk"),
            "unit_no": "110105000000",
            "unit_name": "朝阳分局".encode("gbk"),
            "id_code": "EVT47",
            "password": PASSWORD,
            "battery": "58",
            "width": "1920",
            "height": "1080",
            "clock": "20261123170205",  # 09:02:05 UTC: 125 s ahead of the tests' clock
            **values,
        }
        self.write(state)

    def write(self, state: dict[str, bytes | str]) -> None:
        lines = b"".join(
            k.encode() + b"=" + (v if isinstance(v, bytes) else v.encode()) + b"\n"
            for k, v in state.items()
        )
        self.path.write_bytes(lines)

    def state(self) -> dict[str, bytes]:
        found = {}
        for line in self.path.read_bytes().splitlines():
            key, _, value = line.partition(b"=")
            found[key.decode()] = value
        return found

    def set(self, **values: bytes | str) -> None:
        state: dict[str, bytes | str] = dict(self.state())
        state.update(values)
        self.write(state)

    def calls(self) -> list[str]:
        log = self.path.with_name(self.path.name + ".calls")
        return log.read_text().split() if log.exists() else []

    def spawned(self) -> int | None:
        """The pid of the child the library started (`spawn`), once it started one."""
        path = self.path.with_name(self.path.name + ".spawned")
        text = path.read_text().strip() if path.exists() else ""
        return int(text) if text else None

    def where(self) -> dict[str, int | str]:
        return {"bus": self.bus, "address": self.address, "serial": ""}

    def usb_event(self, port: str = "1.5", action: str = "add") -> UdevEvent:
        """The udev event of this camera on the bus before it shows its storage."""
        vendor, product = USB_ID
        return UdevEvent.from_properties(
            action,
            {
                "ACTION": action,
                "SUBSYSTEM": "usb",
                "DEVTYPE": "usb_device",
                "DEVNAME": f"/dev/bus/usb/{self.bus:03d}/{self.address:03d}",
                "DEVPATH": f"/devices/pci0000:00/0000:00:14.0/usb1/1-{port}",
                "PRODUCT": f"{vendor}/{product.lstrip('0')}/100",
                "BUSNUM": f"{self.bus:03d}",
                "DEVNUM": f"{self.address:03d}",
                "ID_VENDOR_ID": vendor,
                "ID_MODEL_ID": product,
                "ID_BUS": "usb",
                "ID_PATH": f"pci-0000:00:14.0-usb-0:{port}",
            },
        )
