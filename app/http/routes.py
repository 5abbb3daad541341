"""The service's own endpoints: ``GET /`` (the exposed refs) and ``/-/…`` (``/-/healthz``).

Rules:
- These are not the hot path, so they are ordinary Starlette routes; ``app.create_app``
  sends only ``/``, ``/-`` and ``/-/…`` here. ``/-/`` is reserved: no ref can start with ``-``
  (git check-ref-format), so no file URL is ever shadowed.
- Answers carry the service-wide headers (``errors.COMMON``) like file answers do, and are
  never cached long: they describe the repository's current state.
"""

from __future__ import annotations

import hashlib

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.git import GitError
from app.http import listing
from app.http.cachecontrol import NO_STORE
from app.http.conditional import evaluate
from app.http.errors import COMMON, error_body

_NO_CACHE = "no-cache"


def _response(request: Request, status: int, body: bytes, media: str, cache: str) -> Response:
    headers = {name.decode(): value.decode() for name, value in COMMON}
    headers["cache-control"] = cache
    cors = request.app.state.cors_origin
    if cors:
        headers["access-control-allow-origin"] = cors
    return Response(body, status, headers=headers, media_type=media)


async def refs_index(request: Request) -> Response:
    """``GET /``: every exposed ref and the commit it names, as HTML or JSON."""
    repo = request.app.state.repo
    refs, head = repo.refs(), repo.head()
    query = request.scope.get("query_string", b"")
    if listing.wants_json(request.headers.get("accept"), query):
        body, media = listing.render_refs_json(refs, head), "application/json"
    else:
        body, media = listing.render_refs_html(refs, head), "text/html; charset=utf-8"
    # The page changes with every push: a digest of it lets clients revalidate cheaply.
    etag = '"r' + hashlib.blake2b(body, digest_size=10).hexdigest() + '"'
    matched = evaluate("GET", request.headers.get("if-none-match"), None, (etag,), None)
    response = _response(request, 304 if matched else 200, b"" if matched else body, media,
                         _NO_CACHE)
    response.headers["vary"] = "Accept-Encoding, Accept"
    response.headers["etag"] = etag
    return response


async def healthz(request: Request) -> Response:
    """``GET /-/healthz``: 200 when the repository's refs and HEAD's commit can be read."""
    repo = request.app.state.repo

    def probe() -> None:
        refs = repo.refs()
        head = repo.head()
        if head in refs:
            repo.commit_time(refs[head])

    try:
        await anyio.to_thread.run_sync(probe, limiter=request.app.state.limiter)
    except GitError as exc:
        return _response(request, 503, error_body(503, type(exc).__name__),
                         "text/plain; charset=utf-8", NO_STORE)
    return _response(request, 200, b"ok\n", "text/plain; charset=utf-8", NO_STORE)


async def not_found(request: Request) -> Response:
    """Anything else under ``/-/``: a plain 404."""
    return _response(request, 404, error_body(404, "no such service endpoint"),
                     "text/plain; charset=utf-8", NO_STORE)


ROUTES = [
    Route("/", refs_index, methods=["GET", "HEAD"]),
    Route("/-/healthz", healthz, methods=["GET", "HEAD"]),
    Route("/-/{rest:path}", not_found, methods=["GET", "HEAD"]),
    Route("/-", not_found, methods=["GET", "HEAD"]),
]
