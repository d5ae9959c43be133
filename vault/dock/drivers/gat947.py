"""Cameras driven through their vendor's GA/T 947.4 library, loaded with ctypes.

GA/T 947.4 makes every vendor ship the same C calls (the "公安部" block of their library):
`Init_Device`, `GetIDCode`, `SetMSDC`, `SyncDevTime`, `ReadDeviceResolution`,
`ReadDeviceBatteryDumpEnergy`, `GetZFYInfo` and `WriteZFYInfo`; each returns a status and
writes a result code through `int *iRet`, and all but the first two take the camera password
`sPwd`. `ZFY_INFO` is packed; its strings are GBK and fill their arrays without a NUL when
they are long enough. The standard reads no clock: a profile names the vendor's own call
(and a login call) with its signature (`vault.profiles.VendorCall`).

This module loads foreign native code: the dock never imports it in its own process. It runs
in a child process per camera (`vault.dock.drivers.isolated`), so a crash, a hang or a leak
in the library fails that camera's bay and nothing else.

Without a clock call the driver cannot measure the camera's offset before setting its clock,
so it does not offer `sync_clock`: setting a clock first would destroy the evidence of how
wrong it was (DV-2).
"""

from __future__ import annotations

import ctypes
import logging
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from vault.dock.drivers.base import CameraInfo, DriverError, redact
from vault.profiles import LibraryDriver, VendorCall

log = logging.getLogger(__name__)

# ZFY_INFO's fields: (C name, bytes, what it is)
ZFY_FIELDS = (
    ("cSerial", 8, "serial"),
    ("userNo", 7, "badge"),
    ("userName", 33, "name"),
    ("unitNo", 13, "unit number"),
    ("unitName", 33, "unit name"),
)


class ZfyInfo(ctypes.Structure):
    """`ZFY_INFO`, packed (no padding): 94 bytes."""

    _pack_ = 1
    _fields_ = [(name, ctypes.c_ubyte * size) for name, size, _ in ZFY_FIELDS]


_INT_P = ctypes.POINTER(ctypes.c_int)
# The standard's calls: (argument types, return type); Init_Device's is set by the profile.
SIGNATURES: dict[str, tuple[list[Any], Any]] = {
    "Init_Device": ([ctypes.c_char_p, _INT_P], ctypes.c_int),
    "GetIDCode": ([ctypes.POINTER(ctypes.c_char_p), _INT_P], ctypes.c_int),
    "SetMSDC": ([ctypes.c_char_p, _INT_P], ctypes.c_int),
    "SyncDevTime": ([ctypes.c_char_p, _INT_P], ctypes.c_int),
    "ReadDeviceResolution": ([_INT_P, _INT_P, ctypes.c_char_p, _INT_P], ctypes.c_int),
    "ReadDeviceBatteryDumpEnergy": ([_INT_P, ctypes.c_char_p, _INT_P], ctypes.c_int),
    "GetZFYInfo": ([ctypes.POINTER(ZfyInfo), ctypes.c_char_p, _INT_P], ctypes.c_int),
    "WriteZFYInfo": ([ctypes.POINTER(ZfyInfo), ctypes.c_char_p, _INT_P], ctypes.c_int),
}
_ARG_TYPES = {
    "password": ctypes.c_char_p,
    "user": ctypes.c_char_p,
    "iret": _INT_P,
    "text_out": ctypes.c_char_p,
    "text_ptr_out": ctypes.POINTER(ctypes.c_char_p),
}
# Calls a library must have before anything is asked of the camera: without them a docking
# would fail half done (its clock already set, say, and no SetMSDC to show the storage).
REQUIRED = ("Init_Device", "GetZFYInfo", "SetMSDC")
TEXT_BUFFER = 128  # bytes given to a vendor call that fills a text buffer
_PASSWORD = re.compile(r"[!-~]{1,32}")


def decode_field(raw: bytes, what: str) -> str | None:
    """A ZFY_INFO string: up to its NUL or its array's end, GBK; None when empty."""
    text = raw.split(b"\0", 1)[0].strip(b" ")
    if not text:
        return None
    try:
        return text.decode("gbk")
    except UnicodeDecodeError:
        raise DriverError(
            f"the camera's {what} in ZFY_INFO is not GBK text (bytes {text.hex(' ')})"
        ) from None


def encode_field(text: str | None, size: int, what: str) -> bytes:
    """GBK bytes for a ZFY_INFO array; they may fill it (no NUL), never overflow it."""
    data = (text or "").encode("gbk", errors="strict") if text else b""
    if len(data) > size:
        raise DriverError(f"{what} {text!r} is {len(data)} bytes in GBK; ZFY_INFO holds {size}")
    return data


def info_from_struct(info: ZfyInfo) -> dict[str, str | None]:
    return {what: decode_field(bytes(getattr(info, name)), what) for name, _, what in ZFY_FIELDS}


