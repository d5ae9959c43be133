"""The console's pages (issue 19): 证据检索, 证据详情 with playback, 案件, 合规待办, 对接站 and
报告. Each page is a client of the service: it calls operations only through
`request.state.call` / `request.state.call_files` (the one policy, every use and refusal
registered), never the database."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from vault.web import media
from vault.web.pages import cases, dock, evidence, reports, todo

ROUTES: list[BaseRoute] = [
    Route("/evidence", evidence.search),
    Route("/evidence/{evidence_id:int}", evidence.detail),
    Route("/evidence/{evidence_id:int}/play", evidence.play),
    Route("/evidence/{evidence_id:int}/poster.jpg", evidence.poster),
    Route("/evidence/{evidence_id:int}/copy", evidence.copy, methods=["POST"]),
    Route("/media/{token}/{name}", media.stream),
    Route("/media/{token}/end", media.end, methods=["POST"]),
    Route("/cases", cases.index),
    Route("/cases/{number:path}", cases.detail),
    Route("/todo", todo.index),
    Route("/todo/{action}", todo.act, methods=["POST"]),
    Route("/dock", dock.index),
    Route("/dock/status.json", dock.status),
    Route("/reports", reports.index),
    Route("/reports/report.html", reports.printable),
]
