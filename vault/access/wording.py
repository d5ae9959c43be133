"""The access register's entries in the words of the paper register (查阅登记簿), for its
CSV and PDF (issue 17): the entry itself keeps its codes and English detail (hashed, and
in `--json`); what is printed for people, signed and filed, is Chinese only."""

from __future__ import annotations

import re

from vault.access.principals import KINDS
from vault.db.models import RegisterEntry

EVENTS = {
    "request": "申请",
    "approve": "批准",
    "deny": "不予批准",
    "revoke": "撤销授权",
    "view": "查阅",
    "copy": "复制",
    "export": "导出",
    "refused": "拒绝（未获授权）",
    "principal": "人员登记",
    "mark": "密级标注",
    "rebuilt": "数据库重建",
}

# The service's operations (vault/service/policy.py), as a refusal names what was tried.
OPERATIONS = {
    "ingest": "导入执法记录仪存储",
    "dock.run": "运行采集站服务",
    "dock.status": "查看采集工位状态",
    "dock.udev-rules": "输出设备识别规则",
    "device.assign": "指定执法记录仪保管人",
    "device.ledger": "查看执法记录仪使用台账",
    "device.checkout": "领用执法记录仪",
    "device.return": "归还执法记录仪",
    "device.event": "登记执法记录仪维护、故障、丢失、损坏或违规使用",
    "device.custody": "查看执法记录仪领用台账",
    "evidence.list": "查询音像资料",
    "evidence.show": "查看音像资料信息",
    "evidence.verify": "校验音像资料",
    "verify": "档案核验",
    "verify.seal-missing": "补写封存记录",
    "evidence.classify": "设定保存类别",
    "evidence.hold": "设置保全",
    "evidence.release": "解除保全",
    "evidence.mark": "密级标注",
    "evidence.redact": "遮挡处理",
    "evidence.view": "查阅音像资料",
    "evidence.thumbnail": "查看封面图",
    "evidence.contact-sheet": "查看缩略图",
    "evidence.export": "复制或导出音像资料",
    "evidence.discs": "制作证据光盘",
    "case.create": "登记案件",
    "case.link": "关联案件",
    "case.unlink": "解除案件关联",
    "case.close": "结案",
    "case.litigation": "登记诉讼",
    "case.list": "查询案件",
    "case.show": "查看案件",
    "purge.plan": "预览可清除的音像资料",
    "purge.draw": "编制待清除清单",
    "purge.lists": "查看清除清单",
    "purge.mark": "鉴定待清除音像资料",
    "purge.sign": "审批清除清单",
    "purge.run": "清除已审批的音像资料",
    "media.run": "运行媒体处理",
    "media.jobs": "查看媒体处理任务",
    "media.retry": "重试媒体处理",
    "store.check": "检查存储",
    "store.init": "初始化存储",
    "store.drain": "上传暂存资料",
    "store.rebuild-index": "由存储重建数据库",
    "access.request": "提出查阅申请",
    "access.approve": "批准申请",
    "access.deny": "不予批准申请",
    "access.revoke": "撤销授权",
    "access.requests": "查询申请",
    "access.grants": "查询授权",
    "access.log": "查看查阅登记簿",
    "access.sign": "签署登记簿",
    "principal.add": "登记人员",
    "principal.map": "关联操作系统用户",
    "principal.disable": "停用人员",
    "principal.level": "设定审批层级",
    "principal.password": "设置网页登录密码",
    "principal.totp": "设置网页登录动态验证码",
    "principal.list": "查询人员",
    "unit.add": "登记单位",
    "unit.alias": "登记单位别名",
    "unit.list": "查询单位",
    "compliance.scan": "合规检查",
    "compliance.late-reason": "说明逾期上传原因",
    "compliance.calendar": "查看工作日历",
    "report.compliance": "合规情况报告",
    "session.annotate": "说明中断原因",
    "session.unresumed": "登记无法继续记录的报告和说明",
    "session.review": "审核书面说明",
    "stop-record.add": "登记中止记录",
    "stop-record.approve": "批准中止记录",
    "stop-record.list": "查询中止记录",
    "review.sample": "抽查抽样",
    "review.record": "登记抽查结果",
    "policy.show": "查看权限表",
    "access.show": "查看查阅申请",
    "access.document": "调阅申请材料",
    "compliance.late": "查询逾期上传",
    "session.list": "查询录制会话",
    "session.gaps": "查询待说明的中断",
    "todo": "查看待办事项",
    "view": "查阅",
    "copy": "复制",
    "export": "导出",
    "request": "提出查阅申请",
    "mark": "密级标注",
}

