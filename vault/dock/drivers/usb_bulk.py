"""The real transport: a pair of bulk endpoints on a camera, through pyusb (libusb).

Every pyusb failure becomes a DriverError with a message a records keeper can act on: no
libusb, no such camera, permission denied, the camera unplugged mid-exchange.
"""

from __future__ import annotations

import contextlib
import errno
import logging
from typing import Any

import usb.core
import usb.util

from vault.dock.drivers.base import DriverError, TransportTimeout

log = logging.getLogger(__name__)

BULK_OUT = 0x01
BULK_IN = 0x81


def _usb_id(pair: tuple[int, int]) -> str:
    return f"{pair[0]:04x}:{pair[1]:04x}"


def _describe(exc: usb.core.USBError) -> str:
    """One line for a pyusb error, with the two causes a keeper can fix named plainly."""
    if exc.errno == errno.ENODEV:
        return "the camera left the USB bus (unplugged, or it switched mode)"
    if exc.errno == errno.EACCES:
        return "permission denied on the USB device (the udev rule for evault-dock is missing?)"
    if exc.errno == errno.EBUSY:
        return "the USB interface is held by another program"
    return f"USB error: {exc.strerror or exc}"


def _find(usb_ids: tuple[tuple[int, int], ...], bus: int | None, address: int | None) -> Any:
    """The one device this driver may talk to: at bus/address when given, else by USB id."""
    wanted = ", ".join(_usb_id(pair) for pair in usb_ids)
    try:
        if bus is not None and address is not None:
            device = usb.core.find(bus=bus, address=address)
            if device is None:
                raise DriverError(f"no USB device at bus {bus} address {address}")
            found = (int(device.idVendor), int(device.idProduct))
            if found not in usb_ids:
                raise DriverError(
                    f"USB device at bus {bus} address {address} is {_usb_id(found)}, "
                    f"not one this driver talks to ({wanted}); nothing was sent to it"
                )
            return device
        devices = [
            dev
            for vendor, product in usb_ids
            for dev in usb.core.find(find_all=True, idVendor=vendor, idProduct=product)
        ]
    except usb.core.NoBackendError:
        raise DriverError(
            "no USB backend: libusb-1.0 is not installed (apt-get install libusb-1.0-0)"
        ) from None
    except usb.core.USBError as exc:
        raise DriverError(f"cannot list USB devices: {_describe(exc)}") from None
    if not devices:
        raise DriverError(f"no camera with USB id {wanted} is connected")
    if len(devices) > 1:
        raise DriverError(
            f"{len(devices)} cameras with USB id {wanted} are connected; give bus and address"
        )
    return devices[0]


def _bulk_interface(device: Any) -> int:
    """The interface holding bulk OUT 0x01 and IN 0x81, configuring the device if needed."""
    try:
        config = device.get_active_configuration()
    except usb.core.USBError:
        config = None
    if config is None:
        device.set_configuration()
        config = device.get_active_configuration()
    for interface in config:
        addresses = {int(ep.bEndpointAddress) for ep in interface}
        if {BULK_OUT, BULK_IN} <= addresses:
            return int(interface.bInterfaceNumber)
    raise DriverError("the camera has no bulk endpoints 0x01/0x81: not a control interface")


def _dispose(device: Any) -> None:
    with contextlib.suppress(usb.core.USBError):
        usb.util.dispose_resources(device)


class UsbBulkTransport:
    """Bulk OUT 0x01 / bulk IN 0x81 on one claimed interface of a pyusb device."""

    def __init__(self, device: Any, interface: int, reattach: bool) -> None:
        self._device = device
        self._interface = interface
        self._reattach = reattach  # a kernel driver was detached and is given back on close
        self._closed = False

    @classmethod
    def open(
        cls,
        usb_ids: tuple[tuple[int, int], ...],
        bus: int | None = None,
        address: int | None = None,
    ) -> UsbBulkTransport:
        device = _find(usb_ids, bus, address)
        try:
            interface = _bulk_interface(device)
            reattach = False
            with contextlib.suppress(NotImplementedError):  # not every backend can tell
                if device.is_kernel_driver_active(interface):
                    device.detach_kernel_driver(interface)
                    reattach = True
            usb.util.claim_interface(device, interface)
        except usb.core.USBError as exc:
            _dispose(device)
            raise DriverError(f"cannot open the camera: {_describe(exc)}") from None
        except DriverError:
            _dispose(device)
            raise
        log.debug("usb_open bus=%s address=%s interface=%s", device.bus, device.address, interface)
        return cls(device, interface, reattach)

    def _check_open(self) -> None:
        if self._closed:
            raise DriverError("the USB link to the camera is closed")

    def write(self, data: bytes, timeout_ms: int) -> None:
        self._check_open()
        try:
            written = int(self._device.write(BULK_OUT, data, timeout_ms))
        except usb.core.USBTimeoutError:
            raise TransportTimeout(f"the camera took no data within {timeout_ms} ms") from None
        except usb.core.USBError as exc:
            raise DriverError(_describe(exc)) from None
        if written != len(data):
            raise DriverError(f"the camera took {written} of {len(data)} bytes")

    def read(self, size: int, timeout_ms: int) -> bytes:
        self._check_open()
        try:
            return bytes(self._device.read(BULK_IN, size, timeout_ms))
        except usb.core.USBTimeoutError:
            raise TransportTimeout(f"the camera sent nothing within {timeout_ms} ms") from None
        except usb.core.USBError as exc:
            raise DriverError(_describe(exc)) from None

    def close(self) -> None:
        """Release the interface; errors are ignored (the camera may have left the bus)."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(usb.core.USBError):
            usb.util.release_interface(self._device, self._interface)
        if self._reattach:
            with contextlib.suppress(usb.core.USBError, NotImplementedError):
                self._device.attach_kernel_driver(self._interface)
        _dispose(self._device)
