"""报告: the compliance report (`report.compliance`) for a period and a unit, and its
printable HTML as the operation writes it."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from vault.web.pages.common import call, page, text
from vault.web.templating import render


def _params(request: Request) -> dict[str, Any]:
    return {
        "from_": text(request, "from"),
        "to": text(request, "to"),
        "unit": text(request, "unit"),
        "officer": text(request, "officer"),
        "device": text(request, "device"),
    }


@page
def index(request: Request) -> Response:
    params = _params(request)
    found = None
    if request.query_params:
        found = call(request, "report.compliance", **params)
    return render(
        request,
        "pages/reports.html",
        {"report": found, "given": params, "query": request.url.query},
    )


@page
def printable(request: Request) -> Response:
    _result, files, cleanup = request.state.call_files(
        "report.compliance", html=True, **_params(request)
    )
    try:
        body = files["report.html"].read_text()
    finally:
        cleanup()
    return HTMLResponse(body, headers={"Content-Disposition": "inline; filename=report.html"})
