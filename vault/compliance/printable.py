"""The compliance report as one printable HTML page for a supervisor (OV-1): inline CSS and
inline SVG bar charts, no script, nothing fetched from a network; opens in any browser and
prints on A4. Labels are Chinese, as the people who sign it read them."""

from __future__ import annotations

import html
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from vault.compliance.reasons import GAP_REASONS
from vault.compliance.stops import STOP_REASONS
from vault.errors import VaultError
from vault.store.durable import write_durably

RULE_LABELS = {
    "RC-1": "开场未语音说明",
    "RC-3": "中断未说明原因",
    "RC-4": "暂停记录未经审核",
    "RC-5": "应录未录",
    "IN-1": "超时上传",
    "DV-1": "设备使用人不符",
    "DV-2": "时钟不准",
    "OV-3": "抽查发现问题",
}
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
    if not value:
        return "—"
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S")


def bar_chart(title: str, bars: list[tuple[str, float]], unit: str = "") -> str:
    """A horizontal SVG bar chart: one labelled bar per (label, value)."""
    if not bars:
        return f"<p class='meta'>{_e(title)}：无数据</p>"
    top = max(value for _, value in bars) or 1.0
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


def _summary(report: dict[str, Any]) -> str:
    head = (
        "<tr><th>执法人员</th><th>设备编号</th><th>单位</th><th>记录数</th><th>视频</th>"
        "<th>时长（小时）</th><th>录制会话</th><th>中断：已口述</th><th>中断：书面说明</th>"
        "<th>中断：均无</th><th>开场未说明</th><th>时钟异常</th><th>超时上传</th></tr>"
    )
    rows = []
    for r in [*report["summary"]["by_officer_device"], {"officer_id": "合计", **_totals(report)}]:
        gaps = r["interruptions"]
        cells = [
            _e(r.get("officer_id") or "?"),
            _e(r.get("device_id") or ""),
            _e(r.get("unit") or ""),
        ]
        numbers = [
            r["records"], r["clips"], f"{r['hours']:.2f}", r["sessions"], gaps["narrated"],
            gaps["reasoned"], gaps["neither"], r["unnarrated_sessions"], r["clock_flags"],
            r["late"],
        ]  # fmt: skip
        cells += [f"<td class='n'>{_e(n)}</td>" for n in numbers]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells[:3]) + "".join(cells[3:]))
    return f"<table>{head}{''.join(rows)}</table>"


def _totals(report: dict[str, Any]) -> dict[str, Any]:
    totals: dict[str, Any] = report["summary"]["totals"]
    return totals


def _charts(report: dict[str, Any]) -> str:
    table = report["summary"]["by_officer_device"]
    hours = [(f"{r['officer_id'] or '?'} / {r['device_id'] or '?'}", r["hours"]) for r in table]
    totals = report["summary"]["totals"]["interruptions"]
    gaps = [("已口述原因", totals["narrated"]), ("书面说明", totals["reasoned"])]
    gaps.append(("均无", totals["neither"]))
    counted = Counter(f["rule"] for f in report["findings"])
    rules = [(f"{rule} {RULE_LABELS.get(rule, '')}", n) for rule, n in sorted(counted.items())]
    return (
        "<div>"
        + "<br>".join(
            [
                bar_chart("录制时长（小时，按人员/设备）", hours, " h"),
                bar_chart("录制中断的说明情况", [(k, float(v)) for k, v in gaps]),
                bar_chart("问题数量（按规则）", [(k, float(v)) for k, v in rules]),
            ]
        )
        + "</div>"
    )


def _findings(report: dict[str, Any]) -> str:
    if not report["findings"]:
        return "<p class='ok'>未发现问题。</p>"
    rows = "".join(
        f"<tr><td>{_e(f['rule'])}</td><td>{_e(RULE_LABELS.get(f['rule'], ''))}</td>"
        f"<td>{_e(f['subject'])}</td><td>{_e(f['detail'])}</td></tr>"
        for f in report["findings"]
    )
    return f"<table><tr><th>规则</th><th>类别</th><th>对象</th><th>说明</th></tr>{rows}</table>"


def _reason(code: str) -> str:
    """'battery' -> '电量不足'; 'stop_record:3 witness_request' -> '暂停记录 3（证人要求）'."""
    if code.startswith("stop_record:"):
        number, _, why = code.removeprefix("stop_record:").partition(" ")
        return f"暂停记录 {number}（{STOP_REASONS.get(why, why)}）"
    return GAP_REASONS.get(code, code)


