"""Words for the codes the pages show (a status, a class, a kind), marked for the catalogue:
the templates translate them with `_(code)`."""

from __future__ import annotations

from vault.i18n import N_

CODES = (
    # Evidence.status
    N_("sealed"),
    N_("verified"),
    N_("failed"),
    # Evidence.retention_class
    N_("routine"),
    N_("long_term"),
    N_("case"),
    # Evidence.kind
    N_("video"),
    N_("photo"),
    N_("audio"),
    N_("unclassified"),
    # Derivative.kind
    N_("viewing"),
    N_("poster"),
    N_("contact_sheet"),
    N_("redacted"),
    # Case.status
    N_("open"),
    N_("closed"),
)
