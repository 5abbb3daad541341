"""The Python contenders, each an ASGI app on uvicorn (``python -m bench.apps KIND ...``).

- ``bare``: the server ceiling, a raw ASGI callable answering from memory;
- ``starlette``: the framework ceiling, one Starlette route answering from memory;
- ``static`` / ``static-gzip``: Starlette ``StaticFiles`` over the checkout, the second
  behind ``GZipMiddleware`` (its defaults);
- ``pygit2`` / ``dulwich``: resolve the ref and the path and read the blob on every request,
  with no cache beyond the library's own.

The in-memory and git-library apps share one tiny answer function (coding by substring of
Accept-Encoding, ETag/If-None-Match, one ``bytes=a-b`` range): it understands exactly the
requests the benchmark sends, which is what a ceiling may do. The git-library apps can only
produce identity (compressing per request is not what those servers do). Everything runs on
the event loop: no worker-thread hop, the fastest these apps can be.
"""

from __future__ import annotations

import argparse
import json
import mimetypes
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import uvicorn

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Send = Callable[[Message], Awaitable[None]]
Receive = Callable[[], Awaitable[Message]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]

KINDS = ("bare", "starlette", "static", "static-gzip", "pygit2", "dulwich")
CHUNK = 256 * 1024  # large bodies go out in chunks, so the transport applies back-pressure
_NOT_FOUND = (404, [(b"content-type", b"text/plain"), (b"content-length", b"9")], b"not found")


@dataclass(frozen=True, slots=True)
class _Coded:
    """One representation: body, ETag and its precomputed 200 headers."""

    body: bytes
    etag: bytes
    headers: Headers


def _coded(body: bytes, coding: str, oid: str, media_type: str) -> _Coded:
    etag = f'"{oid}"' if coding == "identity" else f'"{oid}-{coding}"'
    headers = [
        (b"content-type", media_type.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"etag", etag.encode()),
        (b"vary", b"Accept-Encoding"),
        (b"accept-ranges", b"bytes"),
    ]
    if coding != "identity":
        headers.append((b"content-encoding", coding.encode()))
    return _Coded(body, etag.encode(), headers)


class _File:
    """A file's representations and the answer to one request for it."""

    def __init__(self, oid: str, path: str, bodies: dict[str, bytes]) -> None:
        media_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
        self.coded = {c: _coded(body, c, oid, media_type) for c, body in bodies.items()}

    def answer(self, request: dict[bytes, bytes]) -> tuple[int, Headers, bytes]:
        accept = request.get(b"accept-encoding", b"")
        if b"deflate" in accept and "deflate" in self.coded:
            coding = "deflate"
        elif b"gzip" in accept and "gzip" in self.coded:
            coding = "gzip"
        else:
            coding = "identity"
        rep = self.coded[coding]
        if request.get(b"if-none-match") == rep.etag:
            return 304, [(b"etag", rep.etag), (b"vary", b"Accept-Encoding")], b""
        spec = request.get(b"range")
        if spec is not None and coding == "identity":
            return _ranged(rep, spec)
        return 200, rep.headers, rep.body


def _ranged(rep: _Coded, spec: bytes) -> tuple[int, Headers, bytes]:
    size = len(rep.body)
    first_text, _, last_text = spec.removeprefix(b"bytes=").partition(b"-")
    first = int(first_text)
    last = min(int(last_text), size - 1) if last_text else size - 1
    body = rep.body[first : last + 1]
    headers = [
        (b"content-type", rep.headers[0][1]),
        (b"content-length", str(len(body)).encode()),
        (b"content-range", f"bytes {first}-{last}/{size}".encode()),
        (b"etag", rep.etag),
    ]
    return 206, headers, body


