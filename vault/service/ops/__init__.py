"""The operations of the service API, one module per command group. Importing this package
registers them all (`vault.service.api.OPERATIONS`); the api itself never imports them."""

from vault.service.api import OPERATIONS
from vault.service.ops import (  # noqa: F401
    access,
    cases,
    compliance,
    custody,
    evidence,
    meta,
    principal,
    purge,
    rebuild,
    station,
    units,
    verify,
    worklists,
)


def known_operations() -> list[str]:
    """The names of every operation, all registered by now (this package imported them)."""
    return sorted(OPERATIONS)
