"""Salvage of an MP4 whose index (moov) never got written, e.g. a camera whose battery died
mid-recording (IN-5): the untrunc technique, in Python.

A healthy clip of the same camera gives the codec set-up (avcC with SPS/PPS, the AAC esds,
time scales, frame duration). The damaged file's raw mdat is then walked: H.264 samples are
runs of length-prefixed NAL units and are recognised by their headers and slice headers;
whatever lies between two video samples is taken as AAC frames. A new file is written with
the recognised samples and a new moov. AAC frames carry no length of their own, so each
run between two video samples is first written as one sample; ffprobe (which decodes every
frame of such a run) then says where each frame starts, and the sample tables are rebuilt
frame by frame. Only a copy is ever written: the original stays as it was sealed (IN-3).

The worker runs the rebuild in a process of its own (`python -m vault.media.salvage`,
`rebuild_isolated`) through the tool runner, like ffmpeg: under the job's time limit
(media.timeout_s), at lowered priority, and killed at once when the worker is stopped
(issue 16). The parent seals and records what it made.
"""

from __future__ import annotations

import argparse
import itertools
import json
import mmap
import struct
import sys
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import BinaryIO

from vault.media.mp4 import Mp4Error, boxes, read_moov, track_setups
from vault.media.runner import MediaError, run_tool
from vault.media.scan import Scanner
from vault.media.tables import Sample, write_file

SCAN_TIMEOUT_S = 600.0
REFUSED = 3  # the child's exit status for a file it cannot salvage (the reason on stderr)


@dataclass(frozen=True)
class Result:
    seconds: float
    video_frames: int
    audio_frames: int
    bytes_used: int
    bytes_skipped: int


def looks_like_mp4(path: Path) -> bool:
    with path.open("rb") as handle:
        head = handle.read(12)
    return len(head) == 12 and head[4:8] in (b"ftyp", b"mdat", b"wide", b"free", b"moov")


def find_mdat(handle: BinaryIO, size: int) -> tuple[int, int, bytes]:
    """(start, end, ftyp box) of the media data; an unfinished mdat runs to the file's end."""
    ftyp = b""
    for top in boxes(handle, 0, size, lenient=True):
        if top.type == "ftyp" and top.size <= 4096:
            handle.seek(top.start)
            ftyp = handle.read(top.size)
        if top.type == "mdat":
            return top.payload, min(top.end, size) if top.size > top.header else size, ftyp
    raise MediaError("no media data (mdat) in the damaged file: nothing to salvage")


def _frames_per_run(
    path: Path, offsets: list[int], timeout_s: float = SCAN_TIMEOUT_S, own_group: bool = True
) -> list[list[int]]:
    """ffprobe decodes every AAC frame of a multi-frame sample and, for each frame, reports
    the bytes left in the packet from it on: that shows where each frame starts."""
    args = [
        "ffprobe",
        "-v",
        "error",
        "-select_streams",
        "a:0",
        "-show_entries",
        "frame=pkt_pos,pkt_size",
        "-of",
        "json",
        str(path),
    ]
    result = run_tool(args, timeout_s=timeout_s, own_group=own_group)
    try:  # decoding errors in some runs still leave the others' frames listed
        frames = json.loads(result.stdout or b"{}").get("frames", [])
    except json.JSONDecodeError:
        frames = []
    by_pos: dict[int, list[int]] = {}
    for frame in frames:
        if str(frame.get("pkt_pos", "")).isdigit() and str(frame.get("pkt_size", "")).isdigit():
            by_pos.setdefault(int(frame["pkt_pos"]), []).append(int(frame["pkt_size"]))
    return [by_pos.get(offset, []) for offset in offsets]


def _split(runs: list[Sample], sizes: list[list[int]]) -> list[Sample]:
    """Runs cut into frames where ffprobe's sizes add up; runs it could not read are dropped."""
    frames: list[Sample] = []
    for run, left in zip(runs, sizes, strict=True):
        # For each frame ffprobe gives the bytes left in the packet from that frame on.
        if not left or left[0] != run.size or left != sorted(left, reverse=True):
            continue
        position = run.offset
        for size in [a - b for a, b in itertools.pairwise(left)] + [left[-1]]:
            frames.append(Sample(position, size, True, 0))
            position += size
    return frames


