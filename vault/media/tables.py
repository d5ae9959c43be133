"""Writing a rebuilt MP4: the recognised samples in a new mdat, and a new moov with sample
tables made from them (one sample per chunk, 64-bit chunk offsets, composition offsets
from the H.264 picture order so B-frames show in the right order)."""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path

from vault.media.mp4 import TrackSetup, box, full_box

MATRIX = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
MOVIE_TIMESCALE = 1000
LANGUAGE_UND = 0x55C4


@dataclass(frozen=True)
class Sample:
    offset: int  # in the file it comes from (or, once written, in the new file)
    size: int
    key: bool  # a sync sample (IDR) for video; every AAC frame is one
    poc: int  # H.264 picture order count (presentation order); 0 for audio


def _run_length(values: list[int]) -> list[tuple[int, int]]:
    return [(len(list(group)), value) for value, group in groupby(values)]


def _stbl(setup: TrackSetup, samples: list[Sample], offsets: list[int], ctts: list[int]) -> bytes:
    stts = _run_length([setup.sample_delta] * len(samples))
    parts = [
        setup.stsd,
        full_box(
            "stts", 0, 0, struct.pack(">I", len(stts)), *(struct.pack(">II", n, d) for n, d in stts)
        ),
    ]
    if any(ctts):
        runs = _run_length(ctts)
        parts.append(
            full_box(
                "ctts",
                0,
                0,
                struct.pack(">I", len(runs)),
                *(struct.pack(">II", n, d) for n, d in runs),
            )
        )
    keys = [index + 1 for index, s in enumerate(samples) if s.key]
    if setup.handler == "vide" and len(keys) < len(samples):
        parts.append(full_box("stss", 0, 0, struct.pack(f">I{len(keys)}I", len(keys), *keys)))
    parts += [
        full_box("stsc", 0, 0, struct.pack(">IIII", 1, 1, 1, 1)),
        full_box(
            "stsz",
            0,
            0,
            struct.pack(f">II{len(samples)}I", 0, len(samples), *(s.size for s in samples)),
        ),
        full_box("co64", 0, 0, struct.pack(f">I{len(offsets)}Q", len(offsets), *offsets)),
    ]
    return box("stbl", *parts)


def composition_offsets(samples: list[Sample]) -> tuple[list[int], int]:
    """Per sample (presentation slot - decoding slot + shift), and the shift, in samples:
    presentation order is the POC order within each run of frames between key frames."""
    slots = [0] * len(samples)
    start = 0
    for index in range(1, len(samples) + 1):
        if index == len(samples) or samples[index].key:
            order = sorted(range(start, index), key=lambda i: samples[i].poc)
            for rank, decoded in enumerate(order):
                slots[decoded] = start + rank
            start = index
    shift = max((i - slot for i, slot in enumerate(slots)), default=0)
    return [slot - i + shift for i, slot in enumerate(slots)], shift


def _trak(setup: TrackSetup, track_id: int, samples: list[Sample], offsets: list[int]) -> bytes:
    media_duration = len(samples) * setup.sample_delta
    movie_duration = media_duration * MOVIE_TIMESCALE // max(1, setup.timescale)
    ctts, shift = [0] * len(samples), 0
    if setup.handler == "vide":
        slots, shift = composition_offsets(samples)
        ctts = [slot * setup.sample_delta for slot in slots]
    video = setup.handler == "vide"
    tkhd = full_box(
        "tkhd",
        0,
        3,
        struct.pack(">IIII", 0, 0, track_id, 0),
        struct.pack(">I8xhhH2x", movie_duration, 0, 0, 0 if video else 0x0100),
        MATRIX,
        struct.pack(">II", setup.width << 16, setup.height << 16),
    )
    edts = b""
    if shift:
        elst = struct.pack(">IIiI", 1, movie_duration, shift * setup.sample_delta, 0x10000)
        edts = box("edts", full_box("elst", 0, 0, elst))
    mdhd = full_box(
        "mdhd", 0, 0, struct.pack(">IIIIHH", 0, 0, setup.timescale, media_duration, LANGUAGE_UND, 0)
    )
    name = b"VideoHandler\x00" if video else b"SoundHandler\x00"
    hdlr = full_box("hdlr", 0, 0, struct.pack(">I4s12x", 0, setup.handler.encode()), name)
    header = full_box("vmhd", 0, 1, bytes(8)) if video else full_box("smhd", 0, 0, bytes(4))
    dinf = box("dinf", full_box("dref", 0, 0, struct.pack(">I", 1), full_box("url ", 0, 1)))
    minf = box("minf", header, dinf, _stbl(setup, samples, offsets, ctts))
    return box("trak", tkhd, edts, box("mdia", mdhd, hdlr, minf))


def write_file(
    out: Path,
    source: mmap.mmap,
    ftyp: bytes,
    video: TrackSetup,
    video_samples: list[Sample],
    audio: TrackSetup | None,
    audio_samples: list[Sample],
) -> list[int]:
    """ftyp, mdat (the samples in their original interleaving), moov; returns the new offsets
    of the audio samples."""
    tracks = [(video, video_samples)] + ([(audio, audio_samples)] if audio else [])
    order = sorted(
        ((s.offset, t, i) for t, (_, samples) in enumerate(tracks) for i, s in enumerate(samples))
    )
    ftyp = ftyp or box("ftyp", b"isom", struct.pack(">I", 512), b"isomiso2avc1mp41")
    total = sum(s.size for _, samples in tracks for s in samples)
    mdat_header = struct.pack(">I4sQ", 1, b"mdat", 16 + total)
    offsets: list[list[int]] = [[0] * len(samples) for _, samples in tracks]
    with out.open("wb") as handle:
        handle.write(ftyp)
        handle.write(mdat_header)
        position = len(ftyp) + len(mdat_header)
        for offset, track, index in order:
            sample = tracks[track][1][index]
            handle.write(source[offset : offset + sample.size])
            offsets[track][index] = position
            position += sample.size
        duration = max(
            len(samples) * setup.sample_delta * MOVIE_TIMESCALE // max(1, setup.timescale)
            for setup, samples in tracks
        )
        mvhd = full_box(
            "mvhd",
            0,
            0,
            struct.pack(">IIII", 0, 0, MOVIE_TIMESCALE, duration),
            struct.pack(">IH10x", 0x10000, 0x0100),
            MATRIX,
            bytes(24),
            struct.pack(">I", len(tracks) + 1),
        )
        traks = [
            _trak(setup, number + 1, samples, offsets[number])
            for number, (setup, samples) in enumerate(tracks)
        ]
        handle.write(box("moov", mvhd, *traks))
    return offsets[1] if audio else []
