"""对接站: the bays live, from `dock.status`, polled by static/pages.js every 2 s."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from vault.errors import AccessRefused, VaultError
from vault.web.pages.common import page
from vault.web.templating import render


@page
def index(request: Request) -> Response:
    state, problem = None, None
    try:
        state = request.state.call("dock.status")
    except AccessRefused:
        raise
    except VaultError as exc:  # the daemon is not running: the page says so and keeps polling
        problem = str(exc)
    return render(request, "pages/dock.html", {"state": state, "problem": problem})


def status(request: Request) -> Response:
    headers = {"Cache-Control": "no-store"}
    try:
        return JSONResponse(
            {"ok": True, "state": request.state.call("dock.status")}, headers=headers
        )
    except AccessRefused as exc:
        return JSONResponse({"ok": False, "error": str(exc)}, status_code=403, headers=headers)
    except VaultError as exc:
        return JSONResponse({"ok": False, "error": str(exc)}, headers=headers)