def rebuild(
    damaged: Path,
    reference: Path,
    out: Path,
    *,
    timeout_s: float = SCAN_TIMEOUT_S,
    own_group: bool = True,
) -> Result:
    """Write `out`: the damaged clip's recognisable samples under a new index. timeout_s
    and own_group are for the ffprobe it runs (see run_tool)."""
    with reference.open("rb") as handle:
        try:
            setups = track_setups(read_moov(handle, reference.stat().st_size))
        except (Mp4Error, struct.error) as exc:
            raise MediaError(f"the reference clip cannot be read: {exc}") from exc
    video, audio = setups.get("vide"), setups.get("soun")
    if video is None or video.codec not in ("avc1", "avc3") or not video.sps:
        raise MediaError("the reference clip has no H.264 video: salvage needs one")
    if audio is not None and audio.codec != "mp4a":
        audio = None  # only AAC audio can be recovered
    with damaged.open("rb") as handle:
        start, end, ftyp = find_mdat(handle, damaged.stat().st_size)
        if end - start < 16:
            raise MediaError("the damaged file holds no media data: nothing to salvage")
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            try:
                scanner = Scanner(data, start, end, video)
                scanner.scan(with_audio=audio is not None)
            except Mp4Error as exc:
                raise MediaError(f"salvage could not read the H.264 set-up: {exc}") from exc
            if not scanner.video:
                raise MediaError("no decodable video found in the damaged file")
            # Pass 1: each audio run as one sample; ffprobe then finds the frames in the runs.
            frames: list[Sample] = []
            if audio is not None and scanner.audio:
                moved = write_file(out, data, ftyp, video, scanner.video, audio, scanner.audio)
                frames = _split(scanner.audio, _frames_per_run(out, moved, timeout_s, own_group))
                if frames and frames[-1].offset + frames[-1].size >= end:
                    frames.pop()  # cut off where the recording stopped: not a whole frame
            write_file(out, data, ftyp, video, scanner.video, audio if frames else None, frames)
    used = sum(s.size for s in scanner.video) + sum(s.size for s in frames)
    seconds = len(scanner.video) * video.sample_delta / video.timescale
    return Result(
        seconds=round(seconds, 3),
        video_frames=len(scanner.video),
        audio_frames=len(frames),
        bytes_used=used,
        bytes_skipped=end - start - used,
    )


def rebuild_isolated(
    damaged: Path,
    reference: Path,
    out: Path,
    *,
    timeout_s: float,
    nice: int = 0,
    stop: threading.Event | None = None,
) -> Result:
    """rebuild() in a process of its own, killed past timeout_s (MediaTimeout) or once stop
    is set (MediaStopped); its refusal comes back as a MediaError with its one-line reason."""
    args = [sys.executable, "-m", "vault.media.salvage", str(damaged), str(reference), str(out)]
    result = run_tool(
        [*args, "--timeout", f"{timeout_s:g}"],
        timeout_s=timeout_s,
        nice=nice,
        stop=stop,
        name="salvage",
    )
    if result.returncode == REFUSED:
        last = next((line for line in reversed(result.stderr_tail) if line.strip()), "")
        raise MediaError(last.strip() or "salvage refused the file")
    if result.returncode != 0:
        raise MediaError(result.reason("salvage"))
    try:
        return Result(**json.loads(result.stdout))
    except (json.JSONDecodeError, TypeError) as exc:
        raise MediaError(f"salvage gave no result: {exc}") from exc


def main(argv: list[str] | None = None) -> int:
    """python -m vault.media.salvage DAMAGED REFERENCE OUT [--timeout S]: the Result as JSON
    on stdout; a file that cannot be salvaged: its reason on stderr, exit REFUSED."""
    parser = argparse.ArgumentParser(prog="python -m vault.media.salvage")
    parser.add_argument("damaged", type=Path)
    parser.add_argument("reference", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--timeout", type=float, default=SCAN_TIMEOUT_S)
    args = parser.parse_args(argv)
    try:
        # The ffprobe it runs stays in this process's group: a kill of the salvage takes it.
        result = rebuild(
            args.damaged, args.reference, args.out, timeout_s=args.timeout, own_group=False
        )
    except MediaError as exc:
        print(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, file=sys.stderr)
        return REFUSED
    print(json.dumps(asdict(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
