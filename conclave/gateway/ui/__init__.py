"""The dashboard: static pages (HTML, CSS, vanilla JS modules, no build step, nothing
from the internet) at `/ui`. They hold no data of their own and no route of their own
beyond their files: every figure they show comes from the public API (`/v1/models`,
`/v1/rounds`, `POST /v1/rounds` events, `/v1/agents`, `/v1/experiments`), with the
API key the person gives the page. Nothing here runs on a completion's path."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse, Response

from conclave.errors import NotFound

STATIC = Path(__file__).parent / "static"
PREFIX = "/ui"
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}


def files() -> dict[str, Path]:
    """The files a page may load, by name: read once, so a request names one of them
    or gets a 404 (never a path under the package that was not meant to be served)."""
    return {p.name: p for p in sorted(STATIC.iterdir()) if p.suffix in MEDIA_TYPES}


def router() -> APIRouter:
    served = files()
    routes = APIRouter(include_in_schema=False)

    @routes.get("/")
    async def root() -> Response:
        return RedirectResponse(f"{PREFIX}/", status_code=307)

    @routes.get(PREFIX)
    async def bare() -> Response:
        return RedirectResponse(f"{PREFIX}/", status_code=307)

    @routes.get(f"{PREFIX}/")
    async def index() -> Response:
        return _file(served["index.html"])

    @routes.get(PREFIX + "/{name}")
    async def static(name: str) -> Response:
        path = served.get(name)
        if path is None:
            raise NotFound(f"the dashboard has no file {name!r}")
        return _file(path)

    return routes


def _file(path: Path) -> FileResponse:
    # no-cache: a browser revalidates (ETag) so a new gateway's pages are never stale.
    return FileResponse(
        path, media_type=MEDIA_TYPES[path.suffix], headers={"Cache-Control": "no-cache"}
    )
