"""合规待办: the caller's worklist (`todo`), each row with its form posting to the operation
that settles it (`session.annotate`, `compliance.late-reason`, `stop-record.approve`,
`session.review`, `review.record`). Forms carry the hidden `csrf` field."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from vault.compliance.reasons import GAP_REASONS
from vault.errors import UsageError
from vault.i18n import N_, _
from vault.web.pages.common import call, page
from vault.web.templating import render

# Section -> its title and its columns: (key, label, how: "id" never cut, "time", "text").
SECTIONS: dict[str, tuple[str, list[tuple[str, str, str]]]] = {
    "requests_to_decide": (
        N_("Requests to decide"),
        [
            ("request_id", N_("Request"), "id"),
            ("requester", N_("Requester"), "text"),
            ("action", N_("Kind"), "text"),
            ("scope", N_("Scope"), "id"),
            ("filed_at", N_("Filed at"), "time"),
            ("level_needed", N_("Level needed"), "text"),
        ],
    ),
    "purge_lists_to_sign": (
        N_("Purge lists to sign"),
        [
            ("list_id", N_("List"), "id"),
            ("drawn_by", N_("Drawn by"), "text"),
            ("drawn_at", N_("Drawn at"), "time"),
            ("items", N_("Items"), "id"),
        ],
    ),
    "reasons_to_review": (
        N_("Written reasons to review"),
        [
            ("subject", N_("Subject"), "id"),
            ("version", N_("Version"), "id"),
            ("given_by", N_("Given by"), "text"),
            ("given_at", N_("Given at"), "time"),
            ("note", N_("Note"), "text"),
        ],
    ),
    "purge_lists_to_mark": (
        N_("Purge lists to mark"),
        [
            ("list_id", N_("List"), "id"),
            ("drawn_at", N_("Drawn at"), "time"),
            ("items", N_("Items"), "id"),
            ("unmarked", N_("Unmarked"), "id"),
        ],
    ),
    "stop_records_to_approve": (
        N_("Stop records to approve"),
        [
            ("stop_id", N_("Stop record"), "id"),
            ("device_id", N_("Camera"), "id"),
            ("officer_id", N_("Officer badge"), "id"),
            ("officer_name", N_("Officer name"), "text"),
            ("from", N_("From"), "time"),
            ("to", N_("To"), "time"),
            ("reason", N_("Reason"), "text"),
            ("filed_by", N_("Filed by"), "text"),
        ],
    ),
    "gaps_without_reason": (
        N_("Interruptions waiting for a reason"),
        [
            ("gap_id", N_("Interruption"), "id"),
            ("device_id", N_("Camera"), "id"),
            ("officer_id", N_("Officer badge"), "id"),
            ("officer_name", N_("Officer name"), "text"),
            ("from", N_("From"), "time"),
            ("to", N_("To"), "time"),
            ("seconds", N_("Seconds"), "id"),
            ("before", N_("Clip before"), "id"),
            ("after", N_("Clip after"), "id"),
        ],
    ),
    "late_without_reason": (
        N_("Late clips without a reason"),
        [
            ("evidence_id", N_("Evidence ID"), "id"),
            ("file_name", N_("File"), "id"),
            ("device_id", N_("Camera"), "id"),
            ("officer_id", N_("Officer badge"), "id"),
            ("officer_name", N_("Officer name"), "text"),
            ("recorded_at", N_("Recorded at"), "time"),
            ("due", N_("Due"), "time"),
            ("sealed_at", N_("Sealed at"), "time"),
            ("hours_late", N_("Hours late"), "id"),
        ],
    ),
    "openings_without_narration": (
        N_("Recordings that open without narration"),
        [
            ("session_id", N_("Session"), "id"),
            ("device_id", N_("Camera"), "id"),
            ("officer_id", N_("Officer badge"), "id"),
            ("officer_name", N_("Officer name"), "text"),
            ("start", N_("From"), "time"),
            ("end", N_("To"), "time"),
            ("evidence_id", N_("Evidence ID"), "id"),
            ("finding", N_("What was found"), "text"),
        ],
    ),
    "spot_checks_to_review": (
        N_("Spot-check sessions to review"),
        [
            ("draw_id", N_("Draw"), "id"),
            ("drawn_at", N_("Drawn at"), "time"),
            ("session_id", N_("Session"), "id"),
            ("device_id", N_("Camera"), "id"),
            ("officer_id", N_("Officer badge"), "id"),
            ("officer_name", N_("Officer name"), "text"),
            ("start", N_("From"), "time"),
            ("end", N_("To"), "time"),
        ],
    ),
    "clocks_to_set": (
        N_("Camera clocks to set"),
        [
            ("device_id", N_("Camera"), "id"),
            ("dock_id", N_("Docking"), "id"),
            ("docked_at", N_("Docked at"), "time"),
            ("offset_s", N_("Offset (s)"), "id"),
            ("finding", N_("What was found"), "text"),
        ],
    ),
    "dead_media_jobs": (
        N_("Media jobs that failed"),
        [("kind", N_("Kind"), "text"), ("dead", N_("Count"), "id")],
    ),
    "discs_to_make": (
        N_("Evidence discs to make"),
        [
            ("evidence_id", N_("Evidence ID"), "id"),
            ("file_name", N_("File"), "id"),
            ("category", N_("Category"), "text"),
        ],
    ),
    "grants_expiring": (
        N_("Grants about to expire"),
        [
            ("grant_id", N_("Grant"), "id"),
            ("action", N_("Kind"), "text"),
            ("scope", N_("Scope"), "id"),
            ("expires_at", N_("Expires at"), "time"),
        ],
    ),
    "last_verification": (
        N_("Last verification"),
        [
            ("verified_at", N_("Verified at"), "time"),
            ("exit_code", N_("Exit status"), "id"),
            ("findings", N_("Findings"), "id"),
            ("by", N_("By"), "text"),
        ],
    ),
}

# action in the form's URL -> (operation, its fields: name -> type)
ACTIONS: dict[str, tuple[str, dict[str, type]]] = {
    "annotate": ("session.annotate", {"gap_id": int, "reason": str, "note": str}),
    "late-reason": ("compliance.late-reason", {"evidence_id": int, "note": str}),
    "stop-approve": ("stop-record.approve", {"stop_id": int}),
    "review-reason": ("session.review", {"subject": str, "result": str, "note": str}),
    "review-record": ("review.record", {"session_id": int, "result": str, "note": str}),
}


SHOWN = 200  # rows a section shows; `evault todo` lists them all


@page
def index(request: Request) -> Response:
    found = call(request, "todo")
    done = request.query_params.get("done")
    sections = found["sections"]
    context: dict[str, Any] = {
        "sections": {name: rows[:SHOWN] for name, rows in sections.items()},
        "totals": {name: len(rows) for name, rows in sections.items()},
        "layout": SECTIONS,
        "generated_at": found["generated_at"],
        "gap_reasons": GAP_REASONS,
        "done": done,
        # A spot check's result is recorded by a records keeper or an auditor (review.record).
        "reviews": bool({"records_keeper", "auditor"} & set(found["roles"])),
    }
    return render(request, "pages/todo.html", context)


async def act(request: Request) -> Response:
    form = await request.form()
    given = {name: value for name, value in form.items() if isinstance(value, str)}
    return await run_in_threadpool(_settle, request, given)


@page
def _settle(request: Request, form: dict[str, str]) -> Response:
    action = request.path_params["action"]
    if action not in ACTIONS:
        raise UsageError(_("unknown action"))
    op, fields = ACTIONS[action]
    params: dict[str, Any] = {}
    for name, kind in fields.items():
        value = str(form.get(name, "")).strip()
        if kind is int:
            if not value.isdigit():
                raise UsageError(_("{name} must be a whole number").format(name=name))
            params[name] = int(value)
        else:
            params[name] = value
    call(request, op, **params)
    return RedirectResponse(f"/todo?done={action}", status_code=303)
