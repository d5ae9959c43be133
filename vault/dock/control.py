"""Running a camera's control driver when it is plugged in (GA/T 947.4-style; DV-1..DV-4).

Some cameras show no storage until told to over USB. For those the dock logs in with the
profile's driver, reads what the camera says of itself (ZFY_INFO: serial, badge, name, unit;
battery), reads its clock and records the offset (`device.clock_measured`) before it sets
the clock from the station's (`device.clock_synced`, DV-2) -- only when the time read was a
time: unreadable clock text is recorded as the camera gave it and the clock is left alone --,
writes the keeper's badge, name and unit into the camera where the profile allows (DV-1; a
badge it cannot hold, or a refused write, is audited as `device.badge_write_failed` and the
docking goes on), and switches it to mass storage; what it learnt waits for the storage to
appear on the same port.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from vault.context import Vault
from vault.db.models.records import CLOCK_SYNCED_AT
from vault.dock import ledger
from vault.dock.drivers.base import CameraDriver, CameraInfo, DriverError
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
    camera: CameraInfo | None = None  # what ZFY_INFO and the camera said (DV-1, DV-3)
    measured_at: datetime | None = None  # the station's time when the clock was read (DV-2)
    badge_written: str | None = None  # the keeper's badge written into the camera (DV-1)


def _password(vault: Vault, profile: Profile) -> str:
    """From the profile's root-only credentials file, or [devices.driver_passwords]."""
    from vault.dock.drivers.credentials import read_password

    if profile.driver_options is not None:
        return read_password(profile.driver_options.credentials)
    secret = vault.settings.devices.driver_passwords.get(profile.name)
    if secret is None:
        raise VaultError(
            f"no driver password for profile {profile.name} in [devices.driver_passwords]"
        )
    return secret.get_secret_value()


def drive(vault: Vault, event: UdevEvent, profile: Profile, audit: Audit) -> DriverReport:
    """Log in, read, measure then set the clock, switch to mass storage; VaultError on failure."""
    from vault.dock import drivers  # pyusb only for stations with such cameras

    assert profile.driver is not None
    driver = drivers.open_driver(
        profile.driver,
        password=_password(vault, profile),
        timezone=vault.settings.timezone,
        bus=event.busnum,
        address=event.devnum,
        options=profile.driver_options,
        where={"serial": event.serial or ""},
    )
    try:
        return _drive_camera(vault, event, profile, driver, audit)
    finally:
        driver.close()


def _drive_camera(
    vault: Vault, event: UdevEvent, profile: Profile, driver: CameraDriver, audit: Audit
) -> DriverReport:
    info: dict[str, str] = {}
    camera = None
    if "info" in driver.supports:
        camera = driver.read_info()
        info = dict(camera.raw)
        device_id, officer_id = camera.device_id, camera.officer_id
    else:
        device_id, officer_id = driver.identify(), None
    device_time = measured_at = None
    # A driver that cannot read the clock over USB syncs as before (the offset then comes from
    # the camera's own files); one that can, but got no readable time, leaves it alone (DV-2).
    may_sync = "read_clock" not in driver.supports
    if "read_clock" in driver.supports:
        measured_at = vault.clock.now()
        device_time = driver.read_clock()
        raw: str | None = getattr(driver, "clock_text", None)  # as the camera said it
        if raw is not None:
            info["device_time_raw"] = raw
        offset = (device_time - measured_at).total_seconds() if device_time else None
        # DV-2: the offset is recorded (committed) before anything sets the camera's clock.
        audit(
            "device.clock_measured",
            event.bay,
            {
                "device_id": device_id,
                "driver": driver.name,
                "station_time": iso(measured_at),
                "camera_time": iso(device_time),
                "camera_time_raw": raw,
                "offset_s": offset,
            },
        )
        may_sync = device_time is not None
        if not may_sync:
            # DV-2: an offset that could not be measured is not destroyed by setting the clock.
            log.warning(
                "bay %s: camera %s gave no readable time (%r); its clock is left as it is",
                event.bay,
                device_id or "?",
                raw,
            )
    if vault.settings.dock.sync_clock and may_sync and "sync_clock" in driver.supports:
        now = vault.clock.now()
        driver.sync_clock(now)  # DV-2: the camera's clock set from the station's
        info[CLOCK_SYNCED_AT] = iso(now) or ""  # kept with the docking (DockSession.device_info)
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
    report = DriverReport(info, device_id, officer_id, device_time, camera, measured_at)
    report.badge_written = _write_keeper(vault, event, profile, driver, camera, audit)
    driver.enter_mass_storage()
    log.info("bay %s: camera %s switched to mass storage", event.bay, device_id or "?")
    return report


def _write_keeper(
    vault: Vault,
    event: UdevEvent,
    profile: Profile,
    driver: CameraDriver,
    camera: CameraInfo | None,
    audit: Audit,
) -> str | None:
    """WriteZFYInfo: the camera carries its keeper's badge (DV-1), where the profile allows."""
    options = profile.driver_options
    if options is None or not options.write_keeper or camera is None or not camera.device_id:
        return None
    if "write_info" not in driver.supports:
        return None
    keeper = ledger.keeper_of(vault, camera.device_id)
    if keeper is None:
        return None
    if keeper.badge != camera.officer_id:
        # The badge, name and unit go together: the previous officer's name and unit are
        # replaced by the keeper's where the records know them, cleared where they do not.
        problem = ledger.camera_badge_problem(keeper.badge)
        try:
            if problem is not None:
                raise DriverError(problem)
            driver.write_info(
                CameraInfo(camera.device_id, keeper.badge, keeper.name, None, keeper.unit, raw={})
            )
        except DriverError as exc:
            from vault.dock.drivers.isolated import LibraryCallFailed

            if isinstance(exc, LibraryCallFailed):
                raise  # the library's process is gone: the bay fails
            # DV-1: the camera keeps what it carries; the docking goes on to its storage.
            audit(
                "device.badge_write_failed",
                event.bay,
                {"device_id": camera.device_id, "badge": keeper.badge, "reason": str(exc)},
            )
            log.warning(
                "bay %s: camera %s: cannot write badge %s: %s",
                event.bay,
                camera.device_id,
                keeper.badge,
                exc,
            )
            return None
        audit(
            "device.badge_written",
            event.bay,
            {"device_id": camera.device_id, "badge": keeper.badge, "was": camera.officer_id},
        )
        log.info(
            "bay %s: camera %s now carries badge %s", event.bay, camera.device_id, keeper.badge
        )
    ledger.mark_carried(vault, keeper.assignment_id, vault.clock.now())
    return keeper.badge
