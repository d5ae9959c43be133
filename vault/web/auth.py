"""Sessions and the gate every request passes (issue 19).

A session is a random token in the `evault_session` cookie (HttpOnly, SameSite=Strict,
Secure under HTTPS); the database keeps its SHA-256, its principal, its CSRF token and when
it was last used, and a session unused for `web.idle_minutes` ends. Every path but /login
and /static/ needs one: a GET without answers 303 to /login?next=PATH, any other method 401
(audited). A logged-in request gets `request.state.user`, `.csrf_token`, `.call` and
`.call_files`; a POST, PUT, PATCH or DELETE whose `csrf` field (or X-CSRF-Token header) is
not the session's is refused with 403 and registered.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio.to_thread
from sqlmodel import select
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from vault import i18n
from vault.access import accounts, register
from vault.context import Vault
from vault.db.models import Officer, Principal, WebSession
from vault.errors import AccessRefused, VaultError
from vault.service import api
from vault.web import security

log = logging.getLogger(__name__)

COOKIE = "evault_session"
LOGIN_COOKIE = "evault_login_csrf"  # the login form's CSRF token (double submit)
LANG_COOKIE = "evault_lang"
PUBLIC = ("/login", "/login/totp")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
MAX_FORM = 64 * 1024 * 1024  # a form's body, documents included
TOUCH_EVERY = timedelta(seconds=30)  # last_seen_at is written at most this often

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True)
class WebUser:
    name: str  # the principal's name
    display: str  # 姓名（执法证号）, or the name
    roles: list[str]


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(vault: Vault, principal_id: int, stage: str, remote: str | None) -> str:
    """A new session (STAGE "ok": logged in; "totp": the code is due); its cookie token."""
    token = security.new_token()
    now = vault.clock.now()
    with vault.session() as session:
        session.add(
            WebSession(
                token_hash=token_hash(token),
                principal_id=principal_id,
                csrf=security.new_token(),
                stage=stage,
                created_at=now,
                last_seen_at=now,
                remote=remote,
            )
        )
        session.commit()
    return token


def pending_principal(vault: Vault, token: str | None) -> int | None:
    """The principal of a session waiting for its TOTP code (within the idle time)."""
    if not token:
        return None
    with vault.session() as session:
        row = _live(vault, session, token)
        return row.principal_id if row is not None and row.stage == "totp" else None


def promote(vault: Vault, token: str) -> str:
    """A session whose code was right: ended, and a fresh one (a new token) logged in."""
    with vault.session() as session:
        row = _live(vault, session, token)
        assert row is not None
        row.ended_at = vault.clock.now()
        session.add(row)
        session.commit()
        principal_id = row.principal_id
    return start_session(vault, principal_id, "ok", row.remote)


def _live(vault: Vault, session: Any, token: str) -> WebSession | None:
    row: WebSession | None = session.exec(
        select(WebSession).where(WebSession.token_hash == token_hash(token))
    ).first()
    if row is None or row.ended_at is not None:
        return None
    now = vault.clock.now()
    if now - row.last_seen_at > timedelta(minutes=vault.settings.web.idle_minutes):
        row.ended_at = now
        session.add(row)
        name = session.get(Principal, row.principal_id)
        accounts.event(
            vault, session, "web.session_expired", name.name if name else None, session_id=row.id
        )
        session.commit()
        return None
    return row


def load_session(vault: Vault, token: str) -> tuple[WebUser, str] | None:
    """The logged-in user of TOKEN and its CSRF token, or None (no such session, ended,
    idle too long, waiting for its code, or its principal disabled)."""
    with vault.session() as session:
        row = _live(vault, session, token)
        if row is None or row.stage != "ok":
            return None
        principal = session.get(Principal, row.principal_id)
        now = vault.clock.now()
        if principal is None or principal.disabled_at is not None:
            row.ended_at = now
            session.add(row)
            session.commit()
            return None
        if now - row.last_seen_at >= TOUCH_EVERY:
            row.last_seen_at = now
            session.add(row)
            session.commit()
        display = principal.name
        if principal.officer_pk is not None:
            officer = session.get(Officer, principal.officer_pk)
            if officer is not None:
                display = f"{principal.name}（{officer.officer_id}）"
        return WebUser(principal.name, display, list(principal.roles)), row.csrf


def end_session(vault: Vault, token: str, remote: str | None) -> None:
    with vault.session() as session:
        row = session.exec(
            select(WebSession).where(WebSession.token_hash == token_hash(token))
        ).first()
        if row is None or row.ended_at is not None:
            return
        row.ended_at = vault.clock.now()
        session.add(row)
        principal = session.get(Principal, row.principal_id)
        accounts.event(
            vault, session, "web.logout", principal.name if principal else None, remote=remote
        )
        session.commit()


def caller(name: str) -> api.Caller:
    return api.Caller.web(name, os.getuid())


def make_call(vault: Vault, name: str) -> Callable[..., Any]:
    def call(op: str, **params: Any) -> Any:
        reply = api.run(vault, caller(name), op, params, remote=True, language=i18n.current())
        try:
            return _result(reply)
        finally:
            reply.cleanup()

    return call


def make_call_files(
    vault: Vault, name: str
) -> Callable[..., tuple[Any, dict[str, Path], Callable[[], None]]]:
    def call_files(op: str, **params: Any) -> tuple[Any, dict[str, Path], Callable[[], None]]:
        reply = api.run(vault, caller(name), op, params, remote=True, language=i18n.current())
        try:
            result = _result(reply)
        except BaseException:
            reply.cleanup()
            raise
        return result, _files(reply), reply.cleanup

    return call_files


def _files(reply: api.Reply) -> dict[str, Path]:
    """Every file handed back, by the name the operation gives it (`view/evidence-1.mp4`),
    folders included under their own names."""
    files: dict[str, Path] = {}
    for name, path in reply.files:
        files[name] = path
        if path.is_dir():
            for part in sorted(path.rglob("*")):
                files[f"{name}/{part.relative_to(path).as_posix()}"] = part
    return files


def _result(reply: api.Reply) -> Any:
    if reply.ok:
        return reply.result
    if reply.exit_code == AccessRefused.exit_code:
        raise AccessRefused(reply.message or reply.error or "refused")
    raise VaultError(reply.message or reply.error or "failed")


def remote_of(scope: Scope) -> str | None:
    client = scope.get("client")
    return str(client[0])[:64] if client else None


def language(request: Request, vault: Vault) -> str:
    asked = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
    return asked if asked in i18n.LANGUAGES else vault.settings.language


def _audit_unauthenticated(vault: Vault, method: str, path: str, remote: str | None) -> None:
    with vault.session() as session:
        accounts.event(
            vault, session, "web.refused", None, method=method, path=path[:256], remote=remote
        )
        session.commit()


def _register_csrf(vault: Vault, user: WebUser, method: str, path: str) -> None:
    acting = vault.for_user(f"web:{user.name}"[:64], user.name)
    with acting.session() as session:
        register.append(
            acting,
            session,
            "refused",
            who=user.name,
            handled_by=user.name,
            what=f"{method} {path}"[:256],
            detail={"attempt": f"web {method} {path}", "refusal": "no valid CSRF token"},
        )
        session.commit()


async def _body(receive: Receive) -> bytes | None:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


class AuthMiddleware:
    """The gate (see the module's doc), the security headers and the language."""

    def __init__(self, app: ASGIApp, vault: Vault) -> None:
        self.app = app
        self.vault = vault

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        request = Request(scope)
        lang = language(request, self.vault)
        set_lang = request.query_params.get("lang") in i18n.LANGUAGES
        static = path.startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                raw = [(k, v) for k, v in message.get("headers", []) if k != b"x-evault-framed"]
                framed = len(raw) != len(message.get("headers", []))
                extra = security.headers(framed)
                if static:
                    extra = [h for h in extra if h[0] != b"cache-control"]
                if set_lang:
                    cookie = f"{LANG_COOKIE}={lang}; Path=/; SameSite=Strict; HttpOnly"
                    extra.append((b"set-cookie", cookie.encode()))
                message["headers"] = raw + extra
            await send(message)

        with i18n.speaking(lang):
            await self._gate(scope, receive, send_with_headers, request, path, static)

    async def _gate(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        request: Request,
        path: str,
        static: bool,
    ) -> None:
        state = scope.setdefault("state", {})
        state["vault"] = self.vault
        if static or path in PUBLIC:
            state["user"] = None
            state["csrf_token"] = request.cookies.get(LOGIN_COOKIE) or security.new_token()
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        token = request.cookies.get(COOKIE)
        found = await anyio.to_thread.run_sync(load_session, self.vault, token) if token else None
        if found is None:
            response: Response
            if method in ("GET", "HEAD"):
                target = path + (
                    f"?{scope['query_string'].decode()}" if scope["query_string"] else ""
                )
                response = RedirectResponse(f"/login?next={quote(target, safe='')}", 303)
            else:
                remote = remote_of(scope)
                await anyio.to_thread.run_sync(
                    _audit_unauthenticated, self.vault, method, path, remote
                )
                response = PlainTextResponse(i18n._("Log in first."), 401)
            await response(scope, receive, send)
            return
        user, csrf = found
        state["user"] = user
        state["csrf_token"] = csrf
        state["call"] = make_call(self.vault, user.name)
        state["call_files"] = make_call_files(self.vault, user.name)
        if method not in SAFE_METHODS:
            body = await _body(receive)
            given = request.headers.get("x-csrf-token")
            if given is None and body is not None:
                form_request = Request(scope, _replay(body))
                async with form_request.form() as form:
                    field = form.get("csrf")
                    given = field if isinstance(field, str) else None
            if body is None or not security.same(given, csrf):
                await anyio.to_thread.run_sync(_register_csrf, self.vault, user, method, path)
                await PlainTextResponse(i18n._("Refused: the form has no valid token."), 403)(
                    scope, receive, send
                )
                return
            receive = _replay(body)
        await self.app(scope, receive, send)
