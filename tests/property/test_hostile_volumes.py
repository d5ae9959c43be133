"""Hostile camera volumes (issue 16, part 6): Hypothesis builds cameras byte by byte, with
names that display alike or look like Rich markup, control characters and bytes that are
not UTF-8, dates no calendar has, DEVICE.TXT contents no column holds, symbolic links,
pipes, empty files and trees of any shape, and ingests them (most through the domain
function, for speed; some through the real `evault ingest`). Whatever the camera holds:

- nothing raises (no traceback); the CLI exits 0, or 1 when a clip was not sealed;
- every readable clip (a regular, non-empty file in a clip folder whose name the records
  can hold) is sealed, under a display path of its own;
- nothing is erased that was not sealed, verified and unchanged: what is gone from the
  camera is exactly what the report says was erased, each with a verified sealed copy of
  the very bytes it held.

One vault per test serves all of its examples (so later examples also meet bytes already
sealed); every example is a fresh camera.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import resource
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import run_evault
from tests.hostile_volumes import CLIPS, DEVICE_TXT, build_camera, clip_name, write
from vault.context import Vault
from vault.ingest.pipeline import ingest_volume
from vault.ingest.volume import display_name

CLIP_FOLDERS = (b"DCIM/100ANDRO", b"DCIM/101ANDRO")  # zfy-ref's clip folders
NAME_LIMIT, PATH_LIMIT = 255, 1024  # Evidence.file_name, Sighting.path

# Pieces of names that have crashed or fooled ingest and listings.
FRAGMENTS = st.sampled_from(
    [
        b"[bold]",
        b"[/bold]",
        b"[link=http:x]",
        b"[",
        b"]",
        b"\\",
        b"\\xff",
        b"\xff",
        b"\xc3",
        b"\x1b[31m",
        b"\n",
        b"\t",
        b"\r",
        b" ",
        "\u00e9".encode(),
        "e\u0301".encode(),
        "\u202e".encode(),
        "\u200b".encode(),
        "\u00a0".encode(),
        "执法记录".encode(),
        b".MP4",
        b".mp4",
        b"IMP",
        b"_",
        b"0",
    ]
)


def _ok_name(raw: bytes) -> bool:
    return bool(raw) and b"/" not in raw and b"\x00" not in raw and raw not in (b".", b"..")


names = st.one_of(
    st.lists(FRAGMENTS, min_size=1, max_size=6).map(b"".join),
    st.binary(min_size=1, max_size=24),
    st.lists(FRAGMENTS, min_size=1, max_size=3).map(lambda f: b"".join(f) + b"\xff" * 200),
).filter(_ok_name)

# Clip names of the reference camera with any 14 digits as the time (year 0000, month 13,
# 9999-12-31 ...), and any serial: the kind of name a broken camera writes.
EDGE_TIMES = st.sampled_from(
    [
        "00000101000000",
        "00010101000000",
        "99991231235959",
        "20261323000000",
        "20260230000000",
        "19000101000000",
        "29991231235959",
        "20261123150000",
    ]
)
zfy_names = st.builds(
    lambda n, t, imp: clip_name(n, time=t)[:-4] + (b"IMP" if imp else b"") + b".MP4",
    st.integers(0, 9999),
    st.one_of(EDGE_TIMES, st.text("0123456789", min_size=14, max_size=14)),
    st.booleans(),
)
# Two names a screen shows alike: bytes that are not UTF-8 and their escaped spelling, NFC
# and NFD, a trailing space, a control character.
look_alikes = st.builds(
    lambda stem, pair: (stem + pair[0], stem + pair[1]),
    st.sampled_from([b"clip", b"[bold]x", b""]),
    st.sampled_from(
        [
            (b"\xff.MP4", b"\\xff.MP4"),
            ("\u00e9.MP4".encode(), "e\u0301.MP4".encode()),
            (b".MP4", b".MP4 "),
            (b".MP4", b"\x1b.MP4"),
            (b"\\u00e9.MP4", "\u00e9.MP4".encode()),
        ]
    ),
)

# DEVICE.TXT values: numbers past 64 bits, long identifiers, NUL, markup, dates Python
# cannot hold, bytes that are not UTF-8.
hostile_values = st.one_of(
    st.sampled_from(
        [
            b"99999999999999999999999",
            b"-1",
            b"9223372036854775808",
            b"D" * 300,
            b"Z\x00FY",
            b"[/]",
            b"[bold]x",
            b"\xff\xfe",
            b"0000-01-01 00:00:00",
            b"0001-01-01 00:00:00",
            b"9999-12-31 23:59:59",
            b"2026-13-01 00:00:00",
            b"99999-01-01 00:00:00",
            "一大队".encode() * 100,
            b"",
        ]
    ),
    st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")),
)
KEYS = (
    b"device_id",
    b"officer_id",
    b"model",
    b"vendor",
    b"firmware",
    b"unit",
    b"device_time",
    b"battery_percent",
    b"free_bytes",
)
hostile_txts = st.dictionaries(st.sampled_from(KEYS), hostile_values, min_size=1, max_size=9).map(
    lambda d: b"".join(k + b"=" + v + b"\n" for k, v in d.items())
)
device_txts = st.one_of(
    st.just(DEVICE_TXT), hostile_txts, hostile_txts, hostile_txts, st.binary(max_size=200)
)


@dataclass
class Camera:
    device_txt: bytes
    files: dict[bytes, bytes] = field(default_factory=dict)  # relative path: contents
    links: list[bytes] = field(default_factory=list)
    pipes: list[bytes] = field(default_factory=list)


@st.composite
def cameras(draw: st.DrawFn) -> Camera:
    camera = Camera(draw(device_txts))
    folder_names = st.one_of(names.filter(lambda n: len(n) < 60), st.sampled_from([b"100ANDRO"]))
    folders = [
        *CLIP_FOLDERS,
        b"DCIM/SEGTEMP",
        b"DCIM/LOGS",
        b"DCIM/" + draw(folder_names),
        b"/".join(draw(st.lists(folder_names, min_size=1, max_size=14))),
    ]
    for _ in range(draw(st.integers(0, 12))):
        folder = draw(st.sampled_from(folders))
        name = draw(st.one_of(zfy_names, names))
        size = draw(st.sampled_from([0, 1, 7, 300, 70_000]))
        data = draw(st.binary(min_size=size, max_size=size)) if size < 100 else os.urandom(size)
        camera.files[folder + b"/" + name] = data
    for first, second in draw(st.lists(look_alikes, max_size=2)):
        camera.files[CLIPS + b"/" + first] = b"one " + first
        camera.files[CLIPS + b"/" + second] = b"other " + second
    for _ in range(draw(st.integers(0, 2))):
        folder = draw(st.sampled_from(folders))
        (camera.links if draw(st.booleans()) else camera.pipes).append(
            folder + b"/" + draw(zfy_names)
        )
    return camera


def build(camera: Camera, root: Path) -> Path:
    build_camera(root, {}, camera.device_txt)
    for rel, data in camera.files.items():
        # A file where a folder is, or the reverse: the camera has one of them.
        with contextlib.suppress(IsADirectoryError, NotADirectoryError, FileExistsError):
            write(root, rel, data)
    for rel in camera.links:
        path = os.path.join(os.fsencode(root), rel)
        if not os.path.lexists(path) and os.path.isdir(os.path.dirname(path)):
            os.symlink(b"/etc/passwd", path)
    for rel in camera.pipes:
        path = os.path.join(os.fsencode(root), rel)
        if not os.path.lexists(path) and os.path.isdir(os.path.dirname(path)):
            os.mkfifo(path)
    return root


def on_disk(root: Path) -> dict[str, bytes]:
    """Every regular file under ROOT by its display path, with its bytes."""
    found = {}
    base = os.fsencode(root)
    for folder, _, files in os.walk(base):
        for name in files:
            path = os.path.join(folder, name)
            if os.path.isfile(path) and not os.path.islink(path):
                rel = os.path.relpath(path, base).split(b"/")
                shown = "/".join(display_name(os.fsdecode(part)) for part in rel)
                with open(path, "rb") as handle:
                    found[shown] = handle.read()
    return found


def readable_clips(files: dict[str, bytes]) -> dict[str, bytes]:
    """What must be sealed: non-empty files directly in a clip folder, names that fit."""
    clip_folders = {f.decode() for f in CLIP_FOLDERS}
    return {
        rel: data
        for rel, data in files.items()
        if rel.rpartition("/")[0].upper() in clip_folders
        and data
        and len(rel.rpartition("/")[2]) <= NAME_LIMIT
        and len(rel) <= PATH_LIMIT
    }


def check(report: dict, before: dict[str, bytes], after: dict[str, bytes]) -> None:
    clips = {c["path"]: c for c in report["clips"]}
    assert len(clips) == len(report["clips"])  # one display path per file
    for rel, data in readable_clips(before).items():
        assert rel in clips, (rel, report["skipped"])
        assert clips[rel]["sha256"] == hashlib.sha256(data).hexdigest()
        assert clips[rel]["status"] in ("sealed", "unclassified", "already_sealed", "duplicate")
    failed = [s for s in report["skipped"] if s["path"] not in clips]
    reasons = {s["path"]: s["reason"] for s in failed}
    for path in clips:
        assert path not in reasons
    gone = set(before) - set(after)
    assert gone == set(report["erased"])  # nothing else left the camera
    for rel in gone:
        clip = clips[rel]
        assert clip["verified"] is True and clip["kind"] != "unclassified"
        assert clip["sha256"] == hashlib.sha256(before[rel]).hexdigest()
    for rel, data in after.items():
        assert before[rel] == data  # nothing on the camera was changed


FUZZ = settings(
    max_examples=50,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def test_no_hostile_volume_raises_and_every_readable_clip_is_sealed(
    vault: Vault, tmp_path: Path
) -> None:
    @FUZZ
    @given(camera=cameras(), erase=st.booleans())
    def one(camera: Camera, erase: bool) -> None:
        root = build(camera, Path(tempfile.mkdtemp(dir=tmp_path)) / "cam")
        before = on_disk(root)
        report = ingest_volume(vault, root, profile_name="zfy-ref", erase=erase).to_json()
        check(report, before, on_disk(root))

    one()


def test_the_real_cli_on_hostile_volumes_exits_0_or_1_without_a_traceback(
    home: Path, tmp_path: Path
) -> None:
    @settings(FUZZ, max_examples=3)
    @given(camera=cameras())
    def one(camera: Camera) -> None:
        root = build(camera, Path(tempfile.mkdtemp(dir=tmp_path)) / "cam")
        before = on_disk(root)
        done = run_evault(home, "ingest", str(root), "--profile", "zfy-ref", "--erase", "--json")
        assert "Traceback" not in done.stderr, done.stderr
        report = json.loads(done.stdout)
        assert done.returncode == (0 if report["ok"] else 1), done.stderr
        check(report, before, on_disk(root))
        table = run_evault(home, "ingest", str(root), "--profile", "zfy-ref")
        assert "Traceback" not in table.stderr, table.stderr
        assert table.returncode in (0, 1)

    one()


def test_a_hostile_camera_of_a_thousand_folders_is_read_whole(vault: Vault, tmp_path: Path) -> None:
    """A thousand folders with hostile names, walked by a process that may open 256 files:
    every clip is sealed and erased (one descriptor per folder refused the camera whole)."""
    files = {}
    for number in range(1000):
        shown = b"[bold]%d\xff \x1b" % number
        files[b"DCIM/" + shown + b"/LOG.TXT"] = b"log %d" % number
    for number in range(10):
        files[CLIPS + b"/" + clip_name(number, time="00001399000000")] = b"clip %d" % number
    root = build_camera(tmp_path / "cam", files)
    before = on_disk(root)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(256, hard), hard))
    try:
        report = ingest_volume(vault, root, erase=True).to_json()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert report["ok"] and len(report["erased"]) == 10
    check(report, before, on_disk(root))
