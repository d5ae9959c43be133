"""A camera volume is read without trusting it: hostile entries are reported, never followed."""

from __future__ import annotations

import os
import resource
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vault.errors import VolumeError
from vault.ingest.volume import Volume, display_name, name_bytes


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
        assert item.rel == "DCIM/clip\\xff\\x0a.MP4"  # a newline no longer splits a line
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


# Names that display alike on a screen: NFC and NFD, trailing and leading spaces, control
# characters, bytes that are not UTF-8 and their escaped look-alikes, bidi overrides.
LOOK_ALIKES = [
    "caf\u00e9.MP4".encode(),
    "cafe\u0301.MP4".encode(),
    b"clip.MP4",
    b"clip.MP4 ",
    b" clip.MP4",
    b"clip\x1b.MP4",
    b"clip\n.MP4",
    b"clip\xff.MP4",
    b"clip\\xff.MP4",
    b"clip\\\\xff.MP4",
    "clip\u202e4PM.MP4".encode(),
    "clip\u00a0.MP4".encode(),
    "clip\u200b.MP4".encode(),
]


def test_names_that_display_alike_have_unique_display_forms_and_keep_their_bytes(
    tmp_path: Path,
) -> None:
    vol = tmp_path / "vol"
    (vol / "DCIM").mkdir(parents=True)
    for number, raw in enumerate(LOOK_ALIKES):
        with open(os.path.join(os.fsencode(vol / "DCIM"), raw), "wb") as handle:
            handle.write(b"clip %d" % number)
    with Volume.open(vol, max_depth=5) as volume:
        shown = [f.rel for f in volume.files]
        assert len(set(shown)) == len(LOOK_ALIKES)
        for item in volume.files:
            assert item.rel.isprintable()  # no control character reaches a screen
            assert not item.rel.endswith(" ") and "/ " not in item.rel
            assert name_bytes(item.rel.rpartition("/")[2]) == os.fsencode(item.name)
            fd, _ = volume.open_file(item)
            os.close(fd)
    assert display_name("cafe\u0301.MP4") == "cafe\\u0301.MP4"
    assert display_name("caf\u00e9.MP4") == "caf\u00e9.MP4"  # plain names are shown as they are


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=1, max_size=40).filter(lambda b: b"/" not in b and b"\0" not in b))
def test_the_display_form_turns_back_into_the_exact_bytes(raw: bytes) -> None:
    shown = display_name(os.fsdecode(raw))
    assert name_bytes(shown) == raw
    assert shown.isprintable()


def test_a_thousand_folders_are_walked_with_a_bounded_number_of_descriptors(
    tmp_path: Path,
) -> None:
    """The scan keeps open only the folders of its path: a camera with more folders than
    the process may open descriptors is read whole (it was refused whole)."""
    vol = tmp_path / "vol"
    for number in range(1200):
        make(vol, f"DCIM/{number:04d}/clip.MP4", f"{number:04d}".encode())
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(256, hard), hard))
    try:
        with Volume.open(vol, max_depth=5) as volume:
            assert len(volume.files) == 1200 and volume.skipped == []
            for item in volume.files:
                fd, _ = volume.open_file(item)
                assert os.read(fd, 8) == item.dir_rel.rpartition("/")[2].encode()
                os.close(fd)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_folder_replaced_after_the_scan_is_not_read(tmp_path: Path) -> None:
    vol = tmp_path / "vol"
    make(vol, "DCIM/100ANDRO/clip.MP4", b"camera")
    with Volume.open(vol, max_depth=5) as volume:
        (item,) = volume.files
        (vol / "DCIM/100ANDRO").rename(vol / "moved")
        make(vol, "DCIM/100ANDRO/clip.MP4", b"planted")
        with pytest.raises(VolumeError, match="folder was replaced"):
            volume.open_file(item)


def _rewrite_keeping_size_and_mtime(path: Path, data: bytes) -> None:
    before = path.stat()
    assert len(data) == before.st_size
    with open(path, "r+b") as handle:
        handle.write(data)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def test_erase_refuses_a_file_rewritten_in_place_with_size_and_mtime_restored(
    tmp_path: Path,
) -> None:
    """IN-2: inode, size and mtime are all the same; only the change time tells."""
    vol = tmp_path / "vol"
    path = make(vol, "DCIM/100ANDRO/clip.MP4", b"first bytes")
    with Volume.open(vol, max_depth=5) as volume:
        if not volume.ctime_trusted:
            pytest.skip(f"{volume.fs_type}: the test's filesystem keeps no change time")
        (item,) = volume.files
        fd, seen = volume.open_file(item)
        os.close(fd)
        _rewrite_keeping_size_and_mtime(path, b"other bytes")
        now = path.stat()
        assert (now.st_ino, now.st_size, now.st_mtime_ns) == (
            seen.st_ino,
            seen.st_size,
            seen.st_mtime_ns,
        )
        with pytest.raises(VolumeError, match="changed on the camera"):
            volume.unlink(item, seen)
    assert path.read_bytes() == b"other bytes"


def test_where_the_filesystem_keeps_no_change_time_the_clip_is_hashed_again(
    tmp_path: Path,
) -> None:
    """FAT (and FUSE, and a filesystem not known): the bytes must still be the sealed ones."""
    import hashlib

    vol = tmp_path / "vol"
    changed = make(vol, "DCIM/100ANDRO/a.MP4", b"first bytes")
    kept = make(vol, "DCIM/100ANDRO/b.MP4", b"still these")
    with Volume.open(vol, max_depth=5) as volume:
        volume.fs_type = "vfat"
        assert not volume.ctime_trusted
        assert volume.needs_rehash(same_mount=True, read_only_when_read=False)
        assert not volume.needs_rehash(same_mount=False, read_only_when_read=True)
        first, second = volume.files
        stats = {}
        for item in volume.files:
            fd, stats[item.rel] = volume.open_file(item)
            os.close(fd)
        _rewrite_keeping_size_and_mtime(changed, b"other bytes")
        with pytest.raises(VolumeError, match="differ from the sealed copy"):
            volume.unlink(
                first, stats[first.rel], sha256=hashlib.sha256(b"first bytes").hexdigest()
            )
        with pytest.raises(VolumeError, match="cannot tell"):
            volume.unlink(second, stats[second.rel])  # no hash to compare: kept
        volume.unlink(second, stats[second.rel], sha256=hashlib.sha256(b"still these").hexdigest())
    assert changed.exists() and not kept.exists()
