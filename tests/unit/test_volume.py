"""A camera volume is read without trusting it: hostile entries are reported, never followed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vault.errors import VolumeError
from vault.ingest.volume import Volume


def make(root: Path, rel: str, data: bytes = b"x") -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_symlinks_fifos_and_deep_folders_are_skipped_with_reasons(tmp_path: Path) -> None:
    outside = make(tmp_path, "secret/passwd", b"root:x:0:0")
    vol = tmp_path / "vol"
    make(vol, "DCIM/100ANDRO/ok.MP4")
    (vol / "DCIM/100ANDRO/link.MP4").symlink_to(outside)
    (vol / "DCIM/escape").symlink_to(tmp_path / "secret", target_is_directory=True)
    os.mkfifo(vol / "DCIM/100ANDRO/pipe.MP4")
    make(vol, "a/b/c/d/e.MP4")
    with Volume.open(vol, max_depth=3) as volume:
        assert [f.rel for f in volume.files] == ["DCIM/100ANDRO/ok.MP4"]
        reasons = {s.rel: s.reason for s in volume.skipped}
    assert reasons["DCIM/100ANDRO/link.MP4"] == "symbolic link (never followed)"
    assert reasons["DCIM/escape"] == "symbolic link (never followed)"
    assert reasons["DCIM/100ANDRO/pipe.MP4"].startswith("not a regular file")
    assert reasons["a/b/c/d"].startswith("folder nested deeper")


def test_file_swapped_for_a_symlink_after_the_scan_is_not_opened(tmp_path: Path) -> None:
    outside = make(tmp_path, "secret", b"not yours")
    vol = tmp_path / "vol"
    target = make(vol, "DCIM/100ANDRO/clip.MP4")
    with Volume.open(vol, max_depth=5) as volume:
        item = volume.files[0]
        target.unlink()
        target.symlink_to(outside)
        with pytest.raises(VolumeError, match="cannot open"):
            volume.open_file(item)


def test_names_that_are_not_utf8_are_kept_and_shown_escaped(tmp_path: Path) -> None:
    vol = tmp_path / "vol"
    (vol / "DCIM").mkdir(parents=True)
    raw = os.path.join(os.fsencode(vol / "DCIM"), b"clip\xff\n.MP4")
    with open(raw, "wb") as handle:
        handle.write(b"data")
    with Volume.open(vol, max_depth=5) as volume:
        (item,) = volume.files
        assert item.rel == "DCIM/clip\\xff\n.MP4"
        fd, _ = volume.open_file(item)
        assert os.read(fd, 10) == b"data"
        os.close(fd)


def test_erase_refuses_a_file_that_changed_since_it_was_read(tmp_path: Path) -> None:
    vol = tmp_path / "vol"
    path = make(vol, "DCIM/100ANDRO/clip.MP4", b"first")
    with Volume.open(vol, max_depth=5) as volume:
        item = volume.files[0]
        fd, st = volume.open_file(item)
        os.close(fd)
        path.unlink()
        make(vol, "DCIM/100ANDRO/clip.MP4", b"second, other bytes")
        with pytest.raises(VolumeError, match="changed on the camera"):
            volume.unlink(item, st)
    assert path.read_bytes() == b"second, other bytes"


def test_missing_volume_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(VolumeError, match="does not exist"):
        Volume.open(tmp_path / "nowhere", max_depth=5)
    make(tmp_path, "file")
    with pytest.raises(VolumeError, match="not a directory"):
        Volume.open(tmp_path / "file", max_depth=5)