async def _send(send: Send, status: int, headers: Headers, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    view = memoryview(body)
    while len(view) > CHUNK:
        await send({"type": "http.response.body", "body": view[:CHUNK], "more_body": True})
        view = view[CHUNK:]
    await send({"type": "http.response.body", "body": view})


def _load(manifest: Path) -> dict[str, _File]:
    files = {}
    for url, entry in json.loads(manifest.read_text()).items():
        bodies = {c: Path(entry[c]).read_bytes() for c in ("deflate", "gzip", "identity")}
        files[url] = _File(entry["oid"], url, bodies)
    return files


def bare_app(manifest: Path) -> ASGIApp:
    """The server ceiling: the same bytes from memory, no framework."""
    files = _load(manifest)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        found = files.get(scope["path"])
        if found is None:
            await _send(send, *_NOT_FOUND)
            return
        await _send(send, *found.answer(dict(scope["headers"])))

    return app


def starlette_app(manifest: Path) -> ASGIApp:
    """The framework ceiling: one Starlette route answering from memory."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    files = _load(manifest)

    async def serve(request: Request) -> Response:
        found = files.get(request.url.path)
        if found is None:
            return Response(b"not found", status_code=404)
        status, headers, body = found.answer(dict(request.headers.raw))
        response = Response(body, status_code=status)
        response.raw_headers = headers  # the precomputed block, Content-Length included
        return response

    return Starlette(routes=[Route("/{path:path}", serve)])


def static_app(checkout: Path, ref: str, gzip: bool) -> ASGIApp:
    """Starlette ``StaticFiles`` over the checkout, optionally behind ``GZipMiddleware``."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.gzip import GZipMiddleware
    from starlette.routing import Mount
    from starlette.staticfiles import StaticFiles

    middleware = [Middleware(GZipMiddleware)] if gzip else []
    return Starlette(
        routes=[Mount(f"/{ref}", app=StaticFiles(directory=checkout))], middleware=middleware
    )


def _git_app(read: Callable[[str, str], tuple[str, bytes] | None]) -> ASGIApp:
    """An app that reads ``(blob id, content)`` of ``(ref, path)`` on every request."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        ref, _, path = scope["path"][1:].partition("/")
        found = read(ref, path)
        if found is None:
            await _send(send, *_NOT_FOUND)
            return
        oid, content = found
        answer = _File(oid, path, {"identity": content}).answer(dict(scope["headers"]))
        await _send(send, *answer)

    return app


def pygit2_app(repo_path: Path) -> ASGIApp:
    """libgit2 through pygit2: ref -> commit -> tree path -> blob, per request."""
    import pygit2

    repo = pygit2.Repository(str(repo_path))

    def read(ref: str, path: str) -> tuple[str, bytes] | None:
        try:
            commit = repo.references[f"refs/heads/{ref}"].peel(pygit2.Commit)
            blob = repo[commit.tree[path].id]
        except (KeyError, ValueError):
            return None
        if not isinstance(blob, pygit2.Blob):
            return None
        return str(blob.id), blob.data

    return _git_app(read)


def dulwich_app(repo_path: Path) -> ASGIApp:
    """dulwich (pure Python): ref -> commit -> tree path -> blob, per request."""
    from dulwich.object_store import tree_lookup_path
    from dulwich.objects import Blob, Commit
    from dulwich.refs import Ref
    from dulwich.repo import Repo

    repo = Repo(str(repo_path))

    def read(ref: str, path: str) -> tuple[str, bytes] | None:
        try:
            commit = repo[repo.refs[Ref(f"refs/heads/{ref}".encode())]]
            if not isinstance(commit, Commit):
                return None
            _mode, oid = tree_lookup_path(repo.__getitem__, commit.tree, path.encode())
            blob = repo[oid]
        except KeyError:
            return None
        if not isinstance(blob, Blob):
            return None
        return oid.decode(), blob.as_raw_string()

    return _git_app(read)


def build(kind: str, args: argparse.Namespace) -> ASGIApp:
    """The app of contender ``kind``."""
    if kind == "bare":
        return bare_app(args.manifest)
    if kind == "starlette":
        return starlette_app(args.manifest)
    if kind in ("static", "static-gzip"):
        return static_app(args.checkout, args.ref, kind == "static-gzip")
    if kind == "pygit2":
        return pygit2_app(args.repo)
    return dulwich_app(args.repo)


def main() -> None:
    """Run one contender on 127.0.0.1 under uvicorn (one worker, no access log)."""
    parser = argparse.ArgumentParser(prog="python -m bench.apps")
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--manifest", type=Path)
    parser.add_argument("--checkout", type=Path)
    parser.add_argument("--repo", type=Path)
    parser.add_argument("--ref", default="main")
    args = parser.parse_args()
    app = build(args.kind, args)
    lifespan: Literal["on", "off"] = (
        "on" if args.kind in ("starlette", "static", "static-gzip") else "off"
    )
    uvicorn.run(
        app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False,
        lifespan=lifespan,
    )


if __name__ == "__main__":
    main()
