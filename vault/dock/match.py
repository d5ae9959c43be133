"""Which profile, if any, a udev event belongs to, and what the dock should do with it (DV-4).

A block device is a camera's storage when it sits on USB, carries a FAT or exFAT filesystem
and its USB ids or its volume label match a profile. A USB device (not yet storage) matched
by a profile with a driver is a camera that must be told to show its storage. Anything else
is left alone; an unknown USB disk is logged with its ids so that a profile can be written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from vault.dock.events import UdevEvent
from vault.profiles import Profile

CAMERA_FILESYSTEMS = ("vfat", "exfat")

Action = Literal["ingest", "driver", "ignore", "unknown"]


@dataclass(frozen=True)
class Decision:
    action: Action
    profile: Profile | None = None
    reason: str = ""


def _usb_matches(profile: Profile, event: UdevEvent) -> bool:
    return any(
        rule.vendor_id == event.vendor_id
        and (rule.product_id is None or rule.product_id == event.product_id)
        for rule in profile.match.usb
    )


def _label_matches(profile: Profile, label: str | None) -> bool:
    pattern = profile.match.label
    return pattern is not None and label is not None and re.fullmatch(pattern, label) is not None


def decide(event: UdevEvent, profiles: dict[str, Profile]) -> Decision:
    if event.subsystem == "usb":
        if event.devtype != "usb_device":
            return Decision("ignore", reason="a USB interface, not a device")
        with_driver = [p for p in profiles.values() if p.driver and _usb_matches(p, event)]
        if len(with_driver) == 1:
            return Decision("driver", with_driver[0], "camera that needs its driver")
        return Decision("ignore", reason="USB device without a camera driver")
    if event.subsystem != "block":
        return Decision("ignore", reason=f"subsystem {event.subsystem}")
    if not event.on_usb:
        return Decision("ignore", reason="not on USB (the station's own disks are never read)")
    if event.has_partition_table:
        return Decision("ignore", reason="whole disk with partitions; its partitions come apart")
    if event.fs_type is None:
        return Decision("ignore", reason="no filesystem (yet)")
    by_usb = [p for p in profiles.values() if _usb_matches(p, event)]
    # A profile that names USB ids is matched on them; the label then only narrows. A label
    # alone identifies only profiles that name no USB ids (cameras that enumerate as a
    # generic disk), lest any USB stick with a camera-like label be taken.
    by_label = [
        p for p in profiles.values() if not p.match.usb and _label_matches(p, event.fs_label)
    ]
    fits = [p for p in by_usb if not p.match.label or _label_matches(p, event.fs_label)]
    fits = fits or by_usb or by_label
    if not fits:
        return Decision("unknown", reason="no device profile matches its USB ids or label")
    if len(fits) > 1:
        names = ", ".join(sorted(p.name for p in fits))
        return Decision("unknown", reason=f"several device profiles match ({names})")
    if event.fs_type not in CAMERA_FILESYSTEMS:
        return Decision(
            "unknown", fits[0], f"filesystem {event.fs_type} is not FAT or exFAT; not mounted"
        )
    return Decision("ingest", fits[0], f"profile {fits[0].name}")
