# STAND-IN (core owns this file)
"""Jinja2 templates (stand-in): render(request, name, context)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse

from vault.i18n import _

env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
)


def _fmt_time(tz: str) -> Any:
    def fmt_time(value: datetime | str | None) -> str:
        if value is None or value == "":
            return ""
        when = datetime.fromisoformat(value) if isinstance(value, str) else value
        return when.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S")

    return fmt_time


def render(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    tz = request.app.state.vault.settings.timezone
    values = {
        "_": _,
        "user": getattr(request.state, "user", None),
        "csrf_token": getattr(request.state, "csrf_token", ""),
        "request": request,
        "fmt_time": _fmt_time(tz),
        **context,
    }
    return HTMLResponse(env.get_template(name).render(values), status_code=status_code)