# Why something was refused, from the refusal's own words (first match wins).
REFUSALS = (
    (r"not mapped to a principal", "操作系统用户未登记为人员"),
    (r"is disabled", "人员已停用"),
    (r"holds no valid grant|no grant", "无经批准的有效授权"),
    (r"must present", "证件材料不全"),
    (r"approve their own", "不得批准本人申请"),
    # AC-0: the level needed, in the refusal's own Chinese words
    (r"需要局机关主要负责人审批", "需要局机关主要负责人审批"),
    (r"需要分管领导审批", "需要分管领导审批"),
    (r"需要综合行政执法机构负责人审批", "需要综合行政执法机构负责人审批"),
    (r"no approval level set", "未设定审批层级"),
    (r"footage of its own case", "仅限本案音像资料"),
    (r"only on statutory grounds", "须有法定事由方可拒绝"),
    (r"secret|privacy|marking|confidential", "密级标注不允许"),
    (r"service account", "仅限系统服务账户"),
    (r"needs the .* role|needs |may list only|may not|not a handler|never by the", "无此权限"),
)

_SCOPE = re.compile(r"\b(evidence|case|session):(\S+)|\b(request|grant) (\d+)")
_ASCII_WORD = re.compile(r"[A-Za-z][A-Za-z_.-]{2,}")


def scope(text: str) -> str:
    """`evidence:12` 证据 12, `case:环罚〔2026〕12号` 案件 环罚〔2026〕12号, ..."""
    names = {
        "evidence": "证据",
        "case": "案件",
        "session": "录制会话",
        "request": "申请",
        "grant": "授权",
    }
    found = [f"{names[a or c]} {b or d}" for a, b, c, d in _SCOPE.findall(text)]
    return "、".join(found)


def refusal(reason: str) -> str:
    for pattern, words in REFUSALS:
        if re.search(pattern, reason):
            return words
    return "未获授权"


def what(entry: RegisterEntry) -> str:
    """The 查阅内容 column: the event, and what it was about."""
    text = entry.what or ""
    head = EVENTS.get(entry.event, "登记事项")
    detail = entry.detail or {}
    if entry.event == "refused":
        attempt = str(detail.get("attempt") or "")
        tried = OPERATIONS.get(attempt, "操作")
        about = scope(text)
        reason = refusal(str(detail.get("refusal") or ""))
        return f"{head}：{tried}{' ' + about if about else ''}（{reason}）"
    if entry.event == "principal":
        if text.startswith("bootstrap"):
            return f"{head}：首位档案员"
        if text.startswith("map OS user"):
            return f"{head}：关联操作系统用户"
        if text == "disable":
            return f"{head}：停用"
        if text.startswith("approval level"):
            return f"{head}：设定审批层级"
        kind = text.removeprefix("add ").strip()
        return f"{head}：{KINDS.get(kind, '人员')}"
    if entry.event == "rebuilt":
        return f"{head}：由存储重建"
    about = scope(text)
    return f"{head}：{about}" if about else head


def reader(entry: RegisterEntry) -> str:
    """The 查阅人 column, filled on every row: the natural person who looks with the ID
    presented (AC-4), else the person, else whoever the OS says asked."""
    detail = entry.detail or {}
    if person := detail.get("reader"):
        number = detail.get("reader_id")
        return f"{person}（证件号码：{number}）" if number else str(person)
    if entry.who:
        return entry.who
    if entry.handled_by:
        return entry.handled_by
    return f"未登记用户（{entry.os_user}）"


def is_chinese_only(text: str) -> bool:
    """No English word (three letters or more) in TEXT: what the papers promise."""
    return not _ASCII_WORD.search(text)
