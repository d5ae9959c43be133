"""Device profiles are data (DV-4): how names, folders and volumes are read."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from vault.config import builtin_profiles_dir
from vault.errors import ProfileError
from vault.profiles import choose_profile, load_profile, load_profiles

PROFILES = load_profiles([builtin_profiles_dir()])
ZFY, AMBA = PROFILES["zfy-ref"], PROFILES["ambarella-generic"]


def test_reference_names_give_device_officer_time_and_important_mark() -> None:
    info = ZFY.parse_name("3100001_010203_20261123091500_0001IMP.MP4")
    assert info is not None
    assert (info.device_id, info.officer_id, info.sequence) == ("3100001", "010203", "0001")
    assert info.camera_time == datetime(2026, 11, 23, 9, 15)
    assert info.important and info.kind == "video"
    photo = ZFY.parse_name("3100001_010203_20261123091500_0002.jpg")
    assert photo is not None and photo.kind == "photo" and not photo.important


@pytest.mark.parametrize(
    "name",
    [
        "notes.txt",
        "3100001_010203_2026112309150_0001.MP4",
        "3100001_010203_20261323091500_0001.MP4x",
    ],
)
def test_names_that_are_no_clip_are_not_parsed(name: str) -> None:
    assert ZFY.parse_name(name) is None


def test_impossible_date_in_a_name_keeps_the_clip_without_a_time() -> None:
    info = ZFY.parse_name("3100001_010203_20261399091500_0001.MP4")
    assert info is not None and info.camera_time is None


def test_folders_decide_clip_ignored_or_outside() -> None:
    assert ZFY.classify("DCIM/100ANDRO/a.MP4").role == "clip"
    assert ZFY.classify("dcim/101andro/a.MP4").important  # FAT is case-insensitive
    assert ZFY.classify("DCIM/SEGTEMP/SEG0001.TMP").role == "ignored"
    assert ZFY.classify("DCIM/LOGS/x/y.txt").reason == "device log (not evidence)"
    assert ZFY.classify("DCIM/100ANDRO/sub/a.MP4").role == "outside"
    assert ZFY.classify("MISC/a.MP4").role == "outside"


def test_ambarella_takes_a_time_from_the_name_when_there_is_one() -> None:
    dated = AMBA.parse_name("2026_1123_091500_001.MP4")
    assert dated is not None and dated.camera_time == datetime(2026, 11, 23, 9, 15)
    undated = AMBA.parse_name("MOV0001.mp4")
    assert undated is not None and undated.camera_time is None
    assert AMBA.naming.time_fallback == "mtime"
    assert AMBA.classify("deep/er/clip.MP4").role == "clip"


def test_volume_is_recognised_by_marker_file_or_label() -> None:
    assert choose_profile(PROFILES, {"DEVICE.TXT", "DCIM"}, None, None).name == "zfy-ref"
    assert choose_profile(PROFILES, {"DCIM"}, "AB12345", None).name == "ambarella-generic"


def test_unknown_camera_is_reported_clearly() -> None:
    with pytest.raises(ProfileError, match=r"unknown camera.*nothing on it was touched"):
        choose_profile(PROFILES, {"README"}, None, None)
    with pytest.raises(ProfileError, match="no device profile named 'nope'"):
        choose_profile(PROFILES, set(), None, "nope")


def test_malformed_profile_names_its_file_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        'name = "bad"\ndescription = "x"\n[layout]\nclips = []\n'
        '[naming]\npattern = "("\nkinds = {}\n'
    )
    with pytest.raises(ProfileError, match=r"bad.toml: layout.clips"):
        load_profile(bad)


def test_profile_dirs_listed_first_override_built_in(tmp_path: Path) -> None:
    text = (builtin_profiles_dir() / "zfy-ref.toml").read_text()
    (tmp_path / "zfy-ref.toml").write_text(text.replace("Evidence Vault reference", "Local"))
    profiles = load_profiles([tmp_path, builtin_profiles_dir()])
    assert profiles["zfy-ref"].description.startswith("Local")
