"""The retention rules as pure functions (RT-1..RT-4)."""

from __future__ import annotations

from datetime import UTC, datetime

from vault.config import RetentionSettings
from vault.retention_rules import CaseFacts, EvidenceFacts, decide, shortens

SETTINGS = RetentionSettings()
RECORDED = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
DOCKED = datetime(2026, 3, 1, 20, 0, tzinfo=UTC)


def facts(**changes: object) -> EvidenceFacts:
    base: dict[str, object] = {
        "recorded_at": RECORDED,
        "docked_at": DOCKED,
        "retention_class": "routine",
        "long_term_category": None,
    }
    return EvidenceFacts(**{**base, **changes})  # type: ignore[arg-type]


def test_routine_is_twelve_months_from_the_later_of_recording_and_docking() -> None:
    """RT-1; a camera clock that was wrong (DV-2) never shortens retention."""
    decision = decide(facts(), SETTINGS)
    assert decision.retain_until == datetime(2027, 3, 1, 20, 0, tzinfo=UTC)
    assert decision.rule.startswith("routine") and not decision.blocked
    reset_clock = decide(facts(recorded_at=datetime(2000, 1, 1, tzinfo=UTC)), SETTINGS)
    assert reset_clock.retain_until == datetime(2027, 3, 1, 20, 0, tzinfo=UTC)


def test_long_term_keeps_for_its_years_or_forever() -> None:
    """RT-2."""
    decision = decide(facts(retention_class="long_term", long_term_category="dispute"), SETTINGS)
    assert decision.retain_until == datetime(2056, 3, 1, 20, 0, tzinfo=UTC)
    assert decision.rule == "long_term:dispute"
    forever = RetentionSettings(long_term_years="permanent")
    assert (
        decide(
            facts(retention_class="long_term", long_term_category="dispute"), forever
        ).retain_until
        is None
    )


def test_open_case_blocks_and_closed_case_counts_from_closure() -> None:
    """RT-3: evidence follows its case file."""
    open_case = CaseFacts("A-1", "行政处罚", "open", None, False)
    decision = decide(facts(cases=(open_case,)), SETTINGS)
    assert decision.blockers == ["open case A-1"]
    closed = CaseFacts("A-1", "行政检查", "closed", datetime(2026, 6, 1, tzinfo=UTC), False)
    decision = decide(facts(cases=(closed,)), SETTINGS)
    assert decision.retain_until == datetime(2036, 6, 1, tzinfo=UTC) and decision.rule == "case:A-1"
    assert not decision.blocked


def test_litigation_and_legal_holds_block_whatever_the_date() -> None:
    litigated = CaseFacts("B-2", "other", "closed", datetime(2026, 6, 1, tzinfo=UTC), True)
    decision = decide(facts(cases=(litigated,), legal_holds=2), SETTINGS)
    assert decision.blockers == ["legal hold (2)", "litigation hold on case B-2"]


def test_effective_retention_is_the_latest_of_all_rules() -> None:
    short_case = CaseFacts("C-3", "other", "closed", datetime(2026, 4, 1, tzinfo=UTC), False)
    decision = decide(
        facts(retention_class="long_term", long_term_category="obstruction", cases=(short_case,)),
        SETTINGS,
    )
    assert decision.rule == "long_term:obstruction"
    permanent = RetentionSettings(case_years={"other": "permanent"})
    assert decide(facts(cases=(short_case,)), permanent).retain_until is None


def test_shortening_is_recognised_with_permanent_as_the_latest() -> None:
    """RT-4."""
    early, late = datetime(2027, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC)
    assert shortens(late, early) and not shortens(early, late) and not shortens(early, early)
    assert shortens(None, late) and not shortens(late, None) and not shortens(None, None)
