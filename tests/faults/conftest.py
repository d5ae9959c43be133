"""Fixtures of the fault-injection suite: the services its rounds break (a PostgreSQL server
of its own, since a round restarts it; the Ceph radosgw of the S3 tests)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dock_cameras import require_dock_tools
from tests.faults.rounds import Lab
from tests.faults.services import PostgresServer, S3Endpoint
from tests.integration.conftest import S3Service, s3_service, s3_service_or_reason

__all__ = ["s3_service", "s3_service_or_reason"]  # fixtures, shared with tests/integration


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "s3: needs an S3 Object Lock service (Ceph radosgw)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The rounds pick their database themselves (SQLite, and a PostgreSQL server of their
    own to restart), so scripts/test's second pass on PostgreSQL would only repeat them."""
    if os.environ.get("EVAULT_TEST_DATABASE") != "postgresql":
        return
    here = Path(__file__).parent
    mine = [item for item in items if item.path.is_relative_to(here)]
    if mine:
        config.hook.pytest_deselected(items=mine)
        items[:] = [item for item in items if not item.path.is_relative_to(here)]


def _fail_or_skip(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def fault_pg() -> Iterator[PostgresServer | str]:
    server = PostgresServer.start()
    try:
        yield server
    finally:
        if isinstance(server, PostgresServer):
            server.close()


@pytest.fixture
def lab(tmp_path: Path) -> Lab:
    require_dock_tools()
    return Lab(tmp_path / "rounds")


@pytest.fixture
def pg_lab(lab: Lab, fault_pg: PostgresServer | str) -> Lab:
    if isinstance(fault_pg, str):
        _fail_or_skip(f"no PostgreSQL server to restart: {fault_pg}")
    assert isinstance(fault_pg, PostgresServer)
    lab.pg = fault_pg
    return lab


@pytest.fixture
def s3_lab(lab: Lab, s3_service: S3Service) -> Lab:
    lab.backend = "s3"
    lab.s3 = S3Endpoint(
        s3_service.endpoint, s3_service.access_key, s3_service.secret_key, s3_service.region
    )
    return lab
