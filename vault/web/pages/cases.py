"""案件: every case (`case.list`) and one case (`case.show`): linked evidence, retention,
litigation and holds, and the must-record coverage (RC-5: each stated 环节 and the evidence
linked at it)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from vault.web.pages.common import call, page, text
from vault.web.templating import render


@page
def index(request: Request) -> Response:
    status = text(request, "status")
    rows = call(request, "case.list", status=status)
    return render(request, "pages/cases.html", {"rows": rows, "status": status})


def coverage(detail: dict[str, Any]) -> list[dict[str, Any]]:
    """Each stated 环节 with the evidence linked at it (and not unlinked since)."""
    linked: dict[str, list[int]] = {}
    for row in detail["evidence"]:
        if row["unlinked_at"] is None and row.get("stage"):
            linked.setdefault(row["stage"], []).append(row["evidence_id"])
    return [
        {**stated, "evidence_ids": linked.get(stated.get("stage") or "", [])}
        for stated in detail["stages"]
    ]


@page
def detail(request: Request) -> Response:
    found = call(request, "case.show", number=request.path_params["number"])
    context = {"case": found, "coverage": coverage(found)}
    return render(request, "pages/case_detail.html", context)
