"""案件: every case (`case.list`) and one case (`case.show`): linked evidence, retention,
litigation and holds, and the must-record coverage (RC-5: each stated 环节 and the evidence
linked at it)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from vault.web.pages.common import call, number, page, text
from vault.web.templating import render

PAGE_SIZE = 50


@page
def index(request: Request) -> Response:
    status = text(request, "status")
    page_no = max(1, number(request, "page") or 1)
    rows = call(
        request,
        "case.list",
        status=status,
        limit=PAGE_SIZE + 1,
        offset=(page_no - 1) * PAGE_SIZE,
    )
    kept = {"status": status} if status else {}

    def link(to_page: int) -> str:
        return "/cases?" + urlencode({**kept, "page": to_page})

    context = {
        "rows": rows[:PAGE_SIZE],
        "status": status,
        "page_no": page_no,
        "previous": link(page_no - 1) if page_no > 1 else None,
        "next": link(page_no + 1) if len(rows) > PAGE_SIZE else None,
    }
    return render(request, "pages/cases.html", context)


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
