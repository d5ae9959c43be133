"""OV-1 figures (Gansu-Eco 第48条): per officer and camera, how much was recorded and how
much of it breaks a rule; the totals over all of them."""

from __future__ import annotations

from typing import Any


def summarise(
    records: list[dict[str, Any]],
    sessions: list[dict[str, Any]],
    flagged: list[dict[str, Any]],
    late: list[dict[str, Any]],
) -> dict[str, Any]:
    """OV-1 figures per officer and camera, and the totals. `records` are the evidence in
    the report's range (officer_id, device_id, unit, kind); the rest are report sections."""
    rows: dict[tuple[str | None, str | None], dict[str, Any]] = {}
    for record in records:
        row = _row(rows, record["officer_id"], record["device_id"], record["unit"])
        row["records"] += 1
        row["clips"] += record["kind"] == "video"
    for s in sessions:
        row = _row(rows, s["officer_id"], s["device_id"], s["unit"])
        row["sessions"] += 1
        row["hours"] += s["recorded_s"] / 3600
        row["unnarrated_sessions"] += s["opening"]["checked"] and not s["opening_narrated"]
        row["unchecked"] += not s["opening"]["checked"]
        for gap in s["gaps"]:
            kind = (
                "narrated" if gap["resume_narrated"] else "reasoned" if gap["reason"] else "neither"
            )
            row["interruptions"][kind] += 1
    for entry in flagged:
        if entry["flags"]:
            _row(rows, entry["officer_id"], entry["device_id"], entry["unit"])["clock_flags"] += 1
    for entry in late:
        _row(rows, entry["officer_id"], entry["device_id"], entry["unit"])["late"] += 1
    table = sorted(rows.values(), key=lambda r: (r["officer_id"] or "", r["device_id"] or ""))
    for row in table:
        row["hours"] = round(row["hours"], 2)
    return {"by_officer_device": table, "totals": _totals(table)}


def _row(
    rows: dict[tuple[str | None, str | None], dict[str, Any]],
    officer: str | None,
    device: str | None,
    unit: str | None,
) -> dict[str, Any]:
    key = (officer, device)
    if key not in rows:
        rows[key] = {
            "officer_id": officer,
            "device_id": device,
            "unit": unit,
            "records": 0,
            "clips": 0,
            "hours": 0.0,
            "sessions": 0,
            "interruptions": {"narrated": 0, "reasoned": 0, "neither": 0},
            "unnarrated_sessions": 0,
            "unchecked": 0,
            "clock_flags": 0,
            "late": 0,
        }
    return rows[key]


def _totals(table: list[dict[str, Any]]) -> dict[str, Any]:
    totals: dict[str, Any] = {
        "records": sum(r["records"] for r in table),
        "clips": sum(r["clips"] for r in table),
        "hours": round(sum(r["hours"] for r in table), 2),
        "sessions": sum(r["sessions"] for r in table),
        "interruptions": {
            k: sum(r["interruptions"][k] for r in table)
            for k in ("narrated", "reasoned", "neither")
        },
        "unnarrated_sessions": sum(r["unnarrated_sessions"] for r in table),
        "unchecked": sum(r["unchecked"] for r in table),
        "clock_flags": sum(r["clock_flags"] for r in table),
        "late": sum(r["late"] for r in table),
    }
    return totals