def _sessions(report: dict[str, Any], tz: str) -> str:
    rows = []
    for s in report["sessions"]:
        opening = s["opening"]
        if not opening["checked"]:
            said = "<span class='meta'>待检测</span>"
        else:
            said = (
                "<span class='ok'>有</span>"
                if s["opening_narrated"]
                else ("<span class='bad'>无</span>")
            )
        gaps = "<br>".join(
            f"#{g['gap_id']} {g['seconds']:.0f} 秒："
            + ("已口述" if g["resume_narrated"] else "")
            + (f" 书面：{_e(_reason(g['reason']))}" if g["reason"] else "")
            + ("" if g["resume_narrated"] or g["reason"] else "<span class='bad'>未说明</span>")
            for g in s["gaps"]
        )
        rows.append(
            f"<tr><td>{s['session_id']}</td><td>{_e(s['officer_id'])}</td>"
            f"<td>{_e(s['device_id'])}</td><td>{_local(s['start'], tz)}</td>"
            f"<td>{_local(s['end'], tz)}</td><td class='n'>{len(s['clips'])}</td>"
            f"<td>{said}</td><td>{gaps or '—'}</td></tr>"
        )
    head = (
        "<tr><th>会话</th><th>执法人员</th><th>设备</th><th>开始（校正）</th><th>结束</th>"
        "<th>文件数</th><th>开场说明</th><th>中断</th></tr>"
    )
    return f"<table>{head}{''.join(rows)}</table>"


def _clock(report: dict[str, Any], tz: str) -> str:
    rows = "".join(
        f"<tr><td>{c['dock_id']}</td><td>{_e(c['device_id'])}</td>"
        f"<td>{_local(c['device_time'], tz)}</td><td>{_local(c['station_time'], tz)}</td>"
        f"<td class='n'>{_e(c['offset_s'])}</td><td class='bad'>{_e(', '.join(c['flags']))}</td>"
        f"<td>{'是' if c['synced'] else ''}</td></tr>"
        for c in report["clock"]
        if c["flags"]
    )
    if not rows:
        return "<p class='ok'>各次对接时设备时钟均在允许误差内。</p>"
    head = (
        "<tr><th>对接</th><th>设备</th><th>设备时间</th><th>工作站时间</th><th>偏差（秒）</th>"
        "<th>问题</th><th>已校时</th></tr>"
    )
    return f"<table>{head}{rows}</table>"


def _late(report: dict[str, Any], tz: str) -> str:
    if not report["late"]:
        return "<p class='ok'>无超时上传。</p>"
    rows = "".join(
        f"<tr><td>{r['evidence_id']}</td><td>{_e(r['file_name'])}</td>"
        f"<td>{_local(r['recorded_at'], tz)}</td><td>{_local(r['sealed_at'], tz)}</td>"
        f"<td>{_local(r['due'], tz)}{' ※' if r['approximate'] else ''}</td>"
        f"<td class='n'>{r['hours']:.1f}</td><td>{_e(r['reason'] or '未说明')}</td></tr>"
        for r in report["late"]
    )
    head = (
        "<tr><th>证据</th><th>文件</th><th>录制（校正）</th><th>入库</th><th>期限</th>"
        "<th>小时</th><th>原因</th></tr>"
    )
    return f"<table>{head}{rows}</table>"


def render(report: dict[str, Any], tz: str) -> str:
    f = report["filters"]
    span = f"{_local(f['from'], tz)} 至 {_local(f['to'], tz)}"
    picked = "，".join(
        f"{label}：{_e(f[key])}"
        for key, label in (("unit", "单位"), ("officer_id", "执法人员"), ("device_id", "设备"))
        if f[key]
    )
    cal = report["calendar"]
    settings = report["settings"]
    meta = (
        f"工作站 {_e(report['station_id'])}；生成于 {_local(report['generated_at'], tz)}；"
        f"范围 {span}{'；' + picked if picked else ''}<br>"
        f"{_verified(report, tz)}<br>"
        f"上传期限 {_e(settings['upload_deadline'])}"
        f"（节假日：chinese-calendar {_e(cal['version'])}，{cal['years'][0]}–{cal['years'][1]} 年；"
        "※ 表示超出范围按周一至周五估算）；时钟允许误差 "
        f"{settings['max_clock_offset_s']:g} 秒；开场检测 {settings['narration_window_s']:g} 秒"
    )
    body = [
        "<h1>执法记录仪使用合规情况报告</h1>",
        f"<p class='meta'>{meta}</p>",
        "<h2>一、统计（OV-1）</h2>",
        _summary(report),
        _charts(report),
        f"<h2>二、发现的问题（{len(report['findings'])} 项）</h2>",
        _findings(report),
        "<h2>三、录制会话与中断（RC-1、RC-2、RC-3）</h2>",
        _sessions(report, tz),
        "<h2>四、设备时钟（DV-2）</h2>",
        _clock(report, tz),
        "<h2>五、超时上传（IN-1）</h2>",
        _late(report, tz),
        "<div class='sign'><span>审核人（签字）：</span><span>日期：</span></div>",
    ]
    return (
        "<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'>"
        "<title>执法记录仪使用合规情况报告</title>"
        f"<style>{CSS}</style></head><body>{''.join(body)}</body></html>"
    )


def _verified(report: dict[str, Any], tz: str) -> str:
    """OV-3: when the records were last held to the WORM store (`evault verify`)."""
    done = report.get("verification")
    if not done:
        return "档案核验：尚未核验（请运行 evault verify）"
    result = "未发现问题" if done["exit_code"] in (0, 10) else "发现被改动或缺失的记录，见下文"
    return f"档案核验：{_local(done['at'], tz)}，{result}"


def write_html(report: dict[str, Any], path: Path, tz: str) -> None:
    try:
        write_durably(path, render(report, tz).encode("utf-8"))
    except OSError as exc:
        raise VaultError(f"cannot write {path}: {exc.strerror or exc}") from exc
