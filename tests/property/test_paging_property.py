"""Keyset paging of `evidence list` (issue 22) against random vaults: whatever the clips'
recording times (heavy ties, some with none), cameras and officers, whatever the filter and
the page size, the pages of a listing give its rows exactly once, in its order, and only the
last page is short."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from tests.listing_records import FILTERS, add_records, every_page, key
from vault.context import Vault
from vault.db.models import Case, CaseLink, Device, DockSession, Evidence, Officer, Sighting
from vault.retrieval import list_evidence

CLIP = st.tuples(
    st.one_of(st.none(), st.integers(0, 4).map(lambda n: n * 30)),  # few distinct times
    st.integers(0, 2),  # camera
    st.integers(0, 1),  # officer
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],  # each example empties it
)
@given(
    clips=st.lists(CLIP, min_size=0, max_size=30),
    name=st.sampled_from(sorted(FILTERS)),
    size=st.integers(1, 8),
)
def test_pages_give_each_row_once_in_order(
    vault: Vault, clips: list[tuple[int | None, int, int]], name: str, size: int
) -> None:
    with vault.session() as session:
        for table in (CaseLink, Sighting, Evidence, DockSession, Device, Officer, Case):
            session.execute(delete(table))
        session.commit()
        add_records(session, clips)
        nulls_first = session.get_bind().dialect.name == "sqlite"
        whole: list[dict[str, Any]] = list_evidence(session, FILTERS[name])
        assert whole == sorted(whole, key=lambda row: key(row, nulls_first))
        pages = every_page(session, FILTERS[name], size)
        assert [row for page in pages for row in page] == whole
        assert len({row["evidence_id"] for row in whole}) == len(whole)
