"""The fault-injection suite, a small fixed-seed set (issue 9; IN-2, IN-3): each fault kind
at least once against the real dock daemon, real FAT32/exFAT images on loop devices, a real
PostgreSQL and a real Ceph radosgw. `scripts/faults --rounds N` runs as many random rounds
as one likes with the same code."""

from __future__ import annotations

import pytest

from tests.faults.rounds import Lab, Outcome, run_round

pytestmark = pytest.mark.slow


def rounds_until_fired(lab: Lab, kind: str, seeds: list[int]) -> list[Outcome]:
    """Rounds of one kind until its fault lands (a timed fault may miss when the dock is
    quicker); every round, landed or not, must keep every invariant."""
    outcomes = []
    for number, seed in enumerate(seeds):
        outcome = run_round(lab, number, seed, kind)
        outcomes.append(outcome)
        assert outcome.violations == [], (
            f"{kind} round, seed {seed} ({outcome.detail}), kept in {outcome.folder}:\n"
            + "\n".join(outcome.violations)
        )
        if outcome.fired:
            break
    assert outcomes[-1].fired, [o.detail for o in outcomes]
    assert sum(o.clips for o in outcomes) > 0
    return outcomes


@pytest.mark.parametrize("kind", ["kill", "pull", "disk_full"])
def test_local_store_keeps_every_invariant_under_faults(lab: Lab, kind: str) -> None:
    """SIGKILL at a checkpoint, a camera pulled mid-read, a full store disk: nothing erased
    unverified, no row without its object, and after recovery no orphan and nothing left."""
    rounds_until_fired(lab, kind, [2026, 2027, 2028])


def test_database_restart_mid_ingest_keeps_every_invariant(pg_lab: Lab) -> None:
    rounds_until_fired(pg_lab, "db_restart", [7, 8, 9])


@pytest.mark.s3
@pytest.mark.parametrize("kind", ["s3_down", "disk_full", "kill"])
def test_s3_store_keeps_every_invariant_under_faults(s3_lab: Lab, kind: str) -> None:
    """The S3 endpoint stopped mid-upload (the spool takes over, the drain finishes), the
    spool's disk full while the service is away, a SIGKILL while uploading."""
    rounds_until_fired(s3_lab, kind, [11, 12, 13])
