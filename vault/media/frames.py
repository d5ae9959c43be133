"""Single frames for posters and contact sheets, found by seeking: never a decode of the whole
clip (issue 22). Each frame is one ffmpeg input seeked on the input side (`-ss` before `-i`):
the demuxer jumps to a key frame through the file's index and the decoder starts there.

A frame is first looked for as a key frame (`-noaccurate_seek`: the key frame at or before
`key_by`, decoded alone). Where that key frame lies before `not_before` (key frames further
apart than the wanted spacing, e.g. a short clip with one key frame), the frame is taken by
an exact seek instead: decoding from the key frame before `exact` up to the first frame at or
after it, at most one group of pictures. Either way one frame is written per wanted frame,
and its time is the one ffmpeg showed it at (the `metadata` filter prints it), not a guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vault.config import MediaSettings
from vault.media.runner import MediaError
from vault.media.transcode import GLOBAL_ARGS, run_ffmpeg

BATCH = 8  # inputs per ffmpeg run: each holds a decoder (about 20 MB at 1080p)


@dataclass(frozen=True)
class Want:
    key_by: float  # a key frame at or before this time (seconds from the clip's start) ...
    not_before: float  # ... and not before this one; else:
    exact: float  # the first frame at or after this time


@dataclass(frozen=True)
class Grabbed:
    path: Path  # a PNG
    at_s: float  # when the frame is shown, seconds from the clip's start
    key: bool  # found as a key frame (False: by an exact seek)


def filter_value(text: str) -> str:
    """text as a value inside a -vf filter graph (ffmpeg's two levels of escaping)."""
    inner = text.replace("\\", "\\\\").replace("'", "\\'").replace(":", "\\:")
    return "".join("\\" + c if c in "\\'[],;" else c for c in inner)


def grab_args(
    source: Path, seeks: list[tuple[float, bool]], folder: Path, scale: str
) -> tuple[list[str], list[tuple[Path, Path]]]:
    """One ffmpeg command: for each (time, exact) one input seeked there and one PNG out,
    with a text file where the frame's time is printed. Returns the command and the
    (png, times file) pairs."""
    inputs: list[str] = []
    outputs: list[str] = []
    made: list[tuple[Path, Path]] = []
    for index, (at, exact) in enumerate(seeks):
        png, times = folder / f"frame{index:03d}.png", folder / f"frame{index:03d}.txt"
        # No seek at 0: a still image seeked to 0 yields no frame at all.
        seek = ([] if exact else ["-noaccurate_seek"]) + (["-ss", f"{at:.6f}"] if at > 0 else [])
        inputs += ["-threads", "1", *seek, "-i", f"file:{source}"]
        graph = (
            "metadata=mode=add:key=grab:value=1,"
            f"metadata=mode=print:file={filter_value(str(times))},"
            f"scale={scale}"
        )
        # passthrough: the frame filtered first is the one written (a key frame before the
        # seek point has a negative time, which the default frame rate logic would drop).
        outputs += ["-map", f"{index}:v:0", "-vf", graph, "-fps_mode", "passthrough"]
        outputs += ["-frames:v", "1"]
        outputs += ["-f", "image2", "-c:v", "png", f"file:{png}"]
        made.append((png, times))
    return ["ffmpeg", *GLOBAL_ARGS, "-y", *inputs, *outputs], made


def _shown_at(times: Path, seeked: float) -> float | None:
    """The first frame's time in ffmpeg's print (relative to the seek point) + the seek."""
    if not times.exists():
        return None
    for line in times.read_text(encoding="ascii", errors="replace").splitlines():
        for part in line.split():
            if part.startswith("pts_time:"):
                try:
                    return round(max(0.0, seeked) + float(part.removeprefix("pts_time:")), 3)
                except ValueError:
                    return None
    return None


def _run(
    source: Path, seeks: list[tuple[float, bool]], folder: Path, scale: str, settings: MediaSettings
) -> list[tuple[Path, float] | None]:
    found: list[tuple[Path, float] | None] = []
    for start in range(0, len(seeks), BATCH):
        batch = seeks[start : start + BATCH]
        sub = folder / f"batch{start // BATCH}"
        sub.mkdir(parents=True, exist_ok=True)
        args, made = grab_args(source, batch, sub, scale)
        run_ffmpeg(args, settings, out=sub)
        for (png, times), (at, _) in zip(made, batch, strict=True):
            shown = _shown_at(times, at)
            found.append((png, shown) if png.exists() and shown is not None else None)
    return found


def grab(
    source: Path,
    wants: list[Want],
    folder: Path,
    *,
    width: int,
    settings: MediaSettings,
    enlarge: bool = False,
) -> list[Grabbed]:
    """One PNG per wanted frame, width wide (at most, unless enlarge), in order; MediaError
    if none decodes."""
    folder.mkdir(parents=True, exist_ok=True)
    width = max(2, width // 2 * 2)
    scale = f"w={width}:h=-2" if enlarge else f"w='min({width},iw)':h=-2"
    keys = _run(source, [(w.key_by, False) for w in wants], folder / "key", scale, settings)
    result: list[Grabbed | None] = []
    redo: list[int] = []
    for index, (want, found) in enumerate(zip(wants, keys, strict=True)):
        if found is not None and found[1] >= want.not_before - 1e-3:
            result.append(Grabbed(found[0], found[1], key=True))
        else:
            result.append(None)
            redo.append(index)
    if redo:
        again = [(wants[i].exact, True) for i in redo]
        exact = _run(source, again, folder / "exact", scale, settings)
        for index, found in zip(redo, exact, strict=True):
            if found is not None:
                result[index] = Grabbed(found[0], found[1], key=False)
    grabbed = [g for g in result if g is not None]
    if not grabbed:
        raise MediaError("ffmpeg decoded no frame at the times wanted")
    return grabbed
