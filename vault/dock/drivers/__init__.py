"""Camera control drivers (GA/T 947.4-style): mass storage, device info and clock over USB.

A device profile names its driver (`driver = "ambarella"`, DV-4); the dock opens it with
the admin password from `devices.driver_passwords[profile]` and the station's zone.
"""

from __future__ import annotations

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

__all__ = [
    "DRIVERS",
    "FEATURES",
    "CameraDriver",
    "CameraInfo",
    "DriverError",
    "DriverSpec",
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
}


def open_driver(
    name: str,
    *,
    password: str,
    timezone: str = "Asia/Shanghai",
    bus: int | None = None,
    address: int | None = None,
    transport: Transport | None = None,
) -> CameraDriver:
    """The named driver, logged in to the camera at bus/address (or the only one of its kind).

    `transport` replaces the USB link (tests, the fake in vault.dock.drivers.fake). The driver
    owns the transport from here on: it is closed if logging in fails, and by `close()`.
    """
    spec = DRIVERS.get(name)
    if spec is None:
        known = ", ".join(sorted(DRIVERS))
        raise DriverError(f"no camera driver named {name!r} (known: {known})")
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise DriverError(f"unknown time zone {timezone!r} for the camera clock") from None
    if transport is None:
        from vault.dock.drivers.usb_bulk import UsbBulkTransport  # pyusb only when needed

        transport = UsbBulkTransport.open(spec.usb_ids, bus, address)
    try:
        return spec.connect(transport, password, zone)
    except BaseException:
        transport.close()
        raise
