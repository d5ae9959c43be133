"""The compliance report as one printable HTML page for a supervisor (OV-1): inline CSS and
inline SVG bar charts, no script, nothing fetched from a network; opens in any browser and
prints on A4. Every word on it comes from the message catalogue (vault.i18n, the `language`
setting: Chinese by default), every finding told from its codes and numbers
(vault.compliance.sentences): no English word and no raw code on the Chinese page."""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from vault import i18n
from vault.compliance.sentences import (
    FLAGS,
    KNOWN,
    RULE_LABELS,
    Sections,
    deadline,
    gap_reason,
    joined,
    narration,
    officer,
    words,
)
from vault.errors import VaultError
from vault.i18n import N_, _, ngettext
from vault.store.durable import write_durably
from vault.timeutil import zone_name

CSS = """
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", sans-serif;
       margin: 24px; color: #111; font-size: 12px; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 15px; margin: 20px 0 6px;
     border-bottom: 2px solid #333; padding-bottom: 2px; }
table { border-collapse: collapse; width: 100%; margin-bottom: 8px; }
th, td { border: 1px solid #999; padding: 3px 5px; text-align: left; vertical-align: top; }
th { background: #eee; } td.n { text-align: right; } .bad { color: #b00; font-weight: bold; }
.ok { color: #070; } .meta { color: #444; } .sign { margin-top: 36px; display: flex; gap: 80px; }
@media print { body { margin: 10mm; } h2 { page-break-after: avoid; }
               tr { page-break-inside: avoid; } }
"""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _local(value: str | None, tz: str) -> str:
    """Local time to the second; the zone is named once, at the head of the page."""
    if not value:
        return "—"
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S")


