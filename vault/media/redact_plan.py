"""A redaction plan: what a released copy hides, as data (AC-9). Boxes are time ranges ×
rectangles in the source's pixels (a detected face is a track of key rectangles, linearly
interpolated between its detections); mute ranges silence the sound. The plan is reviewed,
versioned and rendered later; nothing here touches footage (IN-3).

Pure functions: parsing the reviewer's --box and --mute, merging changes into a new plan,
the rectangle of a box at a time, enlarging and clipping it, the plan's canonical bytes.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import re
from typing import Any

from vault.errors import VaultError

FORMAT = "evidence-vault-redaction/1"
STYLES = ("blur", "fill")
MIN_FACE_SCALE = 1.2  # issue 20: a detected face is hidden at least 1.2× its box
DEFAULT_FACE_SCALE = 1.3
FACES, REVIEWER = "faces", "reviewer"

Rect = tuple[float, float, float, float]  # x, y, w, h
Region = tuple[int, int, int, int]  # x0, y0, x1, y1 (x1, y1 exclusive), inside the frame
Plan = dict[str, Any]

_TIME = re.compile(r"^(?:(\d+):)?(?:(\d+):)?(\d+(?:\.\d+)?)$")
_ID = re.compile(r"^[a-z][0-9]{1,6}$")


class PlanError(VaultError):
    """A redaction plan, box or range that cannot be used as given."""


def parse_time(text: str) -> float:
    """Seconds: `12.5`, `1:02.5` (m:ss) or `1:02:03` (h:mm:ss)."""
    match = _TIME.match(text.strip())
    if not match:
        raise PlanError(f"time {text!r}: give seconds (12.5), m:ss or h:mm:ss")
    first, second, seconds = match.groups()
    hours, minutes = (first, second) if second is not None else (None, first)
    return int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds)


def parse_range(text: str) -> tuple[float, float]:
    """`T0-T1`: a time range, T1 after T0."""
    start, sep, end = text.partition("-")
    if not sep:
        raise PlanError(f"range {text!r}: give T0-T1 (seconds, e.g. 3-7.5)")
    t0, t1 = parse_time(start), parse_time(end)
    if t1 <= t0:
        raise PlanError(f"range {text!r}: its end must come after its start")
    return t0, t1


def parse_box(text: str) -> tuple[float, float, Rect]:
    """`T0-T1:x,y,w,h`: a region in the source's pixels over a time range."""
    # Times may hold colons themselves (m:ss): the region follows the last one.
    times, sep, rect = text.rpartition(":")
    if not sep:
        raise PlanError(f"box {text!r}: give T0-T1:x,y,w,h (e.g. 3-7.5:100,80,64,64)")
    t0, t1 = parse_range(times)
    parts = rect.split(",")
    if len(parts) != 4 or not all(p.strip().isdigit() for p in parts):
        raise PlanError(f"box {text!r}: the region is x,y,w,h in whole pixels")
    x, y, w, h = (int(p) for p in parts)
    if w <= 0 or h <= 0:
        raise PlanError(f"box {text!r}: width and height must be more than 0")
    return t0, t1, (float(x), float(y), float(w), float(h))


def new_plan(
    evidence_id: int,
    source: dict[str, Any],
    *,
    style: str = "blur",
    face_scale: float = DEFAULT_FACE_SCALE,
) -> Plan:
    """An empty plan for a source: its sha256, what it is (original or salvage copy) and
    its geometry (width, height, frame_rate "n/d", fps, duration_s, has_audio)."""
    return {
        "format": FORMAT,
        "version": 0,
        "evidence_id": evidence_id,
        "source_sha256": source["sha256"],
        "source": source["kind"],
        "width": source["width"],
        "height": source["height"],
        "fps": source["fps"],
        "frame_rate": source["frame_rate"],
        "duration_s": source["duration_s"],
        "has_audio": source["has_audio"],
        "style": style,
        "face_scale": face_scale,
        "detector": None,
        "boxes": [],
        "mute": [],
    }


def _next_id(plan: Plan, prefix: str) -> str:
    taken = [int(i["id"][1:]) for i in (*plan["boxes"], *plan["mute"]) if i["id"][0] == prefix]
    return f"{prefix}{max(taken, default=0) + 1}"


def _in_clip(plan: Plan, t0: float, t1: float, what: str) -> tuple[float, float]:
    duration = float(plan["duration_s"])
    if t0 >= duration:
        raise PlanError(f"{what} starts at {t0:g} s, after the clip's end ({duration:g} s)")
    return round(float(t0), 3), round(float(min(t1, duration)), 3)


def add_box(plan: Plan, t0: float, t1: float, rect: Rect) -> str:
    """A reviewer's region (a screen, a document, a face the detector missed)."""
    t0, t1 = _in_clip(plan, t0, t1, "a box")
    x, y, w, h = rect
    if x >= plan["width"] or y >= plan["height"]:
        raise PlanError(
            f"box {x:g},{y:g},{w:g},{h:g} lies outside the {plan['width']}×{plan['height']} frame"
        )
    box_id = _next_id(plan, "b")
    keys = [[t0, float(x), float(y), float(w), float(h)]]
    plan["boxes"].append({"id": box_id, "source": REVIEWER, "t0": t0, "t1": t1, "keys": keys})
    return box_id


