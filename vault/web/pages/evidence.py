"""证据检索 and 证据详情: finding evidence (`evidence.list`), one record's facts
(`evidence.show`), its poster (`evidence.thumbnail`, cached per session) and its playback
(`evidence.view`, vault.web.media)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from vault.errors import AccessRefused, VaultError
from vault.web import media
from vault.web.pages.common import call, number, page, text
from vault.web.templating import render

PAGE_SIZE = 50
FILTERS = ("case", "case_name", "officer", "officer_name", "device", "unit", "from", "to")
CHOICES = ("class", "status")
CLASSES = ("routine", "long_term", "case")
STATUSES = ("sealed", "verified", "failed")


@page
def search(request: Request) -> Response:
    given = {name: text(request, name) for name in (*FILTERS, *CHOICES)}
    page_no = max(1, number(request, "page") or 1)
    after = text(request, "after")
    found = call(
        request,
        "evidence.list",
        case=given["case"],
        case_name=given["case_name"],
        officer=given["officer"],
        officer_name=given["officer_name"],
        device=given["device"],
        unit=given["unit"],
        from_=given["from"],
        to=given["to"],
        retention_class=given["class"],
        status=given["status"],
        limit=PAGE_SIZE,
        after=after,
        explain=True,
    )
    # Pages by key (issue 22): each page starts after the last row of the one before it, as
    # quick deep in a province's vault as at its start; "first page" goes back to the start.
    rows, cursor = found["evidence"], found["next"]
    kept = {k: v for k, v in given.items() if v}

    def link(to_page: int, start: str | None) -> str:
        return "/evidence?" + urlencode(
            {**kept, "page": to_page, **({"after": start} if start else {})}
        )

    return render(
        request,
        "pages/evidence_search.html",
        {
            "rows": rows,
            "given": given,
            "page_no": page_no,
            "first": link(1, None) if after else None,
            "next": link(page_no + 1, cursor) if cursor else None,
            "classes": CLASSES,
            "statuses": STATUSES,
        },
    )


def _detail(request: Request, evidence_id: int) -> dict[str, Any]:
    facts = call(request, "evidence.show", evidence_id=evidence_id)
    custody = [
        {"what": "sealed", "at": facts.get("sealed_at"), "detail": facts["storage"]["key"]},
        *(
            {"what": "seen", "at": s["seen_at"], "detail": s, "erased_at": s["erased_at"]}
            for s in facts["sightings"]
        ),
    ]
    return {"facts": facts, "custody": custody}


@page
def detail(request: Request) -> Response:
    evidence_id = request.path_params["evidence_id"]
    return render(request, "pages/evidence_detail.html", _detail(request, evidence_id))


@page
def play(request: Request) -> Response:
    """The record's page with its viewing copy playing: one playback, one view registered."""
    evidence_id = request.path_params["evidence_id"]
    context = _detail(request, evidence_id)
    playback = media.start(request, evidence_id)
    context["playback"] = playback
    context["now"] = datetime.now(UTC)
    context["video_url"] = f"/media/{playback.token}/{playback.path.name}"
    return render(request, "pages/evidence_detail.html", context)


@page
def copy(request: Request) -> Response:
    """A copy to keep: `evidence.view` with keep, allowed only under a copy grant (the
    service refuses, and registers the refusal, otherwise)."""
    evidence_id = request.path_params["evidence_id"]
    result, files, cleanup = request.state.call_files(
        "evidence.view", evidence_id=evidence_id, keep=True
    )
    path = files[result["file"]]
    return FileResponse(
        path,
        filename=path.name,
        headers={"Cache-Control": "no-store"},
        background=BackgroundTask(cleanup),
    )


POSTERS = 4000  # posters kept in memory, across sessions
_posters: OrderedDict[tuple[str, int], bytes | str] = OrderedDict()
_posters_lock = threading.Lock()


def poster(request: Request) -> Response:
    """The record's poster frame, fetched through `evidence.thumbnail` once per session (each
    fetch is a registered view) and kept for the session; a refusal is kept too, so a page of
    results asks the service once per clip."""
    evidence_id = request.path_params["evidence_id"]
    key = (request.cookies.get("evault_session", "") + "|" + request.state.user.name, evidence_id)
    with _posters_lock:
        known = _posters.get(key)
        if known is not None:
            _posters.move_to_end(key)
    if known is None:
        try:
            result, files, cleanup = request.state.call_files(
                "evidence.thumbnail", evidence_id=evidence_id
            )
            try:
                known = files[result["file"]].read_bytes()
            finally:
                cleanup()
        except AccessRefused:
            known = "refused"
        except VaultError:
            known = "missing"
        with _posters_lock:
            _posters[key] = known
            while len(_posters) > POSTERS:
                _posters.popitem(last=False)
    headers = {"Cache-Control": "private, max-age=3600"}
    if isinstance(known, str):
        return Response(status_code=403 if known == "refused" else 404, headers=headers)
    return Response(known, media_type="image/jpeg", headers=headers)