def bar_chart(title: str, bars: list[tuple[str, float]], unit: str = "") -> str:
    """A horizontal SVG bar chart: one labelled bar per (label, value)."""
    if not bars:
        return _tag("p", _("{title}: no data").format(title=title), "meta")
    top = max(value for _label, value in bars) or 1.0
    row_h, label_w, bar_w = 20, 190, 360
    height = row_h * len(bars) + 28
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{label_w + bar_w + 80}' "
        f"height='{height}' role='img' aria-label='{_e(title)}'>",
        f"<text x='0' y='14' font-size='13' font-weight='bold'>{_e(title)}</text>",
    ]
    for index, (label, value) in enumerate(bars):
        y = 24 + index * row_h
        width = max(1.0, bar_w * value / top) if value else 0.0
        parts.append(f"<text x='0' y='{y + 13}' font-size='11'>{_e(label)}</text>")
        parts.append(
            f"<rect x='{label_w}' y='{y + 2}' width='{width:.1f}' height='{row_h - 6}' "
            "fill='#3b6ea5'/>"
        )
        shown = f"{value:g}{unit}"
        parts.append(
            f"<text x='{label_w + width + 4:.1f}' y='{y + 13}' font-size='11'>{_e(shown)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _tag(tag: str, text: str, css: str | None = None) -> str:
    """<tag class='css'>text</tag>, the text escaped."""
    opened = f"<{tag} class='{css}'>" if css else f"<{tag}>"
    return f"{opened}{_e(text)}</{tag}>"


def _head(*labels: str) -> str:
    return "<tr>" + "".join(f"<th>{_e(label)}</th>" for label in labels) + "</tr>"


def _summary(report: dict[str, Any]) -> str:
    head = _head(
        _("Officer"), _("Camera"), _("Unit"), _("Records"), _("Videos"), _("Hours"),
        _("Sessions"), _("Interruptions: spoken reason"), _("Interruptions: written reason"),
        _("Interruptions: no reason"), _("No spoken opening"), _("Clock problems"),
        _("Uploaded late"),
    )  # fmt: skip
    total = {"officer_id": None, "total": True, **_totals(report)}
    rows = []
    for r in [*report["summary"]["by_officer_device"], total]:
        gaps = r["interruptions"]
        who = _("Total") if r.get("total") else officer(report, r.get("officer_id"))
        cells = [_e(who), _e(r.get("device_id") or ""), _e(r.get("unit") or "")]
        numbers = [
            r["records"], r["clips"], f"{r['hours']:.2f}", r["sessions"], gaps["narrated"],
            gaps["reasoned"], gaps["neither"], r["unnarrated_sessions"], r["clock_flags"],
            r["late"],
        ]  # fmt: skip
        rows.append(
            "<tr>"
            + "".join(f"<td>{c}</td>" for c in cells)
            + "".join(f"<td class='n'>{_e(n)}</td>" for n in numbers)
            + "</tr>"
        )
    return f"<table>{head}{''.join(rows)}</table>"


def _totals(report: dict[str, Any]) -> dict[str, Any]:
    totals: dict[str, Any] = report["summary"]["totals"]
    return totals


def _charts(report: dict[str, Any]) -> str:
    table = report["summary"]["by_officer_device"]
    unknown = _("unknown")
    hours = [
        (f"{r['officer_id'] or unknown} / {r['device_id'] or unknown}", r["hours"]) for r in table
    ]
    totals = report["summary"]["totals"]["interruptions"]
    gaps = [
        (_("spoken reason"), totals["narrated"]),
        (_("written reason"), totals["reasoned"]),
        (_("no reason"), totals["neither"]),
    ]
    counted = Counter(f["rule"] for f in report["findings"])
    rules = [(f"{rule} {words(RULE_LABELS, rule)}", n) for rule, n in sorted(counted.items())]
    charts = [
        bar_chart(_("Hours recorded, by officer and camera"), hours, " " + _("h")),
        bar_chart(_("How interruptions were explained"), [(k, float(v)) for k, v in gaps]),
        bar_chart(_("Findings, by rule"), [(k, float(v)) for k, v in rules]),
    ]
    return "<div>" + "<br>".join(charts) + "</div>"


def matched(report: Mapping[str, Any]) -> bool:
    """Did the filters match any record? The report's `matched` count where it has one,
    else whether any section holds a row."""
    if "matched" in report:
        return bool(report["matched"])
    totals = report["summary"]["totals"]
    sections = ("sessions", "clock", "clip_times", "late", "camera_badges", "findings")
    return bool(totals["records"] or totals["sessions"] or any(report.get(k) for k in sections))


def _nothing_matched(report: Mapping[str, Any]) -> str:
    """Never an all-clear for filters that matched nothing: say so, with what exists."""
    lines = [_tag("p", _("No records match the filters."), "bad")]
    filters = report.get("filters") or {}
    for key in report.get("unknown") or []:
        label = words(KNOWN, key) if key in KNOWN else _("known values")
        text = _("No record has these {what}: {value}").format(what=label, value=filters.get(key))
        lines.append(_tag("p", text, "bad"))
    known = report.get("known")
    for key, values in known.items() if isinstance(known, Mapping) else []:
        shown = [_known_value(report, key, value) for value in values or []]
        label = words(KNOWN, key) if key in KNOWN else _("known values")
        text = _("Known {what}: {values}").format(what=label, values=joined(shown) or "—")
        lines.append(f"<p class='meta'>{_e(text)}</p>")
    return "".join(lines)


def _known_value(report: Mapping[str, Any], key: str, value: object) -> str:
    """A value that exists, as people read it: an officer as 姓名（执法证号 X）."""
    if key == "officer_id" and isinstance(value, str | int):
        return officer(report, value)
    if isinstance(value, Mapping):
        if "officer_id" in value:
            return officer(report, value["officer_id"], value.get("name"))
        return str(value.get("name") or value.get("id") or next(iter(value.values()), ""))
    return str(value)


def _findings(report: dict[str, Any]) -> str:
    if not matched(report):
        return _nothing_matched(report)
    if not report["findings"]:
        return _tag("p", _("No problems found."), "ok")
    sections = Sections(report)
    rows = "".join(
        f"<tr><td>{_e(f['rule'])}</td><td>{_e(words(RULE_LABELS, f['rule']))}</td>"
        f"<td>{_e(sections.subject(f))}</td><td>{_e(sections.sentence(f))}</td></tr>"
        for f in report["findings"]
    )
    head = _head(_("Rule"), _("Kind"), _("About"), _("Finding"))
    return f"<table>{head}{rows}</table>"


def _gap(g: Mapping[str, Any]) -> str:
    said = _("#{id} {seconds:.0f} s:").format(id=g["gap_id"], seconds=float(g["seconds"]))
    if g["resume_narrated"]:
        said += " " + _("spoken")
    if g["reason"]:
        said += " " + _("written: {reason}").format(reason=gap_reason(g["reason"]))
    if g["resume_narrated"] or g["reason"]:
        return _e(said)
    return _e(said) + " " + _tag("span", _("not explained"), "bad")


def _sessions(report: dict[str, Any], tz: str) -> str:
    rows = []
    for s in report["sessions"]:
        if not s["opening"]["checked"]:
            said = _tag("span", _("not checked yet"), "meta")
        elif s["opening_narrated"]:
            said = _tag("span", _("present"), "ok")
        else:
            said = _tag("span", _("absent"), "bad")
        gaps = "<br>".join(_gap(g) for g in s["gaps"])
        rows.append(
            f"<tr><td>{s['session_id']}</td><td>{_e(officer(report, s['officer_id']))}</td>"
            f"<td>{_e(s['device_id'])}</td><td>{_local(s['start'], tz)}</td>"
            f"<td>{_local(s['end'], tz)}</td><td class='n'>{len(s['clips'])}</td>"
            f"<td>{said}</td><td>{gaps or '—'}</td></tr>"
        )
    head = _head(
        _("Session"), _("Officer"), _("Camera"), _("Start (corrected)"), _("End"), _("Files"),
        _("Spoken opening"), _("Interruptions"),
    )  # fmt: skip
    return f"<table>{head}{''.join(rows)}</table>"


def _clock(report: dict[str, Any], tz: str) -> str:
    yes = _("yes")
    rows = "".join(
        f"<tr><td>{c['dock_id']}</td><td>{_e(c['device_id'])}</td>"
        f"<td>{_local(c['device_time'], tz)}</td><td>{_local(c['station_time'], tz)}</td>"
        f"<td class='n'>{_e(c['offset_s'])}</td>"
        f"<td class='bad'>{_e(joined(words(FLAGS, f) for f in c['flags']))}</td>"
        f"<td>{_e(yes) if c['synced'] else ''}</td></tr>"
        for c in report["clock"]
        if c["flags"]
    )
    if not rows:
        if not matched(report):
            return _tag("p", _("No records match the filters."), "meta")
        return _tag("p", _("Every camera clock was within the limit at docking."), "ok")
    head = _head(
        _("Docking"), _("Camera"), _("Camera time"), _("Station time"), _("Offset (s)"),
        _("Problem"), _("Clock set"),
    )  # fmt: skip
    return f"<table>{head}{rows}</table>"


def _late(report: dict[str, Any], tz: str) -> str:
    if not report["late"]:
        if not matched(report):
            return _tag("p", _("No records match the filters."), "meta")
        return _tag("p", _("Nothing was uploaded late."), "ok")
    untold = _("not given")
    rows = "".join(
        f"<tr><td>{r['evidence_id']}</td><td>{_e(r['file_name'])}</td>"
        f"<td>{_local(r['recorded_at'], tz)}</td><td>{_local(r['sealed_at'], tz)}</td>"
        f"<td>{_local(r['due'], tz)}{' ※' if r['approximate'] else ''}</td>"
        f"<td class='n'>{r['hours']:.1f}</td><td>{_e(r['reason'] or untold)}</td></tr>"
        for r in report["late"]
    )
    head = _head(
        _("Evidence"), _("File"), _("Recorded (corrected)"), _("Stored"), _("Deadline"),
        _("Hours"), _("Reason"),
    )  # fmt: skip
    return f"<table>{head}{rows}</table>"


def _zone(tz: str) -> str:
    return zone_name(tz) if i18n.current() == "zh_CN" else tz


def _meta(report: dict[str, Any], tz: str) -> str:
    f = report["filters"]
    picked = joined(
        _("{label}: {value}").format(label=label, value=value)
        for label, value in (
            (_("Unit"), f["unit"]),
            (_("Officer"), f["officer_id"] and officer(report, f["officer_id"])),
            (_("Camera"), f["device_id"]),
        )
        if value
    )
    cal, settings = report["calendar"], report["settings"]
    lines = [
        _("Station {station}; made {at}; from {start} to {end}").format(
            station=report["station_id"],
            at=_local(report["generated_at"], tz),
            start=_local(f["from"], tz),
            end=_local(f["to"], tz),
        )
        + (_("; ") + picked if picked else ""),
        _("All times are {zone}.").format(zone=_zone(tz)),
        _verified(report, tz),
        _(
            "Upload deadline {deadline} (holidays: official calendar data {version}, "
            "{first}–{last}; ※ marks a deadline estimated counting Monday to Friday); "
            "clock limit {offset:g} s; opening checked over {window:g} s"
        ).format(
            deadline=deadline(str(settings["upload_deadline"])),
            version=cal["version"],
            first=cal["years"][0],
            last=cal["years"][1],
            offset=float(settings["max_clock_offset_s"]),
            window=float(settings["narration_window_s"]),
        ),
        *narration(settings),
    ]
    return "<br>".join(_e(line) for line in lines)


def render(report: dict[str, Any], tz: str, language: str | None = None) -> str:
    """The page in `language` (default: the process's, from the `language` setting)."""
    with i18n.speaking(language):
        return _page(report, tz)


def _page(report: dict[str, Any], tz: str) -> str:
    title = _("Report on the use of body-worn cameras")
    count = len(report["findings"]) if matched(report) else 0
    body = [
        f"<h1>{_e(title)}</h1>",
        f"<p class='meta'>{_meta(report, tz)}</p>",
        _tag("h2", _("1. Figures (OV-1)")),
        _summary(report),
        _charts(report),
        _tag(
            "h2",
            ngettext("2. Findings ({count} item)", "2. Findings ({count} items)", count).format(
                count=count
            ),
        ),
        _findings(report),
        _tag("h2", _("3. Recording sessions and interruptions (RC-1, RC-2, RC-3)")),
        _sessions(report, tz),
        _tag("h2", _("4. Camera clocks (DV-2)")),
        _clock(report, tz),
        _tag("h2", _("5. Late uploads (IN-1)")),
        _late(report, tz),
        "<div class='sign'>"
        + _tag("span", _("Reviewed by (signature):"))
        + _tag("span", _("Date:"))
        + "</div>",
    ]
    lang = "zh-CN" if i18n.current() == "zh_CN" else "en"
    return (
        f"<!DOCTYPE html><html lang='{lang}'><head><meta charset='utf-8'>"
        f"<title>{_e(title)}</title>"
        f"<style>{CSS}</style></head><body>{''.join(body)}</body></html>"
    )


def _verified(report: dict[str, Any], tz: str) -> str:
    """OV-3: when the records were last held to the WORM store (`evault verify`)."""
    done = report.get("verification")
    if not done:
        return _("Records check: not run yet (the records keeper runs it)")
    if done["exit_code"] in (0, 10):
        return _("Records check: {at}, the records agree with the store").format(
            at=_local(done["at"], tz)
        )
    return _("Records check: {at}, altered or missing records found, see below").format(
        at=_local(done["at"], tz)
    )


def write_html(report: dict[str, Any], path: Path, tz: str, language: str | None = None) -> None:
    try:
        write_durably(path, render(report, tz, language).encode("utf-8"))
    except OSError as exc:
        raise VaultError(
            N_("cannot write {path}: {problem}"), path=path, problem=exc.strerror or exc
        ) from exc
