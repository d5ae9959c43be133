"""The operations of the service API, one module per command group. Importing this package
registers them all (`vault.service.api.OPERATIONS`)."""

from vault.service.ops import (  # noqa: F401
    access,
    cases,
    compliance,
    evidence,
    meta,
    principal,
    station,
)
