"""Operations of the worklists (issue 17): sessions, gaps that need a reason, late clips
without one, one access request and its documents, and `todo`, what the caller is expected
to act on. An officer (scope `own`) sees only his own recording and his own requests."""

from __future__ import annotations

from typing import Any

from vault.compliance import todo as todos
from vault.compliance import worklists
from vault.compliance.report import ReportFilters
from vault.errors import AccessRefused, VaultError
from vault.i18n import N_
from vault.service.api import Call, operation
from vault.service.ops.scopes import own_badge
from vault.timeutil import parse_span


def _filters(
    call: Call,
    officer: str | None,
    device: str | None,
    from_: str | None,
    to: str | None,
) -> ReportFilters:
    if call.scope == "own":
        badge = own_badge(call)
        if officer not in (None, badge):
            raise AccessRefused(
                N_(
                    "{who} sees only the recording of officer {badge} (their own), not of {officer}"
                ),
                who=call.name,
                badge=badge,
                officer=officer,
            )
        officer = badge
    start, end = parse_span(from_, to, call.vault.settings.timezone)
    return ReportFilters(range_from=start, range_to=end, officer_id=officer, device_id=device)


@operation("session.list")
def session_list(
    call: Call,
    officer: str | None = None,
    device: str | None = None,
    from_: str | None = None,
    to: str | None = None,
    ids: list[int] | None = None,
) -> list[dict[str, Any]]:
    return worklists.sessions(call.vault, _filters(call, officer, device, from_, to), ids)


@operation("session.gaps")
def gaps(
    call: Call,
    all_: bool = False,
    officer: str | None = None,
    device: str | None = None,
    from_: str | None = None,
    to: str | None = None,
) -> list[dict[str, Any]]:
    return worklists.gaps(call.vault, _filters(call, officer, device, from_, to), all_)


@operation("compliance.late")
def late(
    call: Call,
    officer: str | None = None,
    from_: str | None = None,
    to: str | None = None,
) -> list[dict[str, Any]]:
    return worklists.late(call.vault, _filters(call, officer, None, from_, to))


def _may_see(call: Call, request_id: int) -> None:
    """The policy's readers see every request; an officer those he asked for or filed."""
    if call.scope != "own":
        return
    me = call.principal.id if call.principal else None
    with call.vault.session() as session:
        request = worklists.get_request(session, request_id)
        parties = (request.requester_id, request.filed_by_id)
    if me not in parties:
        raise AccessRefused(
            N_("{who}: request {id} is neither theirs nor filed by them"),
            who=call.name,
            id=request_id,
        )


@operation("access.show")
def show(call: Call, request_id: int) -> dict[str, Any]:
    _may_see(call, request_id)
    return worklists.request_detail(call.vault, request_id)


@operation("access.document")
def document(call: Call, request_id: int, kind: str) -> dict[str, Any]:
    """The request's sealed document of KIND, handed back as the file `document`."""
    if not kind:
        raise VaultError(N_("give the document's kind (e.g. {example})"), example="unit_letter")
    return worklists.write_document(call.vault, request_id, kind, call.output("document"))


@operation("todo")
def todo(call: Call) -> dict[str, Any]:
    me = call.principal.id if call.principal else None
    badge = call.badge() if "officer" in call.roles else None
    return todos.todo(call.vault, list(call.roles), me, badge)
