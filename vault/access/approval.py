"""Approval levels (AC-0): which approver may decide which request, and review which stop
record. The documents name three levels and the vault never merges them: 局机关主要负责人
(head), 分管领导 (deputy in charge), 综合行政执法机构负责人 (head of the enforcement unit).

A preset per document fills the matrix; `[access.approval]` picks it and overrides single
keys. A higher level may decide what a lower one may (the head always may). An approver
whose level was never set decides nothing: the old single role merged the head and the
deputies (负责人（局长、副局长）), and guessing either way would let a deputy sign what a
document reserves to the head.
"""

from __future__ import annotations

from collections.abc import Mapping

from vault.config import APPROVAL_LEVELS, Settings
from vault.db.models import Principal
from vault.errors import AccessRefused
from vault.i18n import N_, Named, Phrase

LEVELS = {
    "head": "局机关主要负责人",
    "deputy": "分管领导",
    "unit_head": "综合行政执法机构负责人",
}
_RANK = {level: len(APPROVAL_LEVELS) - n for n, level in enumerate(APPROVAL_LEVELS)}
_PARTIES = ("party", "natural_person", "lawyer")

# Each preset: (requests, stops), keys as in the settings ("KIND.ACTION", "KIND",
# "*.ACTION", "*"). Where a document names no level, its preset asks for the head.
PRESETS: dict[str, tuple[dict[str, str], dict[str, str]]] = {
    # Pingdingshan 第4、5、7、8条: 局机关主要负责人 for every access; 第12条: the stop's work
    # record is reviewed by 本单位主要领导.
    "pingdingshan": ({"*": "head"}, {"*": "head"}),
    # Xiangxi 第18条: 州局主要负责人 for agencies; 第17条 names no level (the head);
    # 第11条: a stop's work record is reviewed by the 分管领导.
    "xiangxi": ({"*": "head"}, {"*": "deputy"}),
    # Shanxi 第21条: a party's viewing is approved by the 综合行政执法机构负责人; 第17条
    # names no reviewer of stops (the head).
    "shanxi": (
        {"*": "head", **{f"{kind}.view": "unit_head" for kind in _PARTIES}},
        {"*": "head"},
    ),
    # Gansu-Eco 第45条: a party's copy with the consent of the 行政机关负责人 (the head or a
    # deputy); viewing is the lesser act. 第46、47条 and 第42条 name no level (the head).
    "gansu-eco": (
        {"*": "head", **{kind: "deputy" for kind in _PARTIES}},
        {"*": "head"},
    ),
    # Gansu-Radio 第25条: nothing goes out without the 局主要负责人; 第19条: an interruption
    # is reported to the 局主要负责人.
    "gansu-radio": ({"*": "head"}, {"*": "head"}),
}


def _lookup(keys: list[str], *tables: Mapping[str, str]) -> str:
    for table in tables:
        for key in keys:
            if key in table:
                return table[key]
    return "head"


def required_level(settings: Settings, *, kind: str, action: str) -> str:
    """The level that approves a request of this requester kind for this action."""
    approval = settings.access.approval
    keys = [f"{kind}.{action}", kind, f"*.{action}", "*"]
    return _lookup(keys, approval.requests, PRESETS[approval.preset][0])


def stop_level(settings: Settings, ground: str) -> str:
    """The level that reviews a stop record on this ground (RC-4)."""
    approval = settings.access.approval
    return _lookup([ground, "*"], approval.stops, PRESETS[approval.preset][1])


def describe(level: str) -> str:
    return f"{level} ({LEVELS[level]})"


def may_decide(principal: Principal, needed: str) -> bool:
    held = principal.approver_level
    return held is not None and _RANK[held] >= _RANK[needed]


def require_level(
    settings: Settings, principal: Principal, needed: str, doing: str | Phrase
) -> None:
    """Refuse (AC-0) unless the principal's level reaches the one needed."""
    if may_decide(principal, needed):
        return
    held = principal.approver_level
    has = (
        Phrase(
            N_("{name} is {level}"), name=principal.name, level=Named(describe(held), LEVELS[held])
        )
        if held
        else Phrase(
            N_("{name} has no approval level set (a records keeper sets it: {command})"),
            name=principal.name,
            command=f"evault principal level {principal.name} {'|'.join(LEVELS)}",
        )
    )
    raise AccessRefused(
        N_(
            "{doing} needs the approval of the {level}: 需要{chinese}审批; {has} "
            "(AC-0, {setting} preset {preset})"
        ),
        doing=doing if isinstance(doing, Phrase) else Phrase(doing),
        level=Named(describe(needed), needed),
        chinese=LEVELS[needed],
        has=has,
        setting="access.approval",
        preset=settings.access.approval.preset,
    )
