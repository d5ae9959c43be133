"""What the camera says about itself at docking: ids, clock, battery, free space (DV-2, DV-3)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from vault.ingest.volume import Volume
from vault.profiles import Profile
from vault.timeutil import local_to_utc


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


def _as_int(value: str | None, name: str, problems: list[str]) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        problems.append(f"{name} is not a number: {value!r}")
        return None


def read_device_info(volume: Volume, profile: Profile, label: str | None, tz: str) -> DeviceInfo:
    info = DeviceInfo()
    source = profile.info
    if source.source == "label":
        info.device_id = label
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
    text = volume.read_small(found[0]).decode("utf-8", "replace")
    raw = parse_key_values(text)
    info.raw = raw

    def get(name: str) -> str | None:
        key = source.keys.get(name)
        return raw.get(key) if key else None

    info.device_id = get("device_id")
    info.officer_id = get("officer_id")
    info.model, info.vendor = get("model"), get("vendor")
    info.firmware, info.unit = get("firmware"), get("unit")
    info.battery_percent = _as_int(get("battery_percent"), "battery_percent", info.problems)
    info.free_bytes = _as_int(get("free_bytes"), "free_bytes", info.problems)
    info.device_time_raw = get("device_time")
    if info.device_time_raw:
        try:
            naive = datetime.strptime(info.device_time_raw, source.time_format)
            info.device_time = local_to_utc(naive, tz)
        except ValueError:
            info.problems.append(f"device_time is not a time: {info.device_time_raw!r}")
    return info


def info_file_names(profile: Profile) -> set[str]:
    """Root files that carry device information (reported, not sealed as clips)."""
    if profile.info.source == "file" and profile.info.file:
        return {profile.info.file.upper()}
    return set()
