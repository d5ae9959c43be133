"""What udev says about a device, reduced to what the dock decides on.

The daemon sees every device through `UdevEvent`: the pyudev monitor turns each kernel
event into one (`from_device`), the tests replay property sets recorded from real USB
mass-storage devices (`from_properties`), and both then take the same path through
`DockDaemon.handle`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# ID_PATH of a USB disk: pci-0000:00:14.0-usb-0:1.2:1.0-scsi-0:0:0:0 -> the port "usb-0:1.2"
_USB_PORT = re.compile(r"usb-(\d+:[\d.]+)")
_HEX_ESCAPE = re.compile(r"\\x([0-9a-fA-F]{2})")


def _unescape(value: str) -> str:
    """udev's *_ENC properties escape unsafe bytes as \\xNN (GBK labels, spaces)."""
    raw = _HEX_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), value).encode("latin-1", "replace")
    for encoding in ("utf-8", "gbk"):  # Chinese cameras label their volumes in GBK
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")


@dataclass(frozen=True)
class UdevEvent:
    action: str  # add | remove | change | bind | unbind | coldplug (present at start-up)
    properties: Mapping[str, str] = field(default_factory=dict)

    def get(self, key: str) -> str | None:
        value = self.properties.get(key)
        return value if value not in (None, "") else None

    @property
    def subsystem(self) -> str | None:
        return self.get("SUBSYSTEM")

    @property
    def devtype(self) -> str | None:
        return self.get("DEVTYPE")

    @property
    def devname(self) -> str | None:
        return self.get("DEVNAME")

    @property
    def on_usb(self) -> bool:
        return self.get("ID_BUS") == "usb" or self.subsystem == "usb"

    @property
    def vendor_id(self) -> str | None:
        value = self.get("ID_VENDOR_ID") or _product_part(self.get("PRODUCT"), 0)
        return value.lower().zfill(4) if value else None

    @property
    def product_id(self) -> str | None:
        value = self.get("ID_MODEL_ID") or _product_part(self.get("PRODUCT"), 1)
        return value.lower().zfill(4) if value else None

    @property
    def usb_id(self) -> str | None:
        if self.vendor_id and self.product_id:
            return f"{self.vendor_id}:{self.product_id}"
        return None

    @property
    def serial(self) -> str | None:
        return self.get("ID_SERIAL_SHORT") or self.get("ID_SERIAL")

    @property
    def fs_type(self) -> str | None:
        return self.get("ID_FS_TYPE")

    @property
    def fs_label(self) -> str | None:
        encoded = self.get("ID_FS_LABEL_ENC")
        return _unescape(encoded) if encoded else self.get("ID_FS_LABEL")

    @property
    def has_partition_table(self) -> bool:
        return self.devtype == "disk" and self.get("ID_PART_TABLE_TYPE") is not None

    @property
    def bay(self) -> str:
        """The USB port the camera sits in: the same bay whatever /dev name it gets."""
        for key in ("ID_PATH", "DEVPATH"):
            found = _USB_PORT.search(self.get(key) or "")
            if found:
                return f"usb-{found.group(1)}"
        bus, dev = self.get("BUSNUM"), self.get("DEVNUM")
        if bus and dev:
            return f"usb-bus{int(bus)}-dev{int(dev)}"
        return self.devname or self.get("DEVPATH") or "unknown"

    @property
    def busnum(self) -> int | None:
        value = self.get("BUSNUM")
        return int(value) if value and value.isdigit() else None

    @property
    def devnum(self) -> int | None:
        value = self.get("DEVNUM")
        return int(value) if value and value.isdigit() else None

    def describe(self) -> str:
        """One line for the log: every id a person needs to write a profile."""
        parts = [
            f"{self.action} {self.subsystem or '?'}/{self.devtype or '?'}",
            self.devname or self.get("DEVPATH") or "",
            f"usb {self.usb_id}" if self.usb_id else "",
            f"vendor {self.get('ID_VENDOR')!r}" if self.get("ID_VENDOR") else "",
            f"model {self.get('ID_MODEL')!r}" if self.get("ID_MODEL") else "",
            f"serial {self.serial!r}" if self.serial else "",
            f"fs {self.fs_type}" if self.fs_type else "",
            f"label {self.fs_label!r}" if self.fs_label else "",
            f"bay {self.bay}",
        ]
        return " ".join(p for p in parts if p)

    @classmethod
    def from_properties(cls, action: str, properties: Mapping[str, str]) -> UdevEvent:
        return cls(action, {str(k): str(v) for k, v in properties.items()})

    @classmethod
    def from_device(cls, device: Any, action: str | None = None) -> UdevEvent:
        """A pyudev.Device (from the monitor or an enumeration)."""
        properties = dict(device.properties.items())
        return cls.from_properties(action or device.action or "coldplug", properties)


def _product_part(product: str | None, index: int) -> str | None:
    """PRODUCT of a usb_device event: 'vendor/product/bcdDevice' in hex without padding."""
    if not product:
        return None
    parts = product.split("/")
    return parts[index] if len(parts) > index else None


def load_recorded(path: Path) -> list[UdevEvent]:
    """Events recorded with `udevadm monitor --property` turned to JSON: a list of
    {"action": ..., "properties": {...}} objects (tests/fixtures/udev/)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    items = data if isinstance(data, list) else [data]
    return [UdevEvent.from_properties(item["action"], item["properties"]) for item in items]


def monitor_events(poll_s: float) -> Iterator[UdevEvent | None]:
    """Kernel events from udev; None every poll_s of quiet so the caller can do its chores.
    Cameras already plugged in when the daemon starts come first, as 'coldplug' events."""
    import pyudev

    context = pyudev.Context()
    monitor = pyudev.Monitor.from_netlink(context)
    monitor.filter_by("block")
    monitor.filter_by("usb", "usb_device")
    monitor.start()
    for device in context.list_devices(subsystem="usb", DEVTYPE="usb_device"):
        yield UdevEvent.from_device(device, "coldplug")
    for device in context.list_devices(subsystem="block"):
        if device.properties.get("ID_BUS") == "usb":
            yield UdevEvent.from_device(device, "coldplug")
    while True:
        device = monitor.poll(timeout=poll_s)
        yield None if device is None else UdevEvent.from_device(device)