def add_mute(plan: Plan, t0: float, t1: float) -> str:
    t0, t1 = _in_clip(plan, t0, t1, "a mute range")
    mute_id = _next_id(plan, "m")
    plan["mute"].append({"id": mute_id, "t0": t0, "t1": t1})
    return mute_id


def drop(plan: Plan, item_id: str) -> None:
    """Remove a box (a false detection) or a mute range by its id."""
    for field in ("boxes", "mute"):
        kept = [item for item in plan[field] if item["id"] != item_id]
        if len(kept) != len(plan[field]):
            plan[field] = kept
            return
    known = ", ".join(i["id"] for i in (*plan["boxes"], *plan["mute"])) or "none"
    raise PlanError(f"the plan has no box or mute range {item_id!r} (it has: {known})")


def set_faces(plan: Plan, tracks: list[list[list[float]]], detector: dict[str, Any]) -> int:
    """Replace the detected faces with new tracks (the reviewer's own boxes stay); each
    track is [[t, x, y, w, h], ...] with t0/t1 the hold around its first and last key."""
    plan["boxes"] = [b for b in plan["boxes"] if b["source"] != FACES]
    hold = float(detector.get("hold_s", 0.0))
    for keys in tracks:
        t0 = max(0.0, keys[0][0] - hold)
        t1 = min(float(plan["duration_s"]), keys[-1][0] + hold)
        rounded = [[round(float(k[0]), 3), *(round(float(v), 1) for v in k[1:])] for k in keys]
        box = {"id": _next_id(plan, "f"), "source": FACES, "t0": round(t0, 3)}
        plan["boxes"].append(box | {"t1": round(t1, 3), "keys": rounded})
    plan["detector"] = detector
    return len(tracks)


def rect_at(box: dict[str, Any], t: float) -> Rect | None:
    """Where the box is at time t: between two keys on the line between them; before the
    first or after the last (the hold) carried on at the track's speed, never smaller."""
    if not box["t0"] <= t <= box["t1"]:
        return None
    keys = box["keys"]
    if len(keys) == 1:
        return tuple(keys[0][1:5])
    if t <= keys[0][0]:
        return _extrapolate(keys[0], keys[1], t)
    if t >= keys[-1][0]:
        return _extrapolate(keys[-1], keys[-2], t)
    for before, after in itertools.pairwise(keys):
        if before[0] <= t <= after[0]:
            span = after[0] - before[0]
            f = (t - before[0]) / span if span > 0 else 0.0
            return tuple(b + (a - b) * f for b, a in zip(before[1:5], after[1:5], strict=True))
    return tuple(keys[-1][1:5])


def _extrapolate(end: list[float], other: list[float], t: float) -> Rect:
    span = end[0] - other[0]
    f = (t - end[0]) / span if span else 0.0
    x, y, w, h = (e + (e - o) * f for e, o in zip(end[1:5], other[1:5], strict=True))
    w, h = max(w, end[3]), max(h, end[4])
    return x, y, w, h


def enlarge(rect: Rect, scale: float) -> Rect:
    """The rectangle grown by SCALE about its centre."""
    x, y, w, h = rect
    cx, cy = x + w / 2, y + h / 2
    return cx - w * scale / 2, cy - h * scale / 2, w * scale, h * scale


