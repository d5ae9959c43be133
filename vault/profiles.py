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
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from wcmatch import glob

from vault.config import describe_validation_error
from vault.errors import ProfileError
from vault.i18n import N_, Phrase

Kind = Literal["video", "photo", "audio"]
# The camera control drivers the dock has (vault.dock.drivers.DRIVERS; a test keeps the two
# the same): a profile may name only these. Named here, so profiles sit below the dock.
DRIVER_NAMES = ("ambarella", "gat947")
# Drivers that load a vendor's library: named by a [driver] table that says where it is.
LIBRARY_DRIVERS = ("gat947",)


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


class Logs(Strict):
    """The camera's own operation logs (OV-4): sealed as custody records of each docking,
    and read where the profile knows their lines. Each pattern is a regular expression with
    a group `file`: `recorded` lines name a file the camera wrote (one that never reaches the
    vault is a finding), `deleted` lines a file it deleted (always a finding)."""

    files: list[str] = Field(default_factory=list)  # globs relative to the volume root
    recorded: list[str] = Field(default_factory=list)
    deleted: list[str] = Field(default_factory=list)
    max_bytes: Annotated[int, Field(ge=1024, le=64 * 1024 * 1024)] = 4 * 1024 * 1024

    @field_validator("recorded", "deleted")
    @classmethod
    def _named_file(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            if "file" not in re.compile(_compiles(pattern)).groupindex:
                raise ValueError(f"{pattern!r} has no group (?P<file>...)")
        return patterns


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


# What a vendor call's argument is, in order (the profile declares the call's signature):
# password: const char *sPwd; iret: int *iRet; user: const char * (login_user);
# text_out: a char buffer the call fills; text_ptr_out: char ** the call points at its text.
ArgKind = Literal["password", "iret", "user", "text_out", "text_ptr_out"]


class VendorCall(Strict):
    """A call the standard does not define (reading the clock, logging in), by its name."""

    call: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
    args: list[ArgKind] = Field(min_length=1)
    time_format: str = "%Y%m%d%H%M%S"  # the clock call's text: local time of the camera


class LibraryDriver(Strict):
    """`[driver]` of a camera driven through its vendor's GA/T 947.4 library (gat947).

    The password is never here: `credentials` names a root-only file that holds it.
    """

    # The vendor's shared object, absolute, e.g. /opt/vendor/lib/libbodycam.so; the dock
    # checks when it opens it that it is a regular file of root's (or the dock's account's)
    # that its group and others may not write.
    library: Path
    credentials: Path  # root-only (0600/0400) file: the camera password on its first line
    id_code: str = ""  # IDCode for Init_Device; {bus}, {address}, {serial} are filled in
    init_returns: Literal["status", "handle"] = "status"  # what Init_Device returns
    ok_status: int = 1  # the return value of a call that succeeded
    ok_iret: list[int] = Field(default_factory=lambda: [0])  # iRet values of success
    password_refused: list[int] = Field(default_factory=list)  # iRet: wrong password
    iret_meanings: dict[int, str] = Field(default_factory=dict)  # iRet -> what it means
    clock: VendorCall | None = None  # e.g. GetDevTime(char *buf, sPwd, iRet)
    login: VendorCall | None = None  # called once after Init_Device
    login_user: str = "admin"
    write_keeper: bool = False  # WriteZFYInfo: the camera carries its keeper's badge (DV-1)
    timeout_s: float = Field(default=10.0, gt=0, le=300)  # per library call
    msdc_timeout_s: float = Field(default=30.0, gt=0, le=300)  # SetMSDC may take longer
    memory_mb: int = Field(default=512, ge=64)  # the library's process past this: a leak

    @field_validator("library")
    @classmethod
    def _library_is_absolute(cls, value: Path) -> Path:
        # A bare or relative name would be found on the dynamic loader's search path (or the
        # dock's working directory): foreign code run as root from wherever it was put.
        if not value.is_absolute():
            raise ValueError(
                f"library must be an absolute path to the vendor's shared object (it is {value})"
            )
        return value

    @field_validator("clock")
    @classmethod
    def _clock_gives_text(cls, value: VendorCall | None) -> VendorCall | None:
        if value is not None and not {"text_out", "text_ptr_out"} & set(value.args):
            raise ValueError("the clock call must have a text_out or text_ptr_out argument")
        return value


class Profile(Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    description: str
    vendor: str | None = None
    match: Match = Match()
    # A camera control driver (vault.dock.drivers) for cameras that must be told over USB to
    # show their storage, and that report their information and clock through it.
    driver: str | None = None
    # `[driver] kind = "gat947"`: the vendor library's path and calls (the table's other keys).
    driver_options: LibraryDriver | None = None
    layout: Layout
    naming: Naming
    info: Info = Info()
    logs: Logs = Logs()

    @model_validator(mode="before")
    @classmethod
    def _driver_table(cls, data: object) -> object:
        """`[driver]` with `kind` and options, or `driver = "name"`: both name the driver."""
        if isinstance(data, dict) and isinstance(data.get("driver"), dict):
            table = dict(data["driver"])
            kind = table.pop("kind", None)
            if kind not in LIBRARY_DRIVERS:
                known = ", ".join(LIBRARY_DRIVERS)
                raise ValueError(f"[driver] kind must be one of: {known} (it is {kind!r})")
            data = {**data, "driver": kind, "driver_options": table}
        return data

    @field_validator("driver")
    @classmethod
    def _known_driver(cls, value: str | None) -> str | None:
        if value is not None and value not in DRIVER_NAMES:
            known = ", ".join(sorted(set(DRIVER_NAMES) - set(LIBRARY_DRIVERS)))
            raise ValueError(
                f"no camera driver named {value!r} (known: {known}); a vendor's GA/T 947.4 "
                'library is named by a [driver] table (kind = "gat947", library = ...)'
            )
        return value

    @model_validator(mode="after")
    def _options_fit_driver(self) -> Profile:
        if self.driver in LIBRARY_DRIVERS and self.driver_options is None:
            raise ValueError(
                f"driver {self.driver} loads the vendor's library: give it as a [driver] table "
                f'(kind = "{self.driver}", library = ..., credentials = ...)'
            )
        return self

    def _flags(self) -> int:
        flags = glob.GLOBSTAR | glob.DOTGLOB
        return flags if self.layout.case_sensitive else flags | glob.IGNORECASE

    def _matches(self, rel: str, patterns: list[str]) -> bool:
        return bool(patterns) and glob.globmatch(rel, patterns, flags=self._flags())

    def is_log(self, rel: str) -> bool:
        """Is the file one of the camera's operation logs (sealed with the docking)?"""
        return self._matches(rel, self.logs.files)

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
                camera_time = None  # an impossible date (month 13, year 0): time_text keeps it
        return NameInfo(
            kind=kind,
            device_id=groups.get("device"),
            officer_id=groups.get("officer"),
            camera_time=camera_time,
            time_text=groups.get("time"),
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
    # The time as the name writes it (None: the name has none); kept when it is no date.
    time_text: str | None = None


def load_profile(path: Path) -> Profile:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        profile = Profile.model_validate(data)
    except OSError as exc:
        raise ProfileError(
            N_("cannot read device profile {path}: {problem}"), path=path, problem=exc.strerror
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(
            N_("device profile {path} is not valid {format}: {problem}"),
            path=path,
            format="TOML",
            problem=exc,
        ) from None
    except ValidationError as exc:
        raise ProfileError(
            N_("device profile {path}: {problem}"),
            path=path,
            problem=describe_validation_error(exc),
        ) from None
    if profile.name != path.stem:
        raise ProfileError(
            N_("device profile {path} is named {name}; name it {stem}"),
            path=path,
            name=repr(profile.name),
            stem=repr(path.stem),
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
    known = ", ".join(sorted(profiles)) or Phrase(N_("none installed"))
    if name is not None:
        if name not in profiles:
            raise ProfileError(
                N_("no device profile named {name} (known: {known})"), name=repr(name), known=known
            )
        return profiles[name]
    fits = [p for p in profiles.values() if p.recognises(root_names, label)]
    if len(fits) == 1:
        return fits[0]
    if not fits:
        raise ProfileError(
            N_(
                "unknown camera: no device profile recognises this volume (label {label}; "
                "known: {known}); nothing on it was touched. Name one with {option}."
            ),
            label=repr(label),
            known=known,
            option="--profile",
        )
    names = ", ".join(p.name for p in fits)
    raise ProfileError(
        N_("several device profiles fit this volume ({names}); choose with {option}"),
        names=names,
        option="--profile",
    )
