"""The console's own pages: login and logout, 待审批 (the approval queue, one request with
its documents, approve and deny) and 查阅登记簿 (the register, its verification, CSV and
PDF). Every record comes through `request.state.call`: the service's operations, as the
logged-in principal, under the one policy."""

from __future__ import annotations

import asyncio
import mimetypes
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from vault import i18n
from vault.access import accounts, wording
from vault.access.approval import LEVELS, required_level
from vault.access.policy import SUPERVISORY
from vault.context import Vault
from vault.db.models import RegisterEntry
from vault.errors import AccessRefused, VaultError
from vault.web import auth, security
from vault.web.templating import render

_ = i18n._
PAGE_SIZE = 50
STATUSES = ("pending", "approved", "denied")


def _vault(request: Request) -> Vault:
    vault = request.scope["state"]["vault"]
    assert isinstance(vault, Vault)
    return vault


def _safe_next(target: str | None) -> str:
    """Only a path of this site (never //host or a scheme)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    if any(ch <= " " or ch == "\x7f" for ch in target):  # "/\t/host" is "//host" to a browser
        return "/"
    return target


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _set_cookie(request: Request, response: Response, name: str, value: str) -> None:
    response.set_cookie(
        name, value, httponly=True, samesite="strict", secure=_secure(request), path="/"
    )


def _login_page(
    request: Request,
    error: str | None = None,
    code_step: bool = False,
    status: int = 200,
    next_: str | None = None,
) -> Response:
    csrf = request.cookies.get(auth.LOGIN_COOKIE) or request.scope["state"]["csrf_token"]
    response = render(
        request,
        "login.html",
        {
            "error": error,
            "next": _safe_next(next_ or request.query_params.get("next")),
            "code_step": code_step,
            "csrf_token": csrf,
        },
        status,
    )
    if request.cookies.get(auth.LOGIN_COOKIE) != csrf:
        _set_cookie(request, response, auth.LOGIN_COOKIE, csrf)
    return response


async def login_form(request: Request) -> Response:
    return _login_page(request)


def _refused_login(request: Request, login: accounts.Login, next_: str | None = None) -> Response:
    if login.status == "locked":
        vault = _vault(request)
        minutes = vault.settings.web.lockout_minutes
        text = _(
            "The account is locked after too many failed logins; try again in {minutes} "
            "minutes or ask a records keeper for a new password."
        )
        return _login_page(request, text.format(minutes=minutes), status=403, next_=next_)
    return _login_page(request, _("Wrong name, password or code."), status=401, next_=next_)


async def _checked_form(request: Request) -> Any:
    form = await request.form()
    if not security.same(_text(form, "csrf"), request.cookies.get(auth.LOGIN_COOKIE)):
        return None
    return form


def _text(form: Any, key: str) -> str:
    value = form.get(key)
    return value if isinstance(value, str) else ""


async def _slow_down(request: Request, login: accounts.Login) -> None:
    delay = _vault(request).settings.web.failure_delay_s * max(login.failures, 1)
    await asyncio.sleep(min(delay, 10.0))


async def login(request: Request) -> Response:
    form = await _checked_form(request)
    if form is None:
        return _login_page(request, _("The form expired; please log in again."), status=403)
    vault = _vault(request)
    remote = auth.remote_of(request.scope)
    login = await run_in_threadpool(
        accounts.check_password,
        vault,
        _text(form, "username").strip(),
        _text(form, "password"),
        remote,
    )
    if login.status in ("failed", "locked"):
        await _slow_down(request, login)
        return _refused_login(request, login, _text(form, "next"))
    assert login.principal_id is not None
    token = await run_in_threadpool(
        auth.start_session, vault, login.principal_id, login.status, remote
    )
    if login.status == "totp":
        response = _login_page(request, code_step=True, next_=_text(form, "next"))
    else:
        response = RedirectResponse(_safe_next(_text(form, "next")), 303)
    _set_cookie(request, response, auth.COOKIE, token)
    return response


async def login_totp(request: Request) -> Response:
    form = await _checked_form(request)
    if form is None:
        return _login_page(request, _("The form expired; please log in again."), status=403)
    vault = _vault(request)
    token = request.cookies.get(auth.COOKIE)
    principal_id = await run_in_threadpool(auth.pending_principal, vault, token)
    if principal_id is None or token is None:
        return _login_page(request, _("The form expired; please log in again."), status=403)
    remote = auth.remote_of(request.scope)
    login = await run_in_threadpool(
        accounts.check_totp, vault, principal_id, _text(form, "code"), remote
    )
    if login.status != "ok":
        await _slow_down(request, login)
        if login.status == "locked":
            return _refused_login(request, login, _text(form, "next"))
        words = _("Wrong name, password or code.")
        return _login_page(request, words, code_step=True, status=401, next_=_text(form, "next"))
    fresh = await run_in_threadpool(auth.promote, vault, token)
    response = RedirectResponse(_safe_next(_text(form, "next")), 303)
    _set_cookie(request, response, auth.COOKIE, fresh)
    return response


def logout(request: Request) -> Response:
    token = request.cookies.get(auth.COOKIE)
    if token:
        auth.end_session(_vault(request), token, auth.remote_of(request.scope))
    response = RedirectResponse("/login", 303)
    response.delete_cookie(auth.COOKIE, path="/")
    return response


def home(request: Request) -> Response:
    return RedirectResponse("/approvals", 303)


def _refused(request: Request, exc: VaultError, back: str | None = None) -> Response:
    refused = isinstance(exc, AccessRefused)
    context = {"error": str(exc), "refused": refused, "back": back}
    return render(request, "refused.html", context, 403 if refused else 400)


def _page_of(request: Request) -> int:
    try:
        return max(1, int(request.query_params.get("page", "1")))
    except ValueError:
        return 1


def _pages(rows: list[Any], page: int) -> tuple[list[Any], dict[str, Any]]:
    """One page of rows fetched PAGE_SIZE + 1 at a time (the one more: a next page)."""
    more = len(rows) > PAGE_SIZE
    return rows[:PAGE_SIZE], {"page": page, "more": more}


def _paged(page: int) -> dict[str, Any]:
    return {"limit": PAGE_SIZE + 1, "offset": (page - 1) * PAGE_SIZE}


def _url(path: str, **query: Any) -> str:
    kept = {k: v for k, v in query.items() if v not in (None, "")}
    return f"{path}?{urlencode(kept)}" if kept else path


def approvals(request: Request) -> Response:
    status = request.query_params.get("status", "pending")
    if status not in (*STATUSES, "all"):
        status = "pending"
    call = request.state.call
    page = _page_of(request)
    try:
        rows = call(
            "access.requests",
            status=None if status == "all" else status,
            newest_first=status != "pending",  # the queue: oldest first
            **_paged(page),
        )
    except VaultError as exc:
        return _refused(request, exc)
    rows, paging = _pages(rows, page)
    return render(
        request,
        "approvals.html",
        {
            "rows": rows,
            "status": status,
            "statuses": STATUSES,
            "paging": paging,
            "page_url": lambda n: _url("/approvals", status=status, page=n),
            "done": request.query_params.get("done"),
            "done_id": request.query_params.get("id"),
        },
    )


def _is_pdf(name: str) -> bool:
    return name.lower().endswith(".pdf")


def _is_image(name: str) -> bool:
    return (mimetypes.guess_type(name)[0] or "").startswith("image/")


def _detail(
    request: Request, request_id: int, error: str | None = None, status: int = 200
) -> Response:
    vault = _vault(request)
    try:
        shown = request.state.call("access.show", request_id=request_id)
    except VaultError as exc:
        return _refused(request, exc)
    requester = shown.get("requester") or {}
    kind = requester.get("kind", "staff")
    needed = required_level(vault.settings, kind=kind, action=shown["action"])
    return render(
        request,
        "approvals_detail.html",
        {
            "r": shown,
            "needed": f"{LEVELS[needed]}",
            "ground_required": kind in SUPERVISORY,
            "grant_days": vault.settings.access.grant_days,
            "max_days": vault.settings.access.max_grant_days,
            "error": error,
            "is_pdf": _is_pdf,
            "is_image": _is_image,
            "quote": lambda text: quote(text, safe=""),
        },
        status,
    )


def approval(request: Request) -> Response:
    return _detail(request, int(request.path_params["request_id"]))


def document(request: Request) -> Response:
    request_id = int(request.path_params["request_id"])
    kind = str(request.path_params["kind"])
    try:
        shown, files, cleanup = request.state.call_files(
            "access.document", request_id=request_id, kind=kind
        )
    except VaultError as exc:
        return _refused(request, exc)
    name = str(shown.get("file_name") or "document")
    media = "application/pdf" if _is_pdf(name) else mimetypes.guess_type(name)[0]
    inline = media == "application/pdf" or (media or "").startswith("image/")
    response = FileResponse(
        Path(files["document"]),
        media_type=media if inline else "application/octet-stream",
        filename=name,
        content_disposition_type="inline" if inline else "attachment",
        background=BackgroundTask(cleanup),
    )
    response.headers[security.FRAMED_BY_SELF] = "1"
    return response


def _days(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() else None


async def decide(request: Request) -> Response:
    request_id = int(request.path_params["request_id"])
    action = str(request.path_params["action"])
    if action not in ("approve", "deny"):
        return Response(status_code=404)
    form = await request.form()
    reason = _text(form, "reason").strip()
    call = request.state.call
    try:
        if action == "approve":
            days = _days(_text(form, "days"))
            await run_in_threadpool(
                call, "access.approve", request_id=request_id, reason=reason, days=days
            )
        else:
            ground = _text(form, "statutory_ground").strip() or None
            await run_in_threadpool(
                call,
                "access.deny",
                request_id=request_id,
                reason=reason,
                statutory_ground=ground,
            )
    except AccessRefused as exc:  # registered; the page is not fetched again for it
        return _refused(request, exc, back=f"/approvals/{request_id}")
    except VaultError as exc:
        return await run_in_threadpool(_detail, request, request_id, str(exc), 400)
    done = "approved" if action == "approve" else "denied"
    return RedirectResponse(_url("/approvals", done=done, id=request_id), 303)


# The chain's verification reads the whole register: done at most once a minute for the
# page (each viewer's call still decided by the policy), not on every page view.
VERIFY_EVERY_S = 60.0
_verifications: dict[int, tuple[float, dict[str, Any]]] = {}


def _verified(request: Request) -> dict[str, Any]:
    key = id(_vault(request))
    now = time.monotonic()
    held = _verifications.get(key)
    if held is not None and now - held[0] < VERIFY_EVERY_S:
        request.state.call("access.log", limit=0)  # the policy still decides for this user
        return held[1]
    report: dict[str, Any] = request.state.call("access.log", verify=True)
    _verifications[key] = (now, report)
    return report


def register_page(request: Request) -> Response:
    call = request.state.call
    span = {
        "from_": request.query_params.get("from") or None,
        "to": request.query_params.get("to") or None,
    }
    page = _page_of(request)
    try:
        entries = call("access.log", newest_first=True, **_paged(page), **span)
        report = _verified(request)
    except VaultError as exc:
        return _refused(request, exc)
    entries, paging = _pages(entries, page)
    query = {"from": span["from_"], "to": span["to"]}
    return render(
        request,
        "register.html",
        {
            "entries": entries,
            "report": report,
            "paging": paging,
            "page_url": lambda n: _url("/register", page=n, **query),
            "csv_url": _url("/register.csv", **query),
            "pdf_url": _url("/register.pdf", **query),
            "span_from": span["from_"] or "",
            "span_to": span["to"] or "",
            "events": wording.EVENTS if i18n.current() == "zh_CN" else {},
            "what": _what_words if i18n.current() == "zh_CN" else None,
        },
    )


def _what_words(entry: dict[str, Any]) -> str:
    """The 查阅内容 column as the paper register words it (vault.access.wording)."""
    fields: dict[str, Any] = {
        "event": entry["event"],
        "what": entry.get("what"),
        "detail": entry.get("detail") or {},
    }
    return wording.what(RegisterEntry(**fields))


def register_file(request: Request) -> Response:
    suffix = str(request.path_params["suffix"])
    if suffix not in ("csv", "pdf"):
        return Response(status_code=404)
    span = {
        "from_": request.query_params.get("from") or None,
        "to": request.query_params.get("to") or None,
    }
    try:
        _shown, files, cleanup = request.state.call_files(
            "access.log", csv=suffix == "csv", pdf=suffix == "pdf", **span
        )
    except VaultError as exc:
        return _refused(request, exc)
    name = f"register.{suffix}"
    media = "text/csv; charset=utf-8" if suffix == "csv" else "application/pdf"
    return FileResponse(
        Path(files[name]),
        media_type=media,
        filename=name,
        background=BackgroundTask(cleanup),
    )


ROUTES: list[BaseRoute] = [
    Route("/", home),
    Route("/login", login_form, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/login/totp", login_totp, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/approvals", approvals),
    Route("/approvals/{request_id:int}", approval),
    Route("/approvals/{request_id:int}/documents/{kind:str}", document),
    Route("/approvals/{request_id:int}/{action:str}", decide, methods=["POST"]),
    Route("/register", register_page),
    Route("/register.{suffix:str}", register_file),
]
