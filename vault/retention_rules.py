"""The retention rules, as pure functions: what keeps a piece of evidence, and until when.

Dated rules give a date (routine, long-term, a closed case's file retention); blockers
(a legal hold, pending litigation, an open case) keep evidence with no date at all. The
effective retain-until is the latest date of all rules (None: permanent); evidence may be
deleted only after it, and only while nothing blocks (RT-1..RT-4). Ingest (the first
retain-until), media, cases and the uploader all decide by them, so they sit below all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from vault.config import RetentionSettings, Years
from vault.timeutil import add_months

CLASSES = ("routine", "long_term", "case")
# evidence_use (RT-3): exported as evidence or copied onto the evidence discs, kept at least
# long-term (Gansu-Radio 第23条 复制到光盘后附卷归档，长期保存); its years: long_term_years.
LONG_TERM_CATEGORIES = (
    "mass_incident",
    "personal_safety",
    "obstruction",
    "dispute",
    "major_case",
    "evidence_use",
)
# What the stores get for "permanent": later than any retention a rule could give.
PERMANENT = datetime(9999, 12, 31, tzinfo=UTC)


@dataclass(frozen=True)
class CaseFacts:
    number: str
    case_type: str
    status: str  # open | closed
    closed_at: datetime | None
    litigation: bool
    # RC-5: the storage time the bureau's must-record list gives the 环节 the footage is
    # linked as ("case_file", "routine", "long_term" or months from recording); only one
    # longer than the other rules lengthens retention (Pingdingshan 附件1 记录存储时间).
    stage: str | None = None
    stage_retention: str | int | None = None


@dataclass(frozen=True)
class EvidenceFacts:
    recorded_at: datetime | None  # corrected recording time
    docked_at: datetime
    retention_class: str
    long_term_category: str | None
    legal_holds: int = 0  # active holds on the evidence itself
    cases: tuple[CaseFacts, ...] = ()


@dataclass
class Decision:
    retain_until: datetime | None  # None: permanent
    rule: str  # the rule that gives the date
    blockers: list[str] = field(default_factory=list)  # what forbids deletion now, undated

    @property
    def blocked(self) -> bool:
        return bool(self.blockers)


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    """The later of two retain-untils, None (permanent) being the latest."""
    return None if a is None or b is None else max(a, b)


def _years_after(start: datetime, years: Years) -> datetime | None:
    return None if years == "permanent" else add_months(start, 12 * years)


_NONE = datetime.min.replace(tzinfo=UTC)  # the list adds no date of its own


def _list_retention(
    base: datetime, retention: str | int | None, settings: RetentionSettings
) -> datetime | None:
    """The date a must-record list's storage time gives footage recorded at `base`."""
    if retention == "long_term":
        return _years_after(base, settings.long_term_years)
    if isinstance(retention, int):
        return add_months(base, retention)
    return _NONE  # case_file: the case rule below; routine: the routine rule above


def decide(facts: EvidenceFacts, settings: RetentionSettings) -> Decision:
    # RT-1 counts from the corrected recording time; a camera clock that was wrong (DV-2)
    # never shortens retention, so docking time is the floor.
    base = max(facts.recorded_at or facts.docked_at, facts.docked_at)
    until: datetime | None = add_months(base, settings.routine_months)
    rule = f"routine ({settings.routine_months} months)"
    if facts.retention_class == "long_term":
        long_term = _years_after(base, settings.long_term_years)
        if _later(until, long_term) != until:
            until, rule = long_term, f"long_term:{facts.long_term_category}"
    blockers = [f"legal hold ({facts.legal_holds})"] if facts.legal_holds else []
    for case in facts.cases:
        if case.litigation:
            blockers.append(f"litigation hold on case {case.number}")
        listed = _list_retention(base, case.stage_retention, settings)
        if listed is not _NONE and _later(until, listed) != until:
            until, rule = listed, f"list:{case.number}:{case.stage}"
        if case.status == "open" or case.closed_at is None:
            blockers.append(f"open case {case.number}")
            continue
        years = settings.case_years.get(case.case_type, settings.case_years["other"])
        case_until = _years_after(case.closed_at, years)
        if _later(until, case_until) != until:
            until, rule = case_until, f"case:{case.number}"
    return Decision(until, rule, blockers)


def shortens(old: datetime | None, new: datetime | None) -> bool:
    """RT-4: would moving from old to new bring deletion closer?"""
    if old is None:
        return new is not None
    return new is not None and new < old
