"""Running a camera's control driver when it is plugged in (GA/T 947.4-style; DV-2, DV-4).

Some cameras show no storage until told to over USB. For those the dock logs in with the
profile's driver, reads what the camera says of itself, sets its clock from the station's
(logged as `device.clock_synced`), and switches it to mass storage; what it learnt waits
for the storage to appear on the same port.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from vault.context import Vault
from vault.dock.drivers.base import CameraDriver
from vault.dock.events import UdevEvent
from vault.errors import VaultError
from vault.profiles import Profile
from vault.timeutil import iso

log = logging.getLogger(__name__)

# (action, bay, detail): an audit event about the bay
Audit = Callable[[str, str, dict[str, object]], None]


@dataclass
class DriverReport:
    """What a camera's control driver told the dock before the camera showed its storage."""

    info: dict[str, str]
    device_id: str | None
    officer_id: str | None
    device_time: datetime | None


def drive(vault: Vault, event: UdevEvent, profile: Profile, audit: Audit) -> DriverReport | None:
    """Log in, read, set the clock, switch to mass storage; None (logged) on failure."""
    from vault.dock import drivers  # pyusb only for stations with such cameras

    assert profile.driver is not None
    secret = vault.settings.devices.driver_passwords.get(profile.name)
    if secret is None:
        log.error(
            "bay %s: no driver password for profile %s in [devices.driver_passwords]",
            event.bay,
            profile.name,
        )
        return None
    try:
        driver = drivers.open_driver(
            profile.driver,
            password=secret.get_secret_value(),
            timezone=vault.settings.timezone,
            bus=event.busnum,
            address=event.devnum,
        )
        try:
            return _drive_camera(vault, event, driver, audit)
        finally:
            driver.close()
    except VaultError as exc:
        log.error("bay %s: camera driver %s: %s", event.bay, profile.driver, exc)
        audit("device.driver_failed", event.bay, {"driver": profile.driver, "error": str(exc)})
        return None


def _drive_camera(
    vault: Vault, event: UdevEvent, driver: CameraDriver, audit: Audit
) -> DriverReport:
    info: dict[str, str] = {}
    device_id = officer_id = None
    if "info" in driver.supports:
        camera = driver.read_info()
        info = dict(camera.raw)
        device_id, officer_id = camera.device_id, camera.officer_id
    else:
        device_id = driver.identify()
    device_time = driver.read_clock() if "read_clock" in driver.supports else None
    if vault.settings.dock.sync_clock and "sync_clock" in driver.supports:
        now = vault.clock.now()
        driver.sync_clock(now)  # DV-2: the camera's clock set from the station's
        audit(
            "device.clock_synced",
            event.bay,
            {
                "device_id": device_id,
                "driver": driver.name,
                "station_time": iso(now),
                "camera_time_before": iso(device_time),
            },
        )
    report = DriverReport(info, device_id, officer_id, device_time)
    driver.enter_mass_storage()
    log.info("bay %s: camera %s switched to mass storage", event.bay, device_id or "?")
    return report
