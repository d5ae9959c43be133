"""Pages from Jinja2 templates (vault/web/templates), autoescaped, in the request's language
(vault.i18n), with times shown in the vault's zone to the second as the CLI shows them."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from vault import i18n
from vault.timeutil import local_display

TEMPLATES = Path(__file__).resolve().parent / "templates"


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"], default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["_"] = i18n._
    env.globals["ngettext"] = i18n.ngettext
    return env


def fmt_time(value: datetime | str | None, tz: str) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, datetime):
        return value.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S")
    return local_display(value, tz)


def render(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    state = request.scope.get("state", {})
    vault = state.get("vault")
    tz = vault.settings.timezone if vault is not None else "UTC"
    values: dict[str, Any] = {
        "request": request,
        "user": state.get("user"),
        "csrf_token": state.get("csrf_token", ""),
        "fmt_time": lambda value: fmt_time(value, tz),
        "lang": i18n.current(),
        "html_lang": "zh-CN" if i18n.current() == "zh_CN" else "en",
        **context,
    }
    page = environment().get_template(name).render(values)
    return HTMLResponse(page, status_code=status_code)
