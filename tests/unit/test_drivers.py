"""Camera control drivers: the exact bytes on the wire, and failures that name their cause.

The Ambarella protocol is played against a scripted transport that fails on any byte it
did not expect (DV-2: clock setting, DV-4: profiles name their driver).
"""

from __future__ import annotations

import errno
import logging
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import usb.core

from vault.config import builtin_profiles_dir
from vault.dock.drivers import (
    DRIVERS,
    FEATURES,
    CameraDriver,
    DriverError,
    TransportTimeout,
    open_driver,
)
from vault.dock.drivers.fake import (
    Answer,
    Expect,
    ScriptedTransport,
    ScriptError,
    Silence,
    Step,
    Unplug,
)
from vault.dock.drivers.usb_bulk import UsbBulkTransport
from vault.errors import ProfileError
from vault.profiles import DRIVER_NAMES, load_profile

PASSWORD = "12345678"
VER = Expect(b"@Ver;8;00000000;#")
VER_OK = Answer(b"@Ver;OK;#")
GDV = Expect(b"@Gdv;8;12345678;#")
ATH = Expect(b"@ATH;8;12345678;#")
LOGIN: list[Step] = [VER, VER_OK]


def camera(*steps: Step, password: str = PASSWORD) -> tuple[CameraDriver, ScriptedTransport]:
    transport = ScriptedTransport([*LOGIN, *steps])
    driver = open_driver(
        "ambarella", password=password, timezone="Asia/Shanghai", transport=transport
    )
    return driver, transport


def failure(password: str, *steps: Step, call: str = "identify") -> str:
    """The message of the DriverError a call raises; it must never hold the password."""
    driver, transport = camera(*steps, password=password)
    with pytest.raises(DriverError) as caught:
        getattr(driver, call)()
    transport.finish()
    message = str(caught.value)
    assert password not in message
    assert "\n" not in message
    return message


# -- the bytes on the wire ----------------------------------------------------------------


def test_login_then_device_id_sends_exactly_the_documented_bytes() -> None:
    driver, transport = camera(GDV, Answer(b"@Gdv;7;3100001;#"))
    assert driver.identify() == "3100001"
    transport.finish()
    assert transport.written == [b"@Ver;8;00000000;#", b"@Gdv;8;12345678;#"]


@pytest.mark.parametrize(
    "replies",
    [
        [b"@Gdv;7;3100001;#"],
        [b"@Gdv;7;3100001#"],
        [b"@Gdv;3100001;#"],
        [b"\x00\x00@Gdv;OK;3100001;#\r\n\x00\x00"],
        [b"@Gdv;7;31", b"00001;#"],  # split across packets
        [b"\x00" * 70 + b"@Gdv;7;3100001;#"],  # longer than one read
    ],
)
def test_device_id_is_read_from_any_plausible_answer(replies: list[bytes]) -> None:
    driver, transport = camera(GDV, *[Answer(r) for r in replies])
    assert driver.identify() == "3100001"
    transport.finish()


def test_a_short_password_gives_its_own_length_field() -> None:
    driver, transport = camera(
        Expect(b"@Gdv;6;246810;#"), Answer(b"@Gdv;5;AB123;#"), password="246810"
    )
    assert driver.identify() == "AB123"
    transport.finish()


def test_mass_storage_proves_the_password_with_gdv_then_sends_ath() -> None:
    driver, transport = camera(GDV, Answer(b"@Gdv;7;3100001;#"), ATH, Answer(b"@ATH;OK;#"))
    driver.enter_mass_storage()
    transport.finish()
    assert transport.written[-1] == b"@ATH;8;12345678;#"


def test_mass_storage_after_identify_sends_ath_only() -> None:
    driver, transport = camera(GDV, Answer(b"@Gdv;7;3100001;#"), ATH, Answer(b"@ATH;OK;#"))
    driver.identify()
    driver.enter_mass_storage()
    transport.finish()


@pytest.mark.parametrize("after_ath", [Silence(), Unplug()])
def test_camera_leaving_the_bus_after_ath_is_the_switch_not_an_error(after_ath: Step) -> None:
    driver, transport = camera(GDV, Answer(b"@Gdv;7;3100001;#"), ATH, after_ath)
    driver.enter_mass_storage()
    transport.finish()


