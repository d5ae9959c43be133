"""What the dock asks of a camera control driver, and what a driver asks of the USB link.

Many GA/T 947.4-class cameras hide their storage until told over USB, and report their
device id and clock only through a vendor protocol guarded by an admin password. The dock
talks to all of them through `CameraDriver`; each driver talks to its camera through a
`Transport`, so the protocol can be tested byte for byte without a camera.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from vault.errors import VaultError

# What a driver may be able to do; `CameraDriver.supports` is a subset of these.
FEATURES = frozenset({"info", "read_clock", "sync_clock", "mass_storage", "write_info"})


class DriverError(VaultError):
    """A camera did not answer, refused, answered nonsense or left the bus.

    Messages are one line and never contain the admin password.
    """


class TransportTimeout(DriverError):
    """The camera did not take or give bytes within the time allowed (raised by transports)."""


@dataclass(frozen=True)
class CameraInfo:
    """What a camera says about itself (DV-1: whose camera it is); None where it cannot say."""

    device_id: str | None
    officer_id: str | None
    officer_name: str | None
    unit_id: str | None
    unit_name: str | None
    # What the camera said, by command, for the record; never contains the password.
    raw: dict[str, str] = field(default_factory=dict)
    battery_percent: int | None = None  # DV-3, where the camera reports it over USB
    resolution: str | None = None  # the recording resolution, "1920x1080"


class Transport(Protocol):
    """A bulk link to one camera. Timeouts raise TransportTimeout, other failures DriverError."""

    def write(self, data: bytes, timeout_ms: int) -> None: ...

    def read(self, size: int, timeout_ms: int) -> bytes: ...

    def close(self) -> None: ...


class CameraDriver(Protocol):
    """One docked camera, logged in. Calls outside `supports` raise DriverError."""

    name: str
    supports: frozenset[str]

    def identify(self) -> str:
        """The device id (serial) the camera reports."""
        ...

    def read_info(self) -> CameraInfo: ...

    def read_clock(self) -> datetime | None:
        """The camera's clock as an aware datetime; None: it answered but keeps no valid time.

        A driver whose camera has no such command leaves "read_clock" out of `supports` and
        raises DriverError ("... not supported by ...") if asked anyway.
        """
        ...

    def sync_clock(self, now: datetime) -> None:
        """Set the camera's clock to `now` (aware), in the camera's own zone (DV-2)."""
        ...

    def enter_mass_storage(self) -> None:
        """Tell the camera to show its storage; it then leaves the bus and comes back as a disk."""
        ...

    def write_info(self, info: CameraInfo) -> None:
        """Write whose camera it is (badge, name, unit) into the camera (DV-1): "write_info"."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class DriverSpec:
    """A driver in the registry: the USB ids it talks to and how to log in over a transport."""

    name: str
    description: str
    usb_ids: tuple[tuple[int, int], ...]  # (vendor id, product id)
    # A driver that speaks over a USB transport; None for one that loads a vendor library.
    connect: Callable[[Transport, str, ZoneInfo], CameraDriver] | None = None


def redact(text: str, secret: str) -> str:
    """Text with every occurrence of the secret masked: for anything a camera sent back."""
    return text.replace(secret, "***") if secret else text
