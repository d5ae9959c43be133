"""What every page shares: calling the service as the logged-in principal, and answering a
refusal or an error as a page of its own (the refusal is registered by the service)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from vault.errors import AccessRefused, NotFound, VaultError
from vault.i18n import _
from vault.web.templating import render

Page = Callable[..., Response]


def call(request: Request, op: str, **params: Any) -> Any:
    """One operation as the logged-in principal (the one policy decides)."""
    return request.state.call(op, **params)


def page(handler: Page) -> Page:
    """A page whose refusals and errors are shown as one clear line on a page."""

    @wraps(handler)
    def answered(request: Request, *args: Any) -> Response:
        try:
            return handler(request, *args)
        except AccessRefused as exc:
            return problem(request, _("Refused"), str(exc), 403)
        except NotFound as exc:
            return problem(request, _("Not found"), str(exc), 404)
        except VaultError as exc:
            return problem(request, _("Cannot do that"), str(exc), 400)

    return answered


def problem(request: Request, title: str, message: str, status: int) -> Response:
    return render(
        request, "pages/problem.html", {"title": title, "message": message}, status_code=status
    )


def text(request: Request, name: str) -> str | None:
    """A query parameter as typed, or None when empty."""
    value = request.query_params.get(name, "").strip()
    return value or None


def number(request: Request, name: str) -> int | None:
    value = text(request, name)
    if value is None:
        return None
    if not value.isdigit():
        raise VaultError(_("{name} must be a whole number").format(name=name))
    return int(value)