def clip(rect: Rect, width: int, height: int) -> Region | None:
    """The whole pixels of RECT inside the frame (outward rounding), or None if none."""
    x, y, w, h = rect
    x0, y0 = max(0, int(x)), max(0, int(y))
    x1, y1 = min(width, int(-(-(x + w) // 1))), min(height, int(-(-(y + h) // 1)))
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1


def regions_at(plan: Plan, t: float) -> list[Region]:
    """Every region hidden in the frame shown at time t: detected faces enlarged by the
    plan's face_scale (a detector's box is tight), a reviewer's box as it was drawn."""
    found = []
    scale = max(MIN_FACE_SCALE, float(plan["face_scale"]))
    for box in plan["boxes"]:
        rect = rect_at(box, t)
        if rect is None:
            continue
        if box["source"] == FACES:
            rect = enlarge(rect, scale)
        region = clip(rect, int(plan["width"]), int(plan["height"]))
        if region is not None:
            found.append(region)
    return found


def mute_expression(plan: Plan) -> str | None:
    """ffmpeg's `volume` enable expression for the mute ranges, or None."""
    ranges = sorted((m["t0"], m["t1"]) for m in plan["mute"])
    if not ranges:
        return None
    return "+".join(f"between(t,{t0:.3f},{t1:.3f})" for t0, t1 in ranges)


def canonical(plan: Plan) -> bytes:
    return json.dumps(plan, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def digest(plan: Plan) -> str:
    return hashlib.sha256(canonical(plan)).hexdigest()


def same_content(a: Plan, b: Plan) -> bool:
    """Whether two plans hide the same (their versions aside)."""
    return canonical({**a, "version": 0}) == canonical({**b, "version": 0})


def summary(plan: Plan) -> dict[str, Any]:
    faces = sum(1 for b in plan["boxes"] if b["source"] == FACES)
    return {
        "faces": faces,
        "boxes": len(plan["boxes"]) - faces,
        "mute": len(plan["mute"]),
        "style": plan["style"],
    }


def validate(given: Any, current: Plan) -> Plan:
    """A plan read from a reviewer's file (--plan-in): it must be for the same source and
    geometry; its boxes and mute ranges replace the current plan's. Returns a new plan."""
    if not isinstance(given, dict) or given.get("format") != FORMAT:
        raise PlanError(f"the plan file is not a redaction plan (format {FORMAT!r})")
    for key in ("source_sha256", "width", "height"):
        if given.get(key) != current[key]:
            raise PlanError(
                f"the plan file is for another source: its {key} is {given.get(key)!r}, "
                f"this clip's {current[key]!r}"
            )
    plan = copy.deepcopy(current)
    plan["boxes"] = [_checked_box(b, plan) for b in _list(given, "boxes")]
    plan["mute"] = [_checked_mute(m, plan) for m in _list(given, "mute")]
    ids = [i["id"] for i in (*plan["boxes"], *plan["mute"])]
    if len(set(ids)) != len(ids):
        raise PlanError("the plan file names an id twice")
    if given.get("style", plan["style"]) not in STYLES:
        raise PlanError(f"style {given.get('style')!r}: one of {', '.join(STYLES)}")
    plan["style"] = given.get("style", plan["style"])
    scale = given.get("face_scale", plan["face_scale"])
    if not isinstance(scale, int | float) or not MIN_FACE_SCALE <= scale <= 4:
        raise PlanError(f"face_scale {scale!r}: between {MIN_FACE_SCALE} and 4")
    plan["face_scale"] = float(scale)
    return plan


def _list(given: dict[str, Any], key: str) -> list[Any]:
    value = given.get(key, [])
    if not isinstance(value, list):
        raise PlanError(f"the plan file's {key} is not a list")
    return value


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise PlanError(f"the plan file's {what} is not a number: {value!r}")
    return float(value)


def _checked_id(item: Any, prefixes: str) -> str:
    if not isinstance(item, dict):
        raise PlanError(f"the plan file holds {item!r} where a box or range belongs")
    item_id = item.get("id")
    if not isinstance(item_id, str) or not _ID.match(item_id) or item_id[0] not in prefixes:
        raise PlanError(f"the plan file's id {item_id!r}: {prefixes[0]}N")
    return item_id


def _checked_box(box: Any, plan: Plan) -> dict[str, Any]:
    box_id = _checked_id(box, "fb")
    source = box.get("source")
    if source not in (FACES, REVIEWER):
        raise PlanError(f"box {box_id}: source {source!r} is faces or reviewer")
    t0, t1 = _number(box.get("t0"), f"{box_id}.t0"), _number(box.get("t1"), f"{box_id}.t1")
    if not 0 <= t0 < t1:
        raise PlanError(f"box {box_id}: t0 {t0:g} must be at least 0 and before t1 {t1:g}")
    keys = box.get("keys")
    if not isinstance(keys, list) or not keys:
        raise PlanError(f"box {box_id}: keys are [[t, x, y, w, h], ...]")
    checked = []
    for key in keys:
        if not isinstance(key, list) or len(key) != 5:
            raise PlanError(f"box {box_id}: a key is [t, x, y, w, h], not {key!r}")
        t, x, y, w, h = (_number(v, f"{box_id} key") for v in key)
        if w <= 0 or h <= 0:
            raise PlanError(f"box {box_id}: a key's width and height must be more than 0")
        checked.append([t, x, y, w, h])
    if any(b[0] > a[0] for b, a in itertools.pairwise(checked)):
        raise PlanError(f"box {box_id}: its keys must be in time order")
    t0, t1 = _in_clip(plan, t0, t1, f"box {box_id}")
    return {"id": box_id, "source": source, "t0": t0, "t1": t1, "keys": checked}


def _checked_mute(mute: Any, plan: Plan) -> dict[str, Any]:
    mute_id = _checked_id(mute, "m")
    t0 = _number(mute.get("t0"), f"{mute_id}.t0")
    t1 = _number(mute.get("t1"), f"{mute_id}.t1")
    if not 0 <= t0 < t1:
        raise PlanError(f"mute {mute_id}: t0 {t0:g} must be at least 0 and before t1 {t1:g}")
    t0, t1 = _in_clip(plan, t0, t1, f"mute {mute_id}")
    return {"id": mute_id, "t0": t0, "t1": t1}
