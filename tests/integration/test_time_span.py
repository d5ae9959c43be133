"""Issue 17: `--to DATE` takes that whole day in, and a reversed range is refused rather
than answered with an empty listing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.access_office import Office, open_office
from vault.context import Vault
from vault.errors import VaultError
from vault.service import api, ops
from vault.timeutil import parse_span

KEEPER = api.Caller(1000, "keeper", system=False)
TZ = "Asia/Shanghai"


def test_a_bare_date_as_to_is_the_whole_day_and_a_reversed_range_is_refused() -> None:
    start, end = parse_span("2026-11-23", "2026-11-23", TZ)
    assert start is not None and end is not None
    assert (start.astimezone(UTC), end.astimezone(UTC)) == (
        datetime(2026, 11, 22, 16, tzinfo=UTC),
        datetime(2026, 11, 23, 16, tzinfo=UTC),
    )
    assert parse_span(None, "2026-11-23T12:00", TZ)[1] == datetime.fromisoformat(
        "2026-11-23T12:00+08:00"
    )  # a time is where it says
    for first, last in (("2026-11-24", "2026-11-23"), ("2026-11-23T10:00", "2026-11-23T09:00")):
        with pytest.raises(VaultError, match="comes before --from"):
            parse_span(first, last, TZ)
    with pytest.raises(VaultError, match="past the last day"):
        parse_span(None, "9999-12-31", TZ)
    with pytest.raises(VaultError, match="not an ISO 8601 time"):
        parse_span("2026-13-01", None, TZ)


@pytest.fixture
def office(vault: Vault, camera: Path, tmp_path: Path) -> Office:
    ops.known_operations()
    return open_office(vault, camera, tmp_path / "papers")


def test_evidence_list_from_d_to_d_lists_day_d(office: Office) -> None:
    """Each local day's clips (by corrected recording time) are what --from D --to D lists."""
    everything = api.run(office.vault, KEEPER, "evidence.list", {})
    assert everything.ok, everything.error
    days: dict[str, set[int]] = {}
    for row in everything.result:
        when = datetime.fromisoformat(row["recorded_at_corrected"].replace("Z", "+00:00"))
        days.setdefault(when.astimezone(ZoneInfo(TZ)).date().isoformat(), set()).add(
            row["evidence_id"]
        )
    assert sum(len(ids) for ids in days.values()) == len(office.evidence)
    for day, ids in days.items():
        answer = api.run(office.vault, KEEPER, "evidence.list", {"from_": day, "to": day})
        assert answer.ok, answer.error
        assert {row["evidence_id"] for row in answer.result} == ids
    last = max(days)
    after = api.run(office.vault, KEEPER, "evidence.list", {"from_": f"{last}T23:59:59"})
    assert after.ok and {r["evidence_id"] for r in after.result} <= days[last]
    reversed_ = api.run(office.vault, KEEPER, "evidence.list", {"from_": last, "to": "2000-01-01"})
    assert not reversed_.ok and "comes before --from" in (reversed_.error or "")
