"""The web console's Starlette app: the core pages, vault.web.pages' pages, the static files,
behind the gate of vault.web.auth."""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from vault.context import Vault
from vault.web import core_pages
from vault.web.auth import AuthMiddleware

STATIC = Path(__file__).resolve().parent / "static"


def _page_routes() -> list[BaseRoute]:
    if importlib.util.find_spec("vault.web.pages") is None:
        return []  # the console without the other pages
    pages = importlib.import_module("vault.web.pages")
    return list(pages.ROUTES)


def create_app(vault: Vault) -> Starlette:
    from vault.service.ops import known_operations

    known_operations()  # every operation registered, as in the service
    routes: list[BaseRoute] = [
        *core_pages.ROUTES,
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
        *_page_routes(),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(AuthMiddleware, vault=vault)])
    app.state.vault = vault
    return app