def test_clock_is_set_date_then_time_in_the_camera_zone() -> None:
    # DV-2: 16:30:15 UTC is 00:30:15 the next day in Asia/Shanghai.
    driver, transport = camera(
        Expect(b"@Sdt;8;20261124;#"),
        Answer(b"@Sdt;OK;#"),
        Expect(b"@Stm;6;00301500;#"),
        Answer(b"@Stm;OK;#"),
    )
    driver.sync_clock(datetime(2026, 11, 23, 16, 30, 15, tzinfo=UTC))
    transport.finish()


def test_clock_from_another_offset_is_converted_too() -> None:
    driver, transport = camera(
        Expect(b"@Sdt;8;20260101;#"),
        Answer(b"@Sdt;OK;#"),
        Expect(b"@Stm;6;07050900;#"),
        Answer(b"@Stm;OK;#"),
    )
    driver.sync_clock(
        datetime(2025, 12, 31, 18, 5, 9, 999999, tzinfo=timezone(timedelta(hours=-5)))
    )
    transport.finish()


def test_naive_time_is_refused_before_anything_is_sent() -> None:
    driver, transport = camera()
    with pytest.raises(ValueError, match="aware"):
        driver.sync_clock(datetime(2026, 11, 23, 16, 30, 15))
    transport.finish()


def test_info_holds_the_device_id_and_what_the_camera_said() -> None:
    driver, _ = camera(GDV, Answer(b"@Gdv;7;3100001;#"))
    info = driver.read_info()
    assert info.device_id == "3100001"
    assert (info.officer_id, info.officer_name, info.unit_id, info.unit_name) == (None,) * 4
    assert info.raw == {"@Ver": "@Ver;OK;#", "@Gdv": "@Gdv;7;3100001;#"}


def test_what_the_camera_cannot_do_is_declared_and_refused() -> None:
    driver, _ = camera()
    assert driver.supports == {"info", "sync_clock", "mass_storage"}
    assert driver.supports <= FEATURES
    with pytest.raises(DriverError, match="not supported by the ambarella driver"):
        driver.read_clock()


# -- failures ------------------------------------------------------------------------------


def test_wrong_password_is_named_without_showing_it() -> None:
    message = failure(PASSWORD, GDV, Answer(b"@Gdv;ERROR;#"))
    assert message.startswith("camera refused @Gdv: wrong admin password")
    message = failure(
        PASSWORD,
        GDV,
        Answer(b"@Gdv;7;3100001;#"),
        ATH,
        Answer(b"@ATH;NG;#"),
        call="enter_mass_storage",
    )
    assert message.startswith("camera refused @ATH: wrong admin password")


def test_silent_camera_is_reported_with_the_command_and_the_wait() -> None:
    assert failure(PASSWORD, GDV, Silence()) == "camera did not answer @Gdv within 2 s"
    assert failure(PASSWORD, Silence()) == "camera did not take @Gdv within 2 s"


@pytest.mark.parametrize(
    "reply",
    [b"\xff\xfe\x00garbage", b"", b"12345678", b"xx12345678@", b"@Gdv;;#", b"@Gdv;7;31 01;#"],
)
def test_garbage_answer_is_an_error_that_never_shows_the_password(reply: bytes) -> None:
    rest = [] if b"#" in reply else [Silence()]  # no end mark: the driver waits for more
    message = failure(PASSWORD, GDV, Answer(reply), *rest)
    assert "@Gdv" in message


def test_an_echo_of_the_command_is_not_taken_for_a_device_id() -> None:
    message = failure(PASSWORD, GDV, Answer(b"@Gdv;8;12345678;#"))
    assert message == "camera echoed @Gdv instead of giving its device id"


def test_an_answer_to_another_command_is_not_taken() -> None:
    message = failure(PASSWORD, GDV, Answer(b"@Ver;OK;#"))
    assert message == "camera answered @Gdv with a reply to @Ver"


def test_cut_off_device_id_is_refused() -> None:
    message = failure(PASSWORD, GDV, Answer(b"@Gdv;7;3100"), Silence())
    assert message == "camera's answer to @Gdv was cut off"


