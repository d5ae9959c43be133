"""What the camera says about itself at docking: ids, clock, battery, free space (DV-2, DV-3)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from vault.db.models import Device, DockSession, Officer
from vault.errors import VolumeError
from vault.ingest import values
from vault.ingest.volume import Volume
from vault.profiles import Profile
from vault.timeutil import local_to_utc

# Our field: the column its value goes into (its length is what a record holds).
IDENTIFIERS = {
    "device_id": (Device, "device_id"),
    "officer_id": (Officer, "officer_id"),
    "model": (Device, "model"),
    "vendor": (Device, "vendor"),
    "firmware": (Device, "firmware"),
    "unit": (Officer, "unit"),
    "device_time": (DockSession, "device_time_raw"),
}


@dataclass
class DeviceInfo:
    device_id: str | None = None
    officer_id: str | None = None
    model: str | None = None
    vendor: str | None = None
    firmware: str | None = None
    unit: str | None = None
    device_time_raw: str | None = None
    device_time: datetime | None = None  # UTC, as the camera's clock has it
    battery_percent: int | None = None
    free_bytes: int | None = None
    raw: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def parse_key_values(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() and not key.lstrip().startswith("#"):
            values[key.strip()] = value.strip()
    return values


def read_device_info(volume: Volume, profile: Profile, label: str | None, tz: str) -> DeviceInfo:
    info = DeviceInfo()
    source = profile.info
    if source.source == "label":
        limit = values.column_length(Device, "device_id")
        info.device_id = values.identifier(label, "the volume label", limit, info.problems)
        if label is None:
            info.problems.append(
                "the profile takes the device id from the volume label; none given"
            )
        return info
    if source.source != "file" or source.file is None:
        return info
    wanted = source.file if profile.layout.case_sensitive else source.file.upper()
    found = [
        f
        for f in volume.files
        if not f.dir_rel and (f.name if profile.layout.case_sensitive else f.name.upper()) == wanted
    ]
    if not found:
        info.problems.append(f"device information file {source.file} is missing")
        return info
    try:
        data = volume.read_small(found[0])
    except VolumeError as exc:
        info.problems.append(f"device information file {found[0].rel} not read: {exc}")
        return info
    raw = parse_key_values(data.decode("utf-8", "replace"))
    info.raw = raw
    file = found[0].rel

    def get(name: str) -> str | None:
        key = source.keys.get(name)
        value = raw.get(key) if key else None
        if value is None or name not in IDENTIFIERS:
            return value
        model, column = IDENTIFIERS[name]
        limit = values.column_length(model, column)
        return values.identifier(value, f"{name} in {file}", limit, info.problems)

    info.device_id = get("device_id")
    info.officer_id = get("officer_id")
    info.model, info.vendor = get("model"), get("vendor")
    info.firmware, info.unit = get("firmware"), get("unit")
    info.battery_percent = values.whole_number(
        get("battery_percent"), "battery_percent", 0, 100, info.problems
    )
    info.free_bytes = values.whole_number(
        get("free_bytes"), "free_bytes", 0, values.INT64_MAX, info.problems
    )
    info.device_time_raw = get("device_time")
    if info.device_time_raw:
        info.device_time = _device_time(info.device_time_raw, source.time_format, tz, info)
    return info


def _device_time(text: str, time_format: str, tz: str, info: DeviceInfo) -> datetime | None:
    """The camera's clock as UTC; None, and the problem said, when it is no usable time
    (device_time_raw keeps it as the camera wrote it)."""
    try:
        naive = datetime.strptime(text, time_format)
    except ValueError:
        info.problems.append(f"device_time is not a time: {values.shown(text)}")
        return None
    if not values.usable_local(naive):
        info.problems.append(
            f"device_time is out of range (years {values.TIME_FROM.year} to "
            f"{values.TIME_UNTIL.year - 1}); kept as written, not used: {values.shown(text)}"
        )
        return None
    return local_to_utc(naive, tz)


def info_file_names(profile: Profile) -> set[str]:
    """Root files that carry device information (reported, not sealed as clips)."""
    if profile.info.source == "file" and profile.info.file:
        return {profile.info.file.upper()}
    return set()
