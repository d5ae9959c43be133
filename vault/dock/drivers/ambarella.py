"""Ambarella-based body cameras (USB 4255:0001): device id, clock setting, mass storage.

These cameras enumerate as a vendor device with bulk OUT 0x01 / bulk IN 0x81 and take
ASCII commands `@TAG;LEN;PAYLOAD;#`. What is known, from public client code for them:

- `@Ver;8;00000000;#` logs in; the camera answers with a reply containing `Ver;OK`.
- `@Gdv;8;<admin password>;#` asks for the device id; the answer starts `@Gdv` and the id is
  its third `;`-separated field, with or without a `#` straight after it (`@Gdv;7;3100001;#`).
- `@ATH;8;<admin password>;#` switches to mass storage; the camera then leaves the bus and
  comes back as a disk, so it may never answer.
- `@Sdt;8;yyyyMMdd;#` then `@Stm;6;HHmmss00;#` set the clock in the camera's local time
  (the LEN of Stm is 6 although 8 characters follow: the trailing `00` is padding).

Assumptions where the reply format is not documented (liberal in what we accept, strict in
what we send): LEN of a password command is the password's length (8 for the usual
8-digit password, which gives exactly the bytes above); a reply is the first `@TAG;...`
in what the camera sends, NULs and blanks around it ignored, the closing `#` optional
(further reads gather a reply split across packets until `#`); a leading numeric length
field and an `OK` field are skipped when looking for the device id; any field such as
`ERROR`, `FAIL` or `NG` means the camera refused, which for a password command means a
wrong admin password; a reply to another command is an error, never taken as the answer.

What these cameras lack (`supports` says so, and calling them raises DriverError):
reading the clock, so the dock cannot measure the offset over USB and relies on file times
(DV-2); officer and unit information (GetZFYInfo), so `read_info` carries the device id only
(DV-1 keeps the camera's keeper in the vault's own records).

The admin password never appears in a message, a log record, `repr()` or CameraInfo.raw:
what the camera sends back is masked before it is kept or shown, in case it echoes.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from zoneinfo import ZoneInfo

from pydantic import SecretStr

from vault.dock.drivers.base import CameraInfo, DriverError, Transport, TransportTimeout, redact

log = logging.getLogger(__name__)

USB_IDS = ((0x4255, 0x0001),)
TIMEOUT_MS = 2000  # per write and per read; a docked camera answers in milliseconds
FOLLOW_MS = 200  # waiting for the rest of a reply that came without its closing '#'
PACKET = 64  # bytes asked for per read: a reply fits one full-speed bulk packet
MAX_REPLY = 512  # a camera that keeps talking past this is answering nonsense
LOGIN_PAYLOAD = "00000000"

_REPLY = re.compile(r"@(?P<tag>[A-Za-z]{3})(?P<body>[^#@]*)(?P<end>#?)")
_REFUSALS = {"ERROR", "ERR", "FAIL", "FAILED", "NG", "DENIED", "WRONG", "INVALID"}
_DEVICE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
_PASSWORD = re.compile(r"[!-~]{1,99}")  # printable ASCII, no blanks


class _Reply:
    """A parsed answer: its tag, its non-empty fields, whether it ended with '#'."""

    def __init__(self, tag: str, fields: list[str], complete: bool, text: str) -> None:
        self.tag, self.fields, self.complete, self.text = tag, fields, complete, text

    @property
    def refused(self) -> bool:
        return any(f.upper() in _REFUSALS for f in self.fields)


def _parse(data: bytes) -> _Reply | None:
    text = data.decode("ascii", errors="backslashreplace").strip("\x00\r\n\t ")
    found = _REPLY.search(text)
    if found is None:
        return None
    fields = [f.strip("\x00\r\n\t ") for f in found["body"].split(";")]
    return _Reply(found["tag"], [f for f in fields if f], bool(found["end"]), found.group(0))


class AmbarellaDriver:
    """A logged-in Ambarella camera; use `connect` (or `open_driver("ambarella", ...)`)."""

    name = "ambarella"
    supports = frozenset({"info", "sync_clock", "mass_storage"})

    def __init__(
        self, transport: Transport, password: str, zone: ZoneInfo, timeout_ms: int = TIMEOUT_MS
    ) -> None:
        if not _PASSWORD.fullmatch(password) or set(password) & set(";#@"):
            raise DriverError(
                "the ambarella admin password (devices.driver_passwords) must be 1 to 99 "
                "printable ASCII characters without blanks, ';', '#' or '@'"
            )
        self._transport = transport
        self._password = SecretStr(password)  # masked in repr() and tracebacks' locals
        self._zone = zone
        self._timeout_ms = timeout_ms
        self._raw: dict[str, str] = {}
        self._password_checked = False
        self._closed = False

    @classmethod
    def connect(cls, transport: Transport, password: str, zone: ZoneInfo) -> AmbarellaDriver:
        """Log in (@Ver) over an open transport."""
        driver = cls(transport, password, zone)
        driver._exchange("Ver", LOGIN_PAYLOAD)
        return driver

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"AmbarellaDriver(timezone={self._zone.key!r}, {state})"

    # -- the protocol ------------------------------------------------------------------

    def _seconds(self) -> str:
        return f"{self._timeout_ms / 1000:g} s"

    def _mask(self, text: str) -> str:
        return redact(text, self._password.get_secret_value())

    def _send(self, tag: str, payload: str, length: int) -> None:
        cmd = f"@{tag}"
        data = f"@{tag};{length};{payload};#".encode("ascii")
        log.debug("driver=ambarella sent=%s", self._mask(data.decode("ascii")))
        try:
            self._transport.write(data, self._timeout_ms)
        except TransportTimeout:
            raise DriverError(f"camera did not take {cmd} within {self._seconds()}") from None
        except DriverError as exc:
            raise DriverError(f"{self._mask(str(exc))} (sending {cmd})") from None

    def _receive(self, tag: str) -> bytes:
        cmd = f"@{tag}"
        try:
            data = self._transport.read(PACKET, self._timeout_ms)
        except TransportTimeout:
            raise DriverError(f"camera did not answer {cmd} within {self._seconds()}") from None
        except DriverError as exc:
            raise DriverError(f"{self._mask(str(exc))} (waiting for the answer to {cmd})") from None
        while b"#" not in data and len(data) < MAX_REPLY:
            try:  # the rest of a reply split across packets; silence ends it
                more = self._transport.read(PACKET, FOLLOW_MS)
            except TransportTimeout:
                break
            except DriverError as exc:
                raise DriverError(f"{self._mask(str(exc))} (reading the answer to {cmd})") from None
            if not more:
                break
            data += more
        log.debug("driver=ambarella tag=%s received=%r", tag, self._mask(data.decode("latin-1")))
        return data

    def _answer(self, tag: str, data: bytes, secret: bool) -> _Reply:
        """The camera's answer to @tag, kept (masked) for the record, or DriverError."""
        cmd = f"@{tag}"
        reply = _parse(data)
        if reply is None:
            shown = self._mask(data.decode("ascii", errors="backslashreplace"))[:40]
            raise DriverError(f"camera gave an unreadable answer to {cmd}: {shown!r}")
        if reply.tag.upper() != tag.upper():
            raise DriverError(f"camera answered {cmd} with a reply to @{reply.tag}")
        if reply.refused:
            if secret:
                raise DriverError(
                    f"camera refused {cmd}: wrong admin password "
                    "(check devices.driver_passwords for this camera's profile)"
                )
            raise DriverError(f"camera refused {cmd}")
        self._raw[cmd] = self._mask(reply.text)
        return reply

    def _check_open(self) -> None:
        if self._closed:
            raise DriverError("the ambarella driver is closed")

    def _exchange(self, tag: str, payload: str, length: int | None = None) -> _Reply:
        """Send one command and return the camera's answer to it, or raise DriverError."""
        self._check_open()
        self._send(tag, payload, len(payload) if length is None else length)
        return self._answer(tag, self._receive(tag), secret=False)

    def _exchange_secret(self, tag: str) -> _Reply:
        """A command whose payload is the admin password."""
        self._check_open()
        password = self._password.get_secret_value()
        self._send(tag, password, len(password))
        return self._answer(tag, self._receive(tag), secret=True)

    # -- CameraDriver ------------------------------------------------------------------

    def identify(self) -> str:
        """The device id from @Gdv, which also proves the admin password."""
        reply = self._exchange_secret("Gdv")
        fields = [f for f in reply.fields if f.upper() != "OK"]
        length = None
        if len(fields) >= 2 and fields[0].isdigit():
            length, fields = int(fields[0]), fields[1:]
        if not fields:
            raise DriverError("camera answered @Gdv without a device id")
        device_id = fields[0]
        if device_id == self._password.get_secret_value():
            raise DriverError("camera echoed @Gdv instead of giving its device id")
        if not _DEVICE_ID.fullmatch(device_id):
            shown = self._mask(device_id)[:40]
            raise DriverError(f"camera answered @Gdv with an unusable device id {shown!r}")
        if not reply.complete and length is not None and length != len(device_id):
            raise DriverError("camera's answer to @Gdv was cut off")
        self._password_checked = True
        return device_id

    def read_info(self) -> CameraInfo:
        """The device id only: these cameras keep no officer or unit information."""
        device_id = self.identify()
        return CameraInfo(device_id, None, None, None, None, raw=dict(self._raw))

    def read_clock(self) -> datetime | None:
        raise DriverError(
            "reading the camera clock is not supported by the ambarella driver "
            "(the camera has no command for it)"
        )

    def sync_clock(self, now: datetime) -> None:
        """Set date then time, both from the one `now`, in the camera's zone (DV-2)."""
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError("sync_clock needs an aware datetime")
        local = now.astimezone(self._zone)
        self._exchange("Sdt", f"{local:%Y%m%d}")
        self._exchange("Stm", f"{local:%H%M%S}00", length=6)  # LEN 6: '00' is padding
        log.info("driver=ambarella clock_set=%s zone=%s", local.isoformat(), self._zone.key)

    def enter_mass_storage(self) -> None:
        """@ATH, after @Gdv has proved the password: silence afterwards means it switched."""
        if not self._password_checked:
            self.identify()
        self._check_open()
        password = self._password.get_secret_value()
        self._send("ATH", password, len(password))
        try:
            data = self._receive("ATH")
        except DriverError as exc:  # gone from the bus, or silent: it is re-enumerating
            log.info("driver=ambarella mass_storage=requested answer=none reason=%r", str(exc))
            return
        reply = self._answer("ATH", data, secret=True)
        log.info("driver=ambarella mass_storage=requested answer=%r", self._mask(reply.text))

    def write_info(self, info: CameraInfo) -> None:
        raise DriverError(
            "writing the keeper's badge is not supported by the ambarella driver "
            "(the camera keeps no officer information)"
        )

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._transport.close()
