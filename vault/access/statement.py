"""The written statement (文字说明材料, EV-1) that goes with exported footage, as a PDF in
Chinese: who collected and who recorded it, when, where, on which camera, in which format,
its hashes, and lines for the supervisor's and officers' signatures."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vault.config import Settings
from vault.errors import VaultError
from vault.i18n import N_

if TYPE_CHECKING:
    from fpdf import FPDF

FONT_CANDIDATES = (
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
)
FAMILY = "cjk"
BLANK = "________________"
NEXT: dict[str, Any] = {"new_x": "LMARGIN", "new_y": "NEXT"}  # each line starts a new one


class FontMissing(VaultError):
    """No font that can print Chinese is installed."""

    exit_code = 2


def _collection_index(path: Path) -> int:
    """In a font collection, the Simplified Chinese face (Noto's .ttc holds JP, KR, SC, TC)."""
    if path.suffix.lower() != ".ttc":
        return 0
    from fontTools.ttLib import TTCollection

    with TTCollection(str(path), lazy=True) as collection:
        for index, font in enumerate(collection.fonts):
            name = str(font["name"].getDebugName(1) or "")
            if name.endswith(" SC"):
                return index
    return 0


def find_cjk_font(settings: Settings) -> tuple[Path, int]:
    """The configured font, else Noto CJK from Debian's fonts-noto-cjk, else fontconfig's."""
    if settings.access.cjk_font is not None:
        if not settings.access.cjk_font.is_file():
            raise FontMissing(
                N_("{setting}: {path} does not exist"),
                setting="access.cjk_font",
                path=settings.access.cjk_font,
            )
        return settings.access.cjk_font, _collection_index(settings.access.cjk_font)
    for path in FONT_CANDIDATES:
        if path.is_file():
            return path, _collection_index(path)
    if shutil.which("fc-match"):
        found = subprocess.run(
            ["fc-match", "-f", "%{file}", ":lang=zh-cn"], capture_output=True, text=True
        ).stdout.strip()
        if found and Path(found).suffix.lower() in (".ttc", ".otf", ".ttf"):
            path = Path(found)
            if "CJK" in path.name or "wqy" in path.name.lower():
                return path, _collection_index(path)
    raise FontMissing(
        N_(
            "no CJK font for the Chinese PDF: install Debian's {package} "
            "({command}) or set {setting}"
        ),
        package="fonts-noto-cjk",
        command="apt-get install fonts-noto-cjk",
        setting="[access] cjk_font",
    )


def new_pdf(settings: Settings, landscape: bool = False) -> FPDF:
    """An A4 official paper in Chinese: 第X页 共Y页 at the foot of every page."""
    from fpdf import FPDF  # imported here: it costs half a second at every command

    class Paper(FPDF):
        def footer(self) -> None:
            self.set_y(-12)
            self.set_font(FAMILY, size=9)
            self.cell(0, 6, f"第{self.page_no()}页 共{{nb}}页", align="C")

    path, index = find_cjk_font(settings)
    pdf = Paper(orientation="L" if landscape else "P", unit="mm", format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_font(FAMILY, "", str(path), collection_font_number=index)
    pdf.set_font(FAMILY, size=10)
    pdf.add_page()
    return pdf


def _line(pdf: FPDF, label: str, value: object, size: float = 10) -> None:
    pdf.set_font(FAMILY, size=size)
    pdf.multi_cell(0, 6, f"{label}：{value if value not in (None, '') else BLANK}", **NEXT)


def _person(person: dict[str, Any] | None) -> str:
    """姓名（执法证号）; a name the records do not know is left blank to be written in."""
    if not person:
        return BLANK
    name = person.get("name") or BLANK
    badge = person.get("officer_id")
    return f"{name}（执法证号 {badge}）" if badge else name


def write_statement(settings: Settings, package: dict[str, Any], out: Path) -> None:
    """EV-1: one statement for the package, one section per record."""
    pdf = new_pdf(settings)
    pdf.set_font(FAMILY, size=18)
    pdf.cell(0, 12, "文字说明材料", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FAMILY, size=10)
    case = package.get("case") or {}
    _line(pdf, "执法机关", settings.access.bureau_name)
    _line(pdf, "执法单位", package.get("unit"))
    _line(pdf, "案件名称", case.get("name"))
    _line(pdf, "案件编号", case.get("number"))
    _line(pdf, "调取事由", package.get("reason"))
    _line(pdf, "证明对象", package.get("to_prove"))
    present = [_person(p) for p in package.get("officers_present") or []]
    _line(pdf, "在场执法人员", "、".join(present) or None)
    _line(pdf, "申请人", package.get("requester"))
    _line(pdf, "批准人", package.get("approver"))
    _line(pdf, "制作人（导出）", package.get("exported_by"))
    _line(pdf, "制作时间", package.get("created_at_local"))
    for item in package["evidence"]:
        pdf.ln(3)
        pdf.set_font(FAMILY, size=12)
        pdf.multi_cell(0, 7, f"证据 {item['evidence_id']}：{item['file_name']}", **NEXT)
        _line(pdf, "采集人", _person(item.get("collecting_officer")))
        _line(pdf, "记录人（摄录人）", _person(item.get("officer")))
        _line(pdf, "开始时间", item.get("start_local"))
        _line(pdf, "结束时间", item.get("end_local"))
        _line(pdf, "记录仪自身时间", item.get("camera_time"))
        offset = item.get("clock_offset_s")
        _line(pdf, "时钟偏差（秒，记录仪减工作站）", None if offset is None else f"{offset:+.1f}")
        _line(pdf, "地点", item.get("place") or package.get("place"))
        device = item.get("device") or {}
        make = " ".join(str(v) for v in (device.get("vendor"), device.get("model")) if v)
        camera = f"{make or BLANK}（设备编号 {device.get('device_id') or BLANK}）"
        _line(pdf, "制作方法", f"执法记录仪拍摄，{camera}")
        _line(pdf, "设备厂商及型号", camera)
        _line(pdf, "录制格式", item.get("format"))
        _line(pdf, "原始文件 SHA-256", item["sha256"], size=9)
        _line(pdf, "原始文件大小（字节）", item["size"])
        if item.get("viewing"):
            _line(pdf, "查看副本 SHA-256", item["viewing"]["sha256"], size=9)
        if redacted := item.get("redacted"):
            _redaction(pdf, redacted)
        _line(pdf, "封存时间", item.get("sealed_local"))
    pdf.ln(4)
    pdf.set_font(FAMILY, size=10)
    pdf.multi_cell(0, 6, _closing(package), **NEXT)
    _signatures(pdf, package)
    pdf.output(str(out))


def _signatures(pdf: FPDF, package: dict[str, Any]) -> None:
    """One line per person who signs (the 分管领导, every officer present, every officer who
    collected or recorded a clip of the package: Xiangxi 第16条 由分管领导和执法人员签名), and
    the seal's place, kept together on one page."""
    lines = [("分管领导", BLANK)]
    lines += [("执法人员", _person(p)) for p in package.get("officers_present") or []]
    for role, field in (("采集人", "collecting_officer"), ("记录人", "officer")):
        seen: list[str] = []
        for item in package["evidence"]:
            person = _person(item.get(field))
            if person not in seen:
                seen.append(person)
        lines += [(role, person) for person in seen or [BLANK]]
    lines.append(("制作人", str(package.get("exported_by") or BLANK)))
    needed = 6 + 10 * len(lines) + 36
    if pdf.get_y() + needed > pdf.page_break_trigger:
        pdf.add_page()
    pdf.ln(6)
    pdf.set_font(FAMILY, size=10)
    for role, person in lines:
        pdf.multi_cell(0, 10, f"{role}：{person}    签名：{BLANK}    日期：{BLANK}", **NEXT)
    pdf.ln(4)
    pdf.set_x(pdf.w - pdf.r_margin - 60)
    pdf.cell(60, 30, "（盖章处）", border=1, align="C", **NEXT)


def _redaction(pdf: FPDF, redacted: dict[str, Any]) -> None:
    """AC-9: the copy in the package is redacted, by whose plan and which version."""
    summary = redacted.get("summary") or {}
    hidden = (
        f"人脸 {summary.get('faces', 0)} 处、其他区域 {summary.get('boxes', 0)} 处、"
        f"消音 {summary.get('mute', 0)} 段"
    )
    _line(
        pdf,
        "遮挡处理",
        f"已作遮挡处理：依 {redacted['plan_author']} 制定的遮挡方案第 {redacted['plan_version']} "
        f"版（方案编号 {redacted['plan_id']}，{redacted['plan_created_at']}），{hidden}；"
        "本包所附为遮挡副本，原始文件未随附",
    )
    _line(pdf, "遮挡方案 SHA-256", redacted["plan_sha256"], size=9)
    _line(pdf, "遮挡副本 SHA-256", redacted["sha256"], size=9)


def _closing(package: dict[str, Any]) -> str:
    checked = "导出时经 SHA-256 校验与封存时一致；包内 SHA256SUMS 可用 sha256sum -c 核验。"
    if not package.get("redacted"):
        return "以上音像资料系执法记录仪原始记录，" + checked
    return (
        "以上音像资料" + checked + "其中注明“已作遮挡处理”的，为依遮挡方案制作的副本"
        "（个人隐私等已遮挡，相应声音已消除），原始记录封存于本单位，未随本包提供。"
    )