@pytest.mark.parametrize(
    "steps", [[Unplug()], [GDV, Unplug()], [GDV, Answer(b"@Gdv;7;31"), Unplug()]]
)
def test_camera_unplugged_mid_exchange_is_a_clear_error(steps: list[Step]) -> None:
    message = failure(PASSWORD, *steps)
    assert message.startswith("the camera left the USB bus")
    assert "@Gdv" in message


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (Silence(), "camera did not answer @Ver within 2 s"),
        (Answer(b"@Ver;ERROR;#"), "camera refused @Ver"),
    ],
)
def test_failed_login_closes_the_link(answer: Step, expected: str) -> None:
    transport = ScriptedTransport([VER, answer])
    with pytest.raises(DriverError) as caught:
        open_driver("ambarella", password=PASSWORD, timezone="Asia/Shanghai", transport=transport)
    assert str(caught.value) == expected
    assert transport.closed


def test_unknown_driver_name_lists_the_known_ones() -> None:
    with pytest.raises(DriverError, match=r"no camera driver named 'sony' \(known: ambarella\)"):
        open_driver("sony", password=PASSWORD, timezone="Asia/Shanghai")


def test_unknown_time_zone_is_refused() -> None:
    with pytest.raises(DriverError, match="unknown time zone 'Mars/Olympus'"):
        open_driver(
            "ambarella", password=PASSWORD, timezone="Mars/Olympus", transport=ScriptedTransport([])
        )


@pytest.mark.parametrize("password", ["", "1234;678", "12 45678", "密码12345"])
def test_a_password_that_cannot_be_framed_is_refused_without_showing_it(password: str) -> None:
    transport = ScriptedTransport([])
    with pytest.raises(DriverError, match="printable ASCII") as caught:
        open_driver("ambarella", password=password, timezone="Asia/Shanghai", transport=transport)
    assert not password or password not in str(caught.value)
    assert transport.closed


def test_closed_driver_closes_its_link_and_sends_nothing_more() -> None:
    driver, transport = camera()
    driver.close()
    assert transport.closed
    with pytest.raises(DriverError, match="closed"):
        driver.identify()
    driver.close()  # twice is harmless


def test_the_script_itself_fails_on_an_unexpected_byte() -> None:
    transport = ScriptedTransport([Expect(b"@Gdv;8;12345678;#")])
    with pytest.raises(ScriptError):
        transport.write(b"@Gdv;8;12345679;#", 2000)
    with pytest.raises(ScriptError, match="unplayed"):
        ScriptedTransport([Silence()]).finish()


# -- the password never leaks --------------------------------------------------------------


def test_password_appears_in_no_repr_raw_log_or_error(caplog: pytest.LogCaptureFixture) -> None:
    secret = "Kx93Lp27"
    caplog.set_level(logging.DEBUG)
    gdv, ath = Expect(f"@Gdv;8;{secret};#".encode()), Expect(f"@ATH;8;{secret};#".encode())
    texts: list[str] = []
    driver, transport = camera(
        gdv,
        Answer(f"@Gdv;OK;AB1234;{secret}#".encode()),  # a camera that echoes it back
        Expect(b"@Sdt;8;20261124;#"),
        Answer(f"@Sdt;OK;{secret};#".encode()),
        Expect(b"@Stm;6;00301500;#"),
        Answer(b"@Stm;OK;#"),
        ath,
        Answer(f"@ATH;OK;{secret}#".encode()),
        gdv,
        Answer(f"@Gdv;ERROR;{secret}#".encode()),
        gdv,
        Answer(f"junk {secret}".encode()),
        Silence(),
        gdv,
        Answer(f"@Gdv;8;{secret};#".encode()),
        password=secret,
    )
    info = driver.read_info()
    assert info.device_id == "AB1234"
    driver.sync_clock(datetime(2026, 11, 23, 16, 30, 15, tzinfo=UTC))
    driver.enter_mass_storage()
    for _ in range(3):
        with pytest.raises(DriverError) as caught:
            driver.identify()
        texts.append(str(caught.value))
    transport.finish()
    state = {k: v for k, v in vars(driver).items() if k != "_transport"}  # the fake keeps writes
    texts += [repr(driver), str(state), repr(info), *info.raw.values()]
    texts += [record.getMessage() for record in caplog.records]
    assert caplog.records, "the exchange is logged at DEBUG"
    assert any("***" in text for text in texts)  # the echoes were there, and were masked
    for text in texts:
        assert secret not in text


