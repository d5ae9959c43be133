"""A purge list on paper (音像资料清除清单, RT-1, RT-5): every item with what it was, the
records keeper's appraisal and, once run, what became of it; then the signature lines of
the one who drew it up, the records keeper who appraised it and the approver (Pingdingshan
第15条). Printed with the vault's official paper (vault/access/statement.py)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from vault.access.statement import FAMILY, new_pdf
from vault.config import Settings
from vault.timeutil import paper_time, zone_name

STATUS = {"drawn": "待鉴定审批", "signed": "已审批，待清除", "done": "已执行"}
MARK = {"no_value": "无保存价值", "keep": "保留", None: "未鉴定"}
OUTCOME = {"deleted": "已清除", "skipped": "未清除", "kept": "保留", None: ""}
COLUMNS = [
    "序号",
    "证据编号",
    "摄录时间",
    "执法记录仪",
    "执法人员",
    "保存依据",
    "保存期满",
    "SHA-256（前16位）",
    "鉴定意见",
    "鉴定人",
    "执行结果",
]
WIDTHS = (10, 14, 30, 20, 16, 26, 30, 34, 45, 20, 32)


def rule_words(rule: str) -> str:
    """The retention rule an item came due under, in words (never a code on paper)."""
    if rule.startswith("routine"):
        return "日常执法记录保存期"
    if rule.startswith("case:"):
        return f"随案卷保存（{rule[5:]}）"
    if rule.startswith("long_term"):
        return "长期保存"
    return "保存期限"


def _time(value: str | None, tz: str) -> str:
    if not value:
        return ""
    moment = datetime.fromisoformat(value)
    return (paper_time(moment, tz) or "").removesuffix(" " + zone_name(tz, moment))


def _cells(n: int, item: dict[str, Any], tz: str) -> list[str]:
    appraisal = MARK[item["mark"]]
    if item["mark_reason"]:
        appraisal += f"：{item['mark_reason']}"
    outcome = OUTCOME[item["outcome"]]
    if item["outcome"] == "skipped" and item["outcome_reason"]:
        outcome += f"（{item['outcome_reason']}）"
    if item["outcome_at"] and item["outcome"] == "deleted":
        outcome += f" {_time(item['outcome_at'], tz)}"
    return [
        str(n),
        str(item["evidence_id"]),
        _time(item["recorded_at"], tz),
        item["device_id"] or "",
        item["officer_id"] or "",
        rule_words(item["rule"]),
        _time(item["retain_until"], tz),
        item["sha256"][:16],
        appraisal,
        item["marked_by"] or "",
        outcome,
    ]


def _signature(pdf: Any, role: str, name: str | None, at: str | None, tz: str) -> None:
    recorded = f"（系统记载：{name}，{_time(at, tz)}）" if name else ""
    pdf.cell(
        0,
        8,
        f"{role}（签名）：＿＿＿＿＿＿＿＿　　日期：＿＿＿＿＿＿＿＿　{recorded}",
        new_x="LMARGIN",
        new_y="NEXT",
    )


def write_purge_list_pdf(settings: Settings, listing: dict[str, Any], out: Path) -> None:
    """The list as an official paper to sign and file."""
    from fpdf.fonts import FontFace  # lazy, as in statement.new_pdf

    tz = settings.timezone
    pdf = new_pdf(settings, landscape=True)
    pdf.set_font(FAMILY, size=14)
    pdf.cell(0, 10, "音像资料清除清单", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FAMILY, size=9)
    bureau = settings.access.bureau_name or "（执法机关名称）"
    counts = listing["counts"]
    pdf.cell(
        0,
        6,
        f"{bureau}　　清单编号：{listing['list_id']}　　状态：{STATUS[listing['status']]}"
        f"　　编制时间：{_time(listing['drawn_at'], tz)}　　时间均为{zone_name(tz)}",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.cell(
        0,
        6,
        f"共{counts['items']}项：无保存价值{counts['no_value']}项，保留{counts['keep']}项，"
        f"未鉴定{counts['unmarked']}项；已清除{counts['deleted']}项，"
        f"未清除{counts['skipped']}项。保存期满后，由管理人员对无保存意义的进行清除处理"
        "（平顶山市生态环境局音像记录管理制度第十五条），不得在保存期内销毁。",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    headings = FontFace(emphasis="", fill_color=(225, 225, 225))
    pdf.set_font(FAMILY, size=7)
    with pdf.table(
        col_widths=WIDTHS, text_align="LEFT", line_height=4, headings_style=headings
    ) as table:
        table.row(COLUMNS)
        for n, item in enumerate(listing["items"], start=1):
            table.row(_cells(n, item, tz))
    pdf.set_font(FAMILY, size=10)
    pdf.ln(6)
    if listing["sign_note"]:
        pdf.cell(0, 8, f"审批意见：{listing['sign_note']}", new_x="LMARGIN", new_y="NEXT")
    markers = sorted({i["marked_by"] for i in listing["items"] if i["marked_by"]})
    _signature(pdf, "编制人", listing["drawn_by"], listing["drawn_at"], tz)
    _signature(pdf, "鉴定人（管理人员）", "、".join(markers) or None, None, tz)
    _signature(pdf, "审批人", listing["signed_by"], listing["signed_at"], tz)
    pdf.output(str(out))
