# STAND-IN (core owns this file)
"""The web application (stand-in): a password login, in-memory sessions, a CSRF token,
the security headers, and the pages' routes."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from vault.access import register
from vault.context import Vault
from vault.web import accounts, auth

HEADERS = {
    "Content-Security-Policy": "default-src 'self'; media-src 'self'; img-src 'self'; "
    "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
COOKIE = "evault_session"


class _Sessions(BaseHTTPMiddleware):
    async def dispatch(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await self._dispatch(request, call_next)
        for key, value in HEADERS.items():
            response.headers[key] = value
        return response

    async def _dispatch(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        vault: Vault = request.app.state.vault
        sessions: dict[str, dict[str, str]] = request.app.state.sessions
        token = request.cookies.get(COOKIE, "")
        session = sessions.get(token)
        path = request.url.path
        if path.startswith("/static/"):
            return await call_next(request)
        if path == "/login":
            request.state.csrf_token = request.app.state.login_csrf
            request.state.user = None
            return await call_next(request)
        if session is None:
            if request.method == "GET":
                return RedirectResponse(f"/login?next={path}", status_code=303)
            return PlainTextResponse("login required", status_code=401)
        user = auth.web_user(vault, session["name"])
        if user is None:
            return RedirectResponse("/login", status_code=303)
        if request.method not in ("GET", "HEAD"):
            given = request.headers.get("x-csrf-token")
            if given is None:  # read a copy of the body: the endpoint reads it again
                body = await request.body()

                async def replay() -> dict[str, Any]:
                    return {"type": "http.request", "body": body, "more_body": False}

                form = await Request(request.scope, replay).form()
                value = form.get("csrf")
                given = value if isinstance(value, str) else None
            if not given or not secrets.compare_digest(given, session["csrf"]):
                with vault.session() as db:
                    register.append(
                        vault,
                        db,
                        "refused",
                        who=user.name,
                        handled_by=user.name,
                        what=f"web {request.method} {path}",
                        detail={"refusal": "CSRF token missing or wrong"},
                    )
                    db.commit()
                return PlainTextResponse("CSRF token missing or wrong", status_code=403)
        request.state.user = user
        request.state.csrf_token = session["csrf"]
        request.state.call, request.state.call_files = auth.caller_functions(vault, user.name)
        return await call_next(request)


LOGIN = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>登录</title>
</head><body><form method="post" action="/login">
<input type="hidden" name="csrf" value="{csrf}"><input type="hidden" name="next" value="{next}">
<label>用户名 <input name="username"></label> <label>密码 <input name="password"
type="password"></label> <button>登录</button></form></body></html>"""


async def _login(request: Request) -> Response:
    if request.method == "GET":
        page = LOGIN.format(
            csrf=request.app.state.login_csrf, next=request.query_params.get("next", "/")
        )
        return HTMLResponse(page)
    form = await request.form()
    vault: Vault = request.app.state.vault
    username, password = str(form.get("username", "")), str(form.get("password", ""))
    if form.get("csrf") != request.app.state.login_csrf:
        return PlainTextResponse("CSRF token missing or wrong", status_code=403)
    if not accounts.check_password(vault, username, password):
        return PlainTextResponse("wrong name or password", status_code=401)
    token = secrets.token_urlsafe(24)
    request.app.state.sessions[token] = {"name": username, "csrf": secrets.token_urlsafe(24)}
    target = str(form.get("next") or "/")
    response = RedirectResponse(target if target.startswith("/") else "/", status_code=303)
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
    return response


async def _logout(request: Request) -> Response:
    request.app.state.sessions.pop(request.cookies.get(COOKIE, ""), None)
    return RedirectResponse("/login", status_code=303)


async def _home(request: Request) -> Response:
    return RedirectResponse("/evidence", status_code=303)


def create_app(vault: Vault) -> Starlette:
    from vault.web import pages

    routes: list[BaseRoute] = [
        Route("/", _home),
        Route("/login", _login, methods=["GET", "POST"]),
        Route("/logout", _logout, methods=["POST"]),
        Mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static"),
        *pages.ROUTES,
    ]
    app = Starlette(routes=routes, middleware=[Middleware(_Sessions)])
    app.state.vault = vault
    app.state.sessions = {}
    app.state.login_csrf = secrets.token_urlsafe(24)
    state: Any = app.state
    state.cleanups = []
    return app
