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


@dataclass(frozen=True)
class Seek:
    """One input: seeked to `at` (exact: to the first frame at or after it; else to the key
    frame at or before it); with targets, decoded on to the first frame at or after each."""

    at: float
    exact: bool
    targets: tuple[float, ...] = ()


def _select(targets: tuple[float, ...], seeked: float) -> str:
    """The select filter's expression: a frame at or after a target, the first since the
    previous selected frame (times in the filter run from the seek point)."""
    terms = [
        f"gte(t,{t - seeked:.6f})*(isnan(prev_selected_t)+lt(prev_selected_t,{t - seeked:.6f}))"
        for t in targets
    ]
    return f"select='gt({'+'.join(terms)},0)'"


def grab_args(
    source: Path, seeks: list[Seek], folder: Path, scale: str
) -> tuple[list[str], list[tuple[Path, Path]]]:
    """One ffmpeg command: for each seek one input and its PNGs (frameNNN-MMM.png), with a
    text file where each frame's time is printed. Returns the command and the (first PNG's
    pattern, times file) pairs."""
    inputs: list[str] = []
    outputs: list[str] = []
    made: list[tuple[Path, Path]] = []
    for index, seek in enumerate(seeks):
        pattern, times = folder / f"frame{index:03d}-%03d.png", folder / f"frame{index:03d}.txt"
        # No seek at 0: a still image seeked to 0 yields no frame at all.
        start = ["-ss", f"{seek.at:.6f}"] if seek.at > 0 else []
        inputs += ["-threads", "1", *([] if seek.exact else ["-noaccurate_seek"]), *start]
        inputs += ["-i", f"file:{source}"]
        picked = [_select(seek.targets, max(seek.at, 0.0))] if seek.targets else []
        graph = ",".join(
            [
                *picked,
                "metadata=mode=add:key=grab:value=1",
                f"metadata=mode=print:file={filter_value(str(times))}",
                f"scale={scale}",
            ]
        )
        # passthrough: each frame filtered is written (a key frame before the seek point has
        # a negative time, which the default frame rate logic would drop).
        outputs += ["-map", f"{index}:v:0", "-vf", graph, "-fps_mode", "passthrough"]
        outputs += ["-frames:v", str(max(1, len(seek.targets)))]
        outputs += ["-f", "image2", "-c:v", "png", f"file:{pattern}"]
        made.append((pattern, times))
    return ["ffmpeg", *GLOBAL_ARGS, "-y", *inputs, *outputs], made


def _shown_at(times: Path, seeked: float) -> list[float]:
    """Each written frame's time: ffmpeg's print (relative to the seek point) + the seek."""
    if not times.exists():
        return []
    found = []
    for line in times.read_text(encoding="ascii", errors="replace").splitlines():
        for part in line.split():
            if part.startswith("pts_time:"):
                try:
                    found.append(round(max(0.0, seeked) + float(part[len("pts_time:") :]), 3))
                except ValueError:
                    return found
    return found


def _run(
    source: Path, seeks: list[Seek], folder: Path, scale: str, settings: MediaSettings
) -> list[list[tuple[Path, float]]]:
    """For each seek the frames written, with their times."""
    found: list[list[tuple[Path, float]]] = []
    for start in range(0, len(seeks), BATCH):
        batch = seeks[start : start + BATCH]
        sub = folder / f"batch{start // BATCH}"
        sub.mkdir(parents=True, exist_ok=True)
        args, made = grab_args(source, batch, sub, scale)
        run_ffmpeg(args, settings, out=sub)
        for (pattern, times), seek in zip(made, batch, strict=True):
            shown = _shown_at(times, seek.at)
            pngs = [Path(str(pattern) % (n + 1)) for n in range(len(shown))]
            found.append([(p, t) for p, t in zip(pngs, shown, strict=True) if p.exists()])
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
    if none decodes. The wanted frames whose key frame came too early are taken in one
    decode per key frame: from it on, the first frame at or after each of their times."""
    folder.mkdir(parents=True, exist_ok=True)
    width = max(2, width // 2 * 2)
    scale = f"w={width}:h=-2" if enlarge else f"w='min({width},iw)':h=-2"
    keys = _run(source, [Seek(w.key_by, False) for w in wants], folder / "key", scale, settings)
    result: list[Grabbed | None] = []
    after_key: dict[float, list[int]] = {}  # key frame time -> wanted frames decoded from it
    alone: list[int] = []
    for index, (want, found) in enumerate(zip(wants, keys, strict=True)):
        if found and found[0][1] >= want.not_before - 1e-3:
            result.append(Grabbed(found[0][0], found[0][1], key=True))
            continue
        result.append(None)
        if found:
            after_key.setdefault(found[0][1], []).append(index)
        else:
            alone.append(index)
    # Just after the key frame (its time is rounded to the millisecond): the seek lands on it.
    seeks = [
        Seek(key + 0.0005 if key > 0 else 0.0, False, tuple(wants[i].exact for i in group))
        for key, group in after_key.items()
    ] + [Seek(wants[i].exact, True) for i in alone]
    groups = [*after_key.values(), *([i] for i in alone)]
    for group, frames in zip(groups, _run(source, seeks, folder / "exact", scale, settings),
                             strict=True):  # fmt: skip
        for index in group:
            at = wants[index].exact
            hit = next(((p, t) for p, t in frames if t >= at - 1e-3), None)
            if hit is not None:
                result[index] = Grabbed(hit[0], hit[1], key=False)
    grabbed = [g for g in result if g is not None]
    if not grabbed:
        raise MediaError("ffmpeg decoded no frame at the times wanted")
    return grabbed
