"""The register on paper (查阅登记簿, AC-7): CSV and PDF in the paper register's columns —
date, who, unit, documents, what, reason, approver, handled by."""

from __future__ import annotations

import csv
from pathlib import Path
from zoneinfo import ZoneInfo

from vault.access import wording
from vault.access.policy import DOCUMENTS
from vault.access.principals import require_role
from vault.access.statement import FAMILY, new_pdf
from vault.config import Settings
from vault.db.models import Principal, RegisterEntry
from vault.i18n import N_

COLUMNS = ("序号", "日期", "查阅人", "单位", "证件材料", "查阅内容", "事由", "批准人", "经办人")
READERS = ("auditor", "records_keeper", "approver", "legal")
WIDTHS = (12, 30, 26, 30, 34, 52, 40, 24, 24)  # mm on landscape A4


def may_read(principal: Principal) -> None:
    require_role(principal, READERS, N_("reading the access register"))


def row(entry: RegisterEntry, tz: str) -> list[str]:
    documents = "、".join(DOCUMENTS.get(kind, "其他材料") for kind in entry.documents)
    return [
        str(entry.seq),
        entry.at.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M"),
        wording.reader(entry),
        entry.unit or "",
        documents,
        wording.what(entry),
        entry.reason or "",
        entry.approver or "",
        entry.handled_by or f"({entry.os_user})",
    ]


def write_csv(entries: list[RegisterEntry], tz: str, out: Path) -> None:
    # UTF-8 with BOM: spreadsheet programs on the desk then show the Chinese correctly.
    with out.open("w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows(row(entry, tz) for entry in entries)


def write_pdf(settings: Settings, entries: list[RegisterEntry], out: Path) -> None:
    pdf = new_pdf(settings, landscape=True)
    pdf.set_font(FAMILY, size=14)
    pdf.cell(0, 10, "执法记录仪音像资料查阅登记簿", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FAMILY, size=7)
    from fpdf.fonts import FontFace  # lazy, as in statement.new_pdf

    # The CJK font has no bold face: headings are shaded instead.
    headings = FontFace(emphasis="", fill_color=(225, 225, 225))
    with pdf.table(
        col_widths=WIDTHS, text_align="LEFT", line_height=4, headings_style=headings
    ) as table:
        table.row(COLUMNS)
        for entry in entries:
            table.row(row(entry, settings.timezone))
    pdf.output(str(out))
