"""Just enough ISO BMFF (MP4) to read a healthy clip's codec set-up and to write a new index
(moov) for a clip that lost its own: the box layer, the H.264 bits salvage needs, and the
sample tables. Reading never trusts a size field: every box is checked against its parent.
"""

from __future__ import annotations

import struct
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO


class Mp4Error(ValueError):
    """The bytes are not the MP4 structure they claim to be."""


@dataclass(frozen=True)
class Box:
    type: str
    start: int  # offset of the box header
    header: int  # 8 or 16 bytes
    size: int  # whole box; to the end of the file for size 0 (an unfinished mdat)

    @property
    def payload(self) -> int:
        return self.start + self.header

    @property
    def end(self) -> int:
        return self.start + self.size


def boxes(handle: BinaryIO, start: int, end: int, *, lenient: bool = False) -> Iterator[Box]:
    """The boxes between start and end. lenient: a box running past end (a truncated file)
    is cut at end instead of refused."""
    position = start
    while position + 8 <= end:
        handle.seek(position)
        head = handle.read(16)
        size, kind = struct.unpack(">I4s", head[:8])
        header = 8
        if size == 1 and len(head) == 16:
            size, header = struct.unpack(">Q", head[8:16])[0], 16
        elif size == 0:
            size = end - position
        if size < header or position + size > end:
            if not lenient:
                raise Mp4Error(f"box {kind!r} at {position} runs past its parent")
            size = end - position
        yield Box(kind.decode("latin-1"), position, header, size)
        position += size


def child(data: bytes, path: str) -> bytes:
    """Payload of the first box along a '/'-separated path inside data (a box payload)."""
    for name in path.split("/"):
        position, found = 0, None
        while position + 8 <= len(data):
            size, kind = struct.unpack(">I4s", data[position : position + 8])
            header = 8
            if size == 1:
                size, header = struct.unpack(">Q", data[position + 8 : position + 16])[0], 16
            if size < header or position + size > len(data):
                raise Mp4Error(f"box {kind!r} is cut short")
            if kind.decode("latin-1") == name:
                found = data[position + header : position + size]
                break
            position += size
        if found is None:
            raise Mp4Error(f"no {name!r} box")
        data = found
    return data


def children(data: bytes, name: str) -> list[bytes]:
    found, position = [], 0
    while position + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[position : position + 8])
        if size < 8 or position + size > len(data):
            raise Mp4Error(f"box {kind!r} is cut short")
        if kind.decode("latin-1") == name:
            found.append(data[position + 8 : position + size])
        position += size
    return found


def box(kind: str, *parts: bytes) -> bytes:
    payload = b"".join(parts)
    return struct.pack(">I4s", 8 + len(payload), kind.encode("latin-1")) + payload


def full_box(kind: str, version: int, flags: int, *parts: bytes) -> bytes:
    return box(kind, struct.pack(">I", version << 24 | flags), *parts)


@dataclass
class TrackSetup:
    """What a healthy clip says about one of its tracks."""

    handler: str  # vide | soun
    timescale: int
    sample_delta: int  # the usual duration of one sample
    stsd: bytes  # the sample description box, copied whole (codec parameters)
    codec: str  # avc1, mp4a, ...
    width: int = 0
    height: int = 0
    max_sample: int = 0
    nal_length_size: int = 4
    sps: list[bytes] = field(default_factory=list)
    pps: list[bytes] = field(default_factory=list)


def _mdhd_timescale(mdhd: bytes) -> int:
    return int(struct.unpack(">I", mdhd[20:24] if mdhd[0] == 1 else mdhd[12:16])[0])


def _usual_delta(stts: bytes) -> int:
    (count,) = struct.unpack(">I", stts[4:8])
    deltas: Counter[int] = Counter()
    for index in range(min(count, 10000)):
        samples, delta = struct.unpack(">II", stts[8 + 8 * index : 16 + 8 * index])
        deltas[delta] += samples
    return deltas.most_common(1)[0][0] if deltas else 0


def _max_sample(stsz: bytes) -> int:
    fixed, count = struct.unpack(">II", stsz[4:12])
    if fixed:
        return int(fixed)
    sizes = struct.unpack(f">{count}I", stsz[12 : 12 + 4 * count])
    return max(sizes, default=0)


def _avcc(stsd: bytes, setup: TrackSetup) -> None:
    entry = stsd[8:]  # after version/flags and entry count
    setup.width, setup.height = struct.unpack(">HH", entry[32:36])
    avcc = child(entry[86:], "avcC")  # 8 header + 78 visual sample entry fields
    setup.nal_length_size = (avcc[4] & 3) + 1
    position, count = 6, avcc[5] & 0x1F
    for group in (setup.sps, setup.pps):
        for _ in range(count):
            (length,) = struct.unpack(">H", avcc[position : position + 2])
            group.append(avcc[position + 2 : position + 2 + length])
            position += 2 + length
        if position < len(avcc):
            count, position = avcc[position], position + 1


def read_moov(handle: BinaryIO, size: int) -> bytes:
    for top in boxes(handle, 0, size):
        if top.type == "moov":
            handle.seek(top.payload)
            return handle.read(top.size - top.header)
    raise Mp4Error("the reference clip has no moov box either")


def track_setups(moov: bytes) -> dict[str, TrackSetup]:
    """The first video and the first sound track of a healthy clip, by handler."""
    found: dict[str, TrackSetup] = {}
    for trak in children(moov, "trak"):
        mdia = child(trak, "mdia")
        handler = child(mdia, "hdlr")[8:12].decode("latin-1")
        if handler not in ("vide", "soun") or handler in found:
            continue
        stbl = child(mdia, "minf/stbl")
        stsd_payload = child(stbl, "stsd")
        codec = stsd_payload[12:16].decode("latin-1")
        setup = TrackSetup(
            handler=handler,
            timescale=_mdhd_timescale(child(mdia, "mdhd")),
            sample_delta=_usual_delta(child(stbl, "stts")),
            stsd=box("stsd", stsd_payload),
            codec=codec,
            max_sample=_max_sample(child(stbl, "stsz")),
        )
        if codec in ("avc1", "avc3"):
            _avcc(stsd_payload, setup)
        found[handler] = setup
    return found
