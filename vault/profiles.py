"""Camera profiles are data (devices/*.toml), not code (DV-4).

A profile says how to recognise a camera, where its clips are, how its file names
encode device, officer and time, and where its device information comes from. Both the
dock (matching a plugged-in camera) and ingest (reading its files) use them, so they sit
below both.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from wcmatch import glob

from vault.config import describe_validation_error
from vault.errors import ProfileError

Kind = Literal["video", "photo", "audio"]
# The camera control drivers the dock has (vault.dock.drivers.DRIVERS; a test keeps the two
# the same): a profile may name only these. Named here, so profiles sit below the dock.
DRIVER_NAMES = ("ambarella",)


def _compiles(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"not a regular expression: {exc}") from None
    return pattern


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UsbId(Strict):
    vendor_id: str = Field(pattern=r"^[0-9a-f]{4}$")
    product_id: str | None = Field(default=None, pattern=r"^[0-9a-f]{4}$")


class Match(Strict):
    usb: list[UsbId] = Field(default_factory=list)
    label: str | None = None  # regex on the volume label
    marker_files: list[str] = Field(default_factory=list)  # all present at the volume root

    @field_validator("label")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        return None if value is None else _compiles(value)


class IgnoreRule(Strict):
    glob: str
    reason: str


class Layout(Strict):
    clips: list[str] = Field(min_length=1)  # globs relative to the volume root ('**' allowed)
    important: list[str] = Field(default_factory=list)  # clips the officer marked important
    ignore: list[IgnoreRule] = Field(default_factory=list)  # reported, never sealed or erased
    case_sensitive: bool = False  # FAT and exFAT are not


class Naming(Strict):
    # Named groups understood: device, officer, time, seq, important, ext.
    pattern: str
    time_format: str = "%Y%m%d%H%M%S"  # applied to the digits of the 'time' group
    time_fallback: Literal["none", "mtime"] = "none"
    kinds: dict[str, Kind]  # by upper-case extension

    @field_validator("pattern")
    @classmethod
    def _regex(cls, value: str) -> str:
        return _compiles(value)


class Info(Strict):
    source: Literal["file", "label", "none"] = "none"
    file: str | None = None  # at the volume root, UTF-8 key=value lines
    time_format: str = "%Y-%m-%d %H:%M:%S"
    keys: dict[str, str] = Field(default_factory=dict)  # our field -> the camera's key


class Profile(Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    description: str
    vendor: str | None = None
    match: Match = Match()
    # A camera control driver (vault.dock.drivers) for cameras that must be told over USB to
    # show their storage, and that report their information and clock through it.
    driver: str | None = None
    layout: Layout
    naming: Naming
    info: Info = Info()

    @field_validator("driver")
    @classmethod
    def _known_driver(cls, value: str | None) -> str | None:
        if value is not None and value not in DRIVER_NAMES:
            known = ", ".join(sorted(DRIVER_NAMES))
            raise ValueError(f"no camera driver named {value!r} (known: {known})")
        return value

    def _flags(self) -> int:
        flags = glob.GLOBSTAR | glob.DOTGLOB
        return flags if self.layout.case_sensitive else flags | glob.IGNORECASE

    def _matches(self, rel: str, patterns: list[str]) -> bool:
        return bool(patterns) and glob.globmatch(rel, patterns, flags=self._flags())

    def classify(self, rel: str) -> Classification:
        """Where a file sits decides what it is: an ignored file, a clip candidate, or neither."""
        for rule in self.layout.ignore:
            if self._matches(rel, [rule.glob]):
                return Classification("ignored", rule.reason)
        if self._matches(rel, self.layout.clips):
            return Classification("clip", None, self._matches(rel, self.layout.important))
        return Classification("outside", "not in a clip folder of this camera")

    def parse_name(self, file_name: str) -> NameInfo | None:
        """What the file name says, or None: a file in a clip folder that is no known clip."""
        flags = 0 if self.layout.case_sensitive else re.IGNORECASE
        found = re.fullmatch(self.naming.pattern, file_name, flags)
        if not found:
            return None
        groups = {k: v for k, v in found.groupdict().items() if v is not None}
        kind = self.naming.kinds.get(groups.get("ext", file_name.rpartition(".")[2]).upper())
        if kind is None:
            return None
        camera_time = None
        if "time" in groups:
            digits = re.sub(r"\D", "", groups["time"])
            try:
                camera_time = datetime.strptime(digits, self.naming.time_format)
            except ValueError:
                camera_time = None  # an impossible date in the name: fall back like no time
        return NameInfo(
            kind=kind,
            device_id=groups.get("device"),
            officer_id=groups.get("officer"),
            camera_time=camera_time,
            sequence=groups.get("seq"),
            important=bool(groups.get("important")),
        )

    def recognises(self, root_names: set[str], label: str | None) -> bool:
        """Does a mounted volume look like this camera? (USB ids are checked by the dock.)"""
        names = root_names if self.layout.case_sensitive else {n.upper() for n in root_names}
        markers = [m if self.layout.case_sensitive else m.upper() for m in self.match.marker_files]
        if markers and not all(m in names for m in markers):
            return False
        if self.match.label is not None:
            return label is not None and re.fullmatch(self.match.label, label) is not None
        return bool(markers)


@dataclass(frozen=True)
class Classification:
    role: Literal["clip", "ignored", "outside"]
    reason: str | None
    important: bool = False


@dataclass(frozen=True)
class NameInfo:
    kind: Kind
    device_id: str | None
    officer_id: str | None
    camera_time: datetime | None  # naive: the camera's local time as it states it
    sequence: str | None
    important: bool


def load_profile(path: Path) -> Profile:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        profile = Profile.model_validate(data)
    except OSError as exc:
        raise ProfileError(f"cannot read device profile {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"device profile {path} is not valid TOML: {exc}") from None
    except ValidationError as exc:
        raise ProfileError(f"device profile {path}: {describe_validation_error(exc)}") from None
    if profile.name != path.stem:
        raise ProfileError(
            f"device profile {path} is named {profile.name!r}; name it {path.stem!r}"
        )
    return profile


def load_profiles(dirs: list[Path]) -> dict[str, Profile]:
    """Profiles by name; a directory earlier in the list overrides a later one."""
    profiles: dict[str, Profile] = {}
    for directory in reversed(dirs):
        for path in sorted(directory.glob("*.toml")):
            profile = load_profile(path)
            profiles[profile.name] = profile
    return profiles


def choose_profile(
    profiles: dict[str, Profile], root_names: set[str], label: str | None, name: str | None
) -> Profile:
    """The named profile, or the one profile that recognises the volume."""
    known = ", ".join(sorted(profiles)) or "none installed"
    if name is not None:
        if name not in profiles:
            raise ProfileError(f"no device profile named {name!r} (known: {known})")
        return profiles[name]
    fits = [p for p in profiles.values() if p.recognises(root_names, label)]
    if len(fits) == 1:
        return fits[0]
    if not fits:
        raise ProfileError(
            f"unknown camera: no device profile recognises this volume (label {label!r}; "
            f"known: {known}); nothing on it was touched. Name one with --profile."
        )
    names = ", ".join(p.name for p in fits)
    raise ProfileError(f"several device profiles fit this volume ({names}); choose with --profile")