# -- the real USB transport ----------------------------------------------------------------


def test_usb_transport_without_such_a_device_is_a_driver_error() -> None:
    # Without libusb the same calls must fail just as cleanly.
    with pytest.raises(DriverError, match=r"no USB device at bus 1 address 0|no USB backend"):
        UsbBulkTransport.open(((0x4255, 0x0001),), bus=1, address=0)  # address 0 is never given
    with pytest.raises(DriverError, match=r"no camera with USB id fffe:fffd is |no USB backend"):
        UsbBulkTransport.open(((0xFFFE, 0xFFFD),))


def test_open_driver_without_a_camera_is_a_driver_error() -> None:
    try:
        present = usb.core.find(idVendor=0x4255, idProduct=0x0001) is not None
    except usb.core.NoBackendError:
        present = False
    if present:
        pytest.skip("a real 4255:0001 camera is connected")
    with pytest.raises(DriverError, match=r"no camera with USB id 4255:0001|no USB backend"):
        open_driver("ambarella", password=PASSWORD, timezone="Asia/Shanghai")


def test_usb_transport_without_libusb_is_a_driver_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_backend(*args: Any, **kwargs: Any) -> Any:
        raise usb.core.NoBackendError("No backend available")

    monkeypatch.setattr(usb.core, "find", no_backend)
    with pytest.raises(DriverError, match=r"no USB backend: libusb-1.0 is not installed"):
        open_driver("ambarella", password=PASSWORD, timezone="Asia/Shanghai")


class FakeUsbDevice:
    """Just enough of a pyusb device to check how its failures are translated."""

    idVendor, idProduct, bus, address = 0x1D6B, 0x0002, 1, 1

    def __init__(self, failure: Exception) -> None:
        self.failure = failure

    def write(self, endpoint: int, data: bytes, timeout: int) -> int:
        raise self.failure

    def read(self, endpoint: int, size: int, timeout: int) -> bytes:
        raise self.failure


@pytest.mark.parametrize(
    ("failure", "kind", "message"),
    [
        (
            usb.core.USBTimeoutError("Operation timed out", -7, errno.ETIMEDOUT),
            TransportTimeout,
            "within 2000 ms",
        ),
        (
            usb.core.USBError("No such device", -4, errno.ENODEV),
            DriverError,
            "the camera left the USB bus",
        ),
        (usb.core.USBError("Access denied", -3, errno.EACCES), DriverError, "permission denied"),
    ],
)
def test_usb_errors_become_driver_errors(
    failure: Exception, kind: type[DriverError], message: str
) -> None:
    transport = UsbBulkTransport(FakeUsbDevice(failure), interface=0, reattach=False)
    for operation in (
        lambda: transport.write(b"@Ver;8;00000000;#", 2000),
        lambda: transport.read(64, 2000),
    ):
        with pytest.raises(kind, match=message):
            operation()


def test_usb_device_of_another_kind_at_bus_and_address_is_left_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(usb.core, "find", lambda **kwargs: FakeUsbDevice(RuntimeError()))
    with pytest.raises(DriverError, match=r"is 1d6b:0002, not one this driver talks to"):
        open_driver("ambarella", password=PASSWORD, timezone="Asia/Shanghai", bus=1, address=1)


# -- profiles name their driver (DV-4) -----------------------------------------------------


def test_ambarella_profile_names_its_driver_and_usb_id() -> None:
    profile = load_profile(builtin_profiles_dir() / "ambarella-generic.toml")
    assert profile.driver == "ambarella" and profile.driver in DRIVERS
    assert [(u.vendor_id, u.product_id) for u in profile.match.usb] == [("4255", "0001")]
    assert (0x4255, 0x0001) in DRIVERS["ambarella"].usb_ids


def test_profiles_know_exactly_the_drivers_the_dock_has() -> None:
    assert set(DRIVER_NAMES) == set(DRIVERS)


def test_profile_naming_an_unknown_driver_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "odd.toml"
    path.write_text(
        'name = "odd"\ndescription = "x"\ndriver = "sony"\n[layout]\nclips = ["*"]\n'
        '[naming]\npattern = ".*"\nkinds = { MP4 = "video" }\n'
    )
    with pytest.raises(ProfileError, match=r"no camera driver named 'sony' \(known: ambarella\)"):
        load_profile(path)
