"""Faces followed between detections: the detector sees every Nth frame, and a face must be
covered in every frame it is in. Detections of one face in successive detection frames are
matched (box overlap, or a centre close enough for a face that moved fast) into a track of
key rectangles; a face the detector missed for a frame or two stays on its track (the gap is
interpolated), and every track is held a little before its first and after its last key.

Pure Python: the detector (redact_detect) hands in (time, boxes) and gets tracks back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Box = tuple[float, float, float, float, float]  # x, y, w, h, score (the source's pixels)


@dataclass
class Track:
    keys: list[list[float]] = field(default_factory=list)  # [t, x, y, w, h]
    missed: int = 0  # detection frames in a row without a match
    best: float = 0.0  # the highest score seen


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Intersection over union of two x, y, w, h rectangles."""
    ax1, ay1, bx1, by1 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    w = max(0.0, min(ax1, bx1) - max(a[0], b[0]))
    h = max(0.0, min(ay1, by1) - max(a[1], b[1]))
    inter = w * h
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def _closeness(track: Track, box: Box, min_iou: float) -> float:
    """How well BOX continues TRACK: its overlap with where the track would be now, or, for
    a face that moved more than its overlap shows, a score from the centres' distance."""
    last = track.keys[-1]
    predicted = tuple(last[1:5])
    if len(track.keys) >= 2 and track.missed == 0:
        before = track.keys[-2]
        predicted = tuple(2 * a - b for a, b in zip(last[1:5], before[1:5], strict=True))
    overlap = max(iou(predicted, box[:4]), iou(tuple(last[1:5]), box[:4]))
    if overlap >= min_iou:
        return overlap
    cx, cy = last[1] + last[3] / 2, last[2] + last[4] / 2
    bx, by = box[0] + box[2] / 2, box[1] + box[3] / 2
    reach = 0.75 * max(last[3], last[4], box[2], box[3])
    distance = ((cx - bx) ** 2 + (cy - by) ** 2) ** 0.5
    similar = 0.5 <= (box[2] * box[3]) / max(1e-6, last[3] * last[4]) <= 2.0
    return min_iou * (1 - distance / reach) if distance < reach and similar else 0.0


def track(
    detections: list[tuple[float, list[Box]]], *, max_gap: int = 2, min_iou: float = 0.2
) -> list[list[list[float]]]:
    """Tracks (lists of [t, x, y, w, h] keys, in time order) from detections in time order.
    A track missed for more than MAX_GAP detection frames in a row ends."""
    live: list[Track] = []
    done: list[Track] = []
    for t, boxes in detections:
        pairs = sorted(
            (
                (score, ti, bi)
                for ti, tr in enumerate(live)
                for bi, box in enumerate(boxes)
                if (score := _closeness(tr, box, min_iou)) > 0
            ),
            reverse=True,
        )
        used_tracks: set[int] = set()
        used_boxes: set[int] = set()
        for _, ti, bi in pairs:
            if ti in used_tracks or bi in used_boxes:
                continue
            used_tracks.add(ti)
            used_boxes.add(bi)
            box = boxes[bi]
            live[ti].keys.append([t, *box[:4]])
            live[ti].missed = 0
            live[ti].best = max(live[ti].best, box[4])
        for ti, tr in enumerate(live):
            if ti not in used_tracks:
                tr.missed += 1
        for bi, box in enumerate(boxes):
            if bi not in used_boxes:
                live.append(Track([[t, *box[:4]]], 0, box[4]))
        done += [tr for tr in live if tr.missed > max_gap]
        live = [tr for tr in live if tr.missed <= max_gap]
    done += live
    return [tr.keys for tr in sorted(done, key=lambda tr: (tr.keys[0][0], tr.keys[0][1]))]