def struct_from_values(values: dict[str, str | None]) -> ZfyInfo:
    info = ZfyInfo()
    for name, size, what in ZFY_FIELDS:
        data = encode_field(values.get(what), size, what)
        ctypes.memmove(getattr(info, name), data, len(data))
    return info


class Gat947Driver:
    """One camera, through its vendor's library; `open` loads it and connects (Init_Device)."""

    name = "gat947"

    def __init__(
        self,
        lib: ctypes.CDLL,
        options: LibraryDriver,
        password: str,
        zone: ZoneInfo,
        on_call: Callable[[str], None] | None = None,
    ) -> None:
        if not _PASSWORD.fullmatch(password):
            raise DriverError(
                f"the camera password in {options.credentials} must be 1 to 32 printable "
                "ASCII characters without blanks"
            )
        self._lib, self._options, self._zone = lib, options, zone
        self._password = password.encode("ascii")
        self._on_call = on_call or (lambda name: None)
        self._raw: dict[str, str] = {}
        self.clock_text: str | None = None  # the clock call's text, as the camera gave it
        missing = [n for n in self._required() if not self._has(n)]
        if missing:
            raise DriverError(
                f"the camera library {options.library} has no {', '.join(missing)}: "
                "it is not a GA/T 947.4 library this profile can drive"
            )
        features = {"info", "mass_storage"}
        if options.clock is not None:
            features.add("read_clock")
            if self._has("SyncDevTime"):
                features.add("sync_clock")  # DV-2: measured before it is set
        if self._has("WriteZFYInfo"):
            features.add("write_info")
        self.supports = frozenset(features)

    @classmethod
    def open(
        cls,
        options: LibraryDriver,
        password: str,
        zone: ZoneInfo,
        where: dict[str, Any],
        on_call: Callable[[str], None] | None = None,
    ) -> Gat947Driver:
        try:
            lib = ctypes.CDLL(str(options.library))
        except OSError as exc:
            raise DriverError(f"cannot load the camera library {options.library}: {exc}") from None
        driver = cls(lib, options, password, zone, on_call)
        driver._connect(where)
        return driver

    def __repr__(self) -> str:
        return f"Gat947Driver(library={str(self._options.library)!r})"

    # -- calling the library -------------------------------------------------------------

    def _required(self) -> list[str]:
        named = [c.call for c in (self._options.clock, self._options.login) if c is not None]
        return [*REQUIRED, *named]

    def _has(self, name: str) -> bool:
        return hasattr(self._lib, name)

    def _function(self, name: str, argtypes: list[Any], restype: Any) -> Any:
        try:
            function = getattr(self._lib, name)
        except AttributeError:
            raise DriverError(f"the camera library {self._options.library} has no {name}") from None
        function.argtypes, function.restype = argtypes, restype
        return function

    def _mask(self, text: str) -> str:
        return redact(text, self._password.decode("ascii"))

    def _check(self, name: str, status: int, iret: int, ok: bool | None = None) -> None:
        options = self._options
        if ok is None:
            ok = status == options.ok_status and iret in options.ok_iret
        if ok:
            return
        meaning = options.iret_meanings.get(iret)
        if iret in options.password_refused:
            raise DriverError(
                f"camera refused {name}: wrong camera password (iRet {iret}); check the "
                f"credentials file {options.credentials}"
            )
        said = f": {self._mask(meaning)}" if meaning else ""
        raise DriverError(f"camera library refused {name} (status {status}, iRet {iret}{said})")

    def _call(self, name: str, *args: Any) -> None:
        """A standard call: its arguments, then iRet; the status and iRet checked."""
        argtypes, restype = SIGNATURES[name]
        function = self._function(name, argtypes, restype)
        iret = ctypes.c_int(-1)
        self._on_call(name)
        status = function(*args, ctypes.byref(iret))
        self._check(name, int(status), iret.value)

    def _vendor(self, call: VendorCall) -> str | None:
        """A vendor call as its profile declares it; the text it gave, if any."""
        function = self._function(call.call, [_ARG_TYPES[a] for a in call.args], ctypes.c_int)
        iret = ctypes.c_int(-1)
        buffer = ctypes.create_string_buffer(TEXT_BUFFER)
        pointer = ctypes.c_char_p()
        values: dict[str, Any] = {
            "password": self._password,
            "user": self._options.login_user.encode("ascii", "replace"),
            "iret": ctypes.byref(iret),
            "text_out": buffer,
            "text_ptr_out": ctypes.byref(pointer),
        }
        self._on_call(call.call)
        status = function(*[values[a] for a in call.args])
        self._check(call.call, int(status), iret.value)
        if "text_out" in call.args:
            return buffer.value.decode("ascii", "replace")
        if "text_ptr_out" in call.args and pointer.value is not None:
            return pointer.value.decode("ascii", "replace")
        return None

    def _connect(self, where: dict[str, Any]) -> None:
        try:
            id_code = self._options.id_code.format(**where)
        except (KeyError, IndexError, ValueError) as exc:
            raise DriverError(f"the profile's id_code cannot be filled in: {exc}") from None
        iret = ctypes.c_int(-1)
        if self._options.init_returns == "handle":
            function = self._function("Init_Device", SIGNATURES["Init_Device"][0], ctypes.c_void_p)
            self._on_call("Init_Device")
            handle = function(id_code.encode("gbk"), ctypes.byref(iret))
            self._check("Init_Device", 0 if handle else -1, iret.value, ok=bool(handle))
        else:
            self._call("Init_Device", id_code.encode("gbk"))
        if self._options.login is not None:
            self._vendor(self._options.login)

    # -- CameraDriver ----------------------------------------------------------------------

    def _zfy(self) -> dict[str, str | None]:
        info = ZfyInfo()
        self._call("GetZFYInfo", ctypes.byref(info), self._password)
        values = info_from_struct(info)
        for what, value in values.items():
            self._raw[f"ZFY_INFO.{what}"] = self._mask(value or "")
        return values

    def identify(self) -> str:
        serial = self._zfy()["serial"]
        if not serial:
            raise DriverError("the camera reports no serial in ZFY_INFO (cSerial is empty)")
        return serial

    def read_info(self) -> CameraInfo:
        values = self._zfy()
        if not values["serial"]:
            raise DriverError("the camera reports no serial in ZFY_INFO (cSerial is empty)")
        if self._has("GetIDCode"):
            code = ctypes.c_char_p()
            self._call("GetIDCode", ctypes.byref(code))
            if code.value:
                self._raw["GetIDCode"] = self._mask(code.value.decode("gbk", "replace"))
        battery = resolution = None
        if self._has("ReadDeviceBatteryDumpEnergy"):
            percent = ctypes.c_int(-1)
            self._call("ReadDeviceBatteryDumpEnergy", ctypes.byref(percent), self._password)
            if not 0 <= percent.value <= 100:
                raise DriverError(f"the camera reports a battery of {percent.value}%")
            battery = percent.value
            self._raw["battery_percent"] = str(battery)
        if self._has("ReadDeviceResolution"):
            width, height = ctypes.c_int(0), ctypes.c_int(0)
            self._call(
                "ReadDeviceResolution", ctypes.byref(width), ctypes.byref(height), self._password
            )
            resolution = f"{width.value}x{height.value}"
            self._raw["resolution"] = resolution
        return CameraInfo(
            device_id=values["serial"],
            officer_id=values["badge"],
            officer_name=values["name"],
            unit_id=values["unit number"],
            unit_name=values["unit name"],
            raw=dict(self._raw),
            battery_percent=battery,
            resolution=resolution,
        )

    def read_clock(self) -> datetime | None:
        call = self._options.clock
        if call is None:
            raise DriverError(
                "reading the camera clock is not supported: the profile names no clock call"
            )
        text = (self._vendor(call) or "").strip("\0 ")
        self._raw[call.call] = text
        self.clock_text = self._mask(text)
        try:
            naive = datetime.strptime(text, call.time_format)
        except ValueError:
            log.warning("driver=gat947 clock_text=%r: not a time; the camera keeps none", text)
            return None
        return naive.replace(tzinfo=self._zone)

    def sync_clock(self, now: datetime) -> None:
        """SyncDevTime: the library sets the camera's clock from the host's own (DV-2)."""
        if "sync_clock" not in self.supports:
            raise DriverError("the clock is set only after it was read: name a clock call")
        self._call("SyncDevTime", self._password)
        log.info("driver=gat947 clock_set_from_host station_time=%s", now.isoformat())

    def enter_mass_storage(self) -> None:
        self._call("SetMSDC", self._password)

    def write_info(self, info: CameraInfo) -> None:
        """WriteZFYInfo with the camera's own serial kept; read back to check it took.

        The officer's fields are written as given: badge, name and unit belong together, so
        a field given as None is cleared (never left with the previous officer's value).
        """
        values = self._zfy()
        for what, value in (
            ("badge", info.officer_id),
            ("name", info.officer_name),
            ("unit number", info.unit_id),
            ("unit name", info.unit_name),
        ):
            values[what] = value
        struct = struct_from_values(values)
        self._call("WriteZFYInfo", ctypes.byref(struct), self._password)
        if self._zfy()["badge"] != values["badge"]:
            raise DriverError("the camera did not keep the badge written with WriteZFYInfo")

    def close(self) -> None:
        """The standard has no call to release a camera; unloading is the process's end."""
