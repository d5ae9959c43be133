"""Camera control drivers (GA/T 947.4-style): mass storage, device info and clock over USB.

A device profile names its driver (`driver = "ambarella"`, DV-4); the dock opens it with
the admin password from `devices.driver_passwords[profile]` and the station's zone. A camera
driven through its vendor's GA/T 947.4 library names it in a `[driver]` table (`kind =
"gat947"`): the library runs in a child process per camera (`isolated`), the password comes
from the root-only file the table names (`credentials`).
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from vault.dock.drivers import ambarella
from vault.dock.drivers.base import (
    FEATURES,
    CameraDriver,
    CameraInfo,
    DriverError,
    DriverSpec,
    Transport,
    TransportTimeout,
)
from vault.dock.drivers.isolated import IsolatedDriver, LibraryCallFailed
from vault.profiles import LibraryDriver

__all__ = [
    "DRIVERS",
    "FEATURES",
    "CameraDriver",
    "CameraInfo",
    "DriverError",
    "DriverSpec",
    "LibraryCallFailed",
    "Transport",
    "TransportTimeout",
    "open_driver",
]

DRIVERS: dict[str, DriverSpec] = {
    "ambarella": DriverSpec(
        name="ambarella",
        description="Ambarella-based cameras, USB 4255:0001 (@Ver/@Gdv/@ATH/@Sdt/@Stm)",
        usb_ids=ambarella.USB_IDS,
        connect=ambarella.AmbarellaDriver.connect,
    ),
    "gat947": DriverSpec(
        name="gat947",
        description="the vendor's GA/T 947.4 library (ctypes, a child process per camera)",
        usb_ids=(),  # whatever the profile matches: the library finds its camera itself
    ),
}


def open_driver(
    name: str,
    *,
    password: str,
    timezone: str = "Asia/Shanghai",
    bus: int | None = None,
    address: int | None = None,
    transport: Transport | None = None,
    options: LibraryDriver | None = None,
    where: dict[str, Any] | None = None,
) -> CameraDriver:
    """The named driver, logged in to the camera at bus/address (or the only one of its kind).

    `transport` replaces the USB link (tests, the fake in vault.dock.drivers.fake). The driver
    owns the transport from here on: it is closed if logging in fails, and by `close()`.
    """
    spec = DRIVERS.get(name)
    if spec is None:
        known = ", ".join(sorted(n for n, s in DRIVERS.items() if s.connect is not None))
        raise DriverError(
            f"no camera driver named {name!r} (known: {known}); a vendor's GA/T 947.4 "
            "library is driven by gat947, named in the profile's [driver] table"
        )
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise DriverError(f"unknown time zone {timezone!r} for the camera clock") from None
    if spec.connect is None:  # a vendor library, in a child process of its own
        if options is None:
            raise DriverError(f"driver {name} needs its profile's [driver] table (library = ...)")
        located = {"bus": bus or 0, "address": address or 0, "serial": "", **(where or {})}
        return IsolatedDriver.start(options, password, zone.key, located)
    if transport is None:
        from vault.dock.drivers.usb_bulk import UsbBulkTransport  # pyusb only when needed

        transport = UsbBulkTransport.open(spec.usb_ids, bus, address)
    try:
        return spec.connect(transport, password, zone)
    except BaseException:
        transport.close()
        raise
