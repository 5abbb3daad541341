"""Several repositories behind one ASGI app: pick the repository by Host or path prefix.

How a request finds its repository, first match wins:

1. ``/-/…`` is the service's own: ``/-/refs`` (the ref → URL map, JSON), ``/-/readyz``,
   any endpoint given to the router (``/-/metrics``); the rest (``/-/healthz``) goes to
   the first repository's app.
2. A Host equal to a repository's ``host`` serves that repository at the root.
3. A Host ``<label>.<base_domain>`` is a preview: ``<slug>`` (one repository) or
   ``<slug>--<name>`` (several) serves that ref at the root; ``app.ops.slug`` defines slugs.
4. The longest ``prefix`` that is a whole-segment prefix of the path.

Rules:
- The mounted app sees a request as if it were mounted at the root: ``path`` and
  ``raw_path`` lose the prefix (previews gain ``/<full ref name>`` in front), so the app
  needs to know nothing about mounts. Absolute-path references the app sends back
  (``Location``, ``Link``) are mapped to the outside view the same way, in reverse; a
  ``Link`` a preview host cannot serve (the canonical full-commit URL) is dropped.
- Anything that touches the disk (readiness) runs in a worker thread; per-request work on
  the event loop is a dict lookup or, for previews, a cached slug map.
- With ``redirect_branches``, a GET/HEAD whose URL names a branch answers 302 to the
  same path under the full commit id (never on preview hosts: a preview *is* the branch).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote

import anyio

from app.config import RepositoryMount
from app.git import GitError
from app.ops.lifespan import lifespans
from app.ops.slug import preview_slugs, short_name

ASGIApp = Callable[..., Any]
Scope = dict[str, Any]

LABELS_TTL = 1.0
# An absolute-path reference inside a Link header (RFC 8288 §3): "</path>", not "<//host>".
_LINK_TARGET = re.compile(rb"<(/(?!/)[^>]*)>")


class _Target(Protocol):
    commit: Any
    kind: str
    path: str
    trailing_slash: bool


class RepositoryView(Protocol):
    """The part of ``app.git.Repository`` the router reads."""

    def refs(self) -> Mapping[str, Any]: ...
    def head(self) -> str | None: ...
    def resolve(self, url_path: str) -> Any: ...
    def commit_time(self, commit: Any) -> int: ...


@dataclass
class Site:
    """One mounted repository: where it lives, the app serving it, the engine handle."""

    mount: RepositoryMount
    app: ASGIApp
    repository: RepositoryView
    state: dict[str, Any] = field(default_factory=dict)
    _names: frozenset[str] = frozenset()
    _checked: float = float("-inf")
    _by_label: dict[str, str] = field(default_factory=dict)
    _labels: dict[str, str] = field(default_factory=dict)

    def preview_labels(self, several: bool) -> dict[str, str]:
        """Full ref name → preview host label, at most ``LABELS_TTL`` seconds old."""
        # Listing refs costs time in the number of refs, too much for every request;
        # a branch pushed a moment ago gets its preview host within LABELS_TTL.
        now = time.monotonic()
        if now - self._checked >= LABELS_TTL:
            names = frozenset(self.repository.refs())
            if names != self._names:
                name = self.mount.name
                cap = 63 - (len(name) + 2 if several else 0)
                slugs = preview_slugs(names, cap)
                self._labels = {r: f"{s}--{name}" if several else s for r, s in slugs.items()}
                self._by_label = {label: ref for ref, label in self._labels.items()}
                self._names = names
            self._checked = now
        return self._labels

    def ref_for_label(self, label: str, several: bool) -> str | None:
        """The full ref name whose preview host label is ``label``, if any."""
        self.preview_labels(several)
        return self._by_label.get(label)


def _host(scope: Scope) -> str:
    for key, value in scope.get("headers", ()):
        if key == b"host":
            return bytes(value).decode("latin-1").lower()
    return ""


async def _respond(send: Any, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _json(send: Any, status: int, data: object) -> None:
    body = json.dumps(data, indent=1).encode() + b"\n"
    await _respond(send, status, body, [
        (b"content-type", b"application/json"), (b"cache-control", b"no-store"),
    ])


def _ready(site: Site) -> str | None:
    """None if the repository answers: refs readable and the tip commit decodes."""
    try:
        refs = site.repository.refs()
        head = site.repository.head()
        tip = refs.get(head) if head else next(iter(refs.values()), None)
        if tip is not None:
            site.repository.commit_time(tip)
    except Exception as exc:  # readiness reports any failure instead of raising it
        return f"{type(exc).__name__}: {exc}"
    return None


class Router:
    """The ASGI app in front of every mounted repository app (see the module rules)."""

    def __init__(
        self,
        sites: Sequence[Site],
        *,
        base_domain: str | None = None,
        redirect_branches: bool = False,
        redirect_max_age: int = 60,
        cors_origin: str | None = None,
        endpoints: Mapping[str, ASGIApp] | None = None,
    ) -> None:
        if not sites:
            raise ValueError("at least one repository")
        self.sites = list(sites)
        self.base_domain = base_domain
        self.redirect_branches = redirect_branches
        # A CORS fetch checks every redirect it follows (Fetch §4.4), so redirects and our
        # 404s carry the same Access-Control-Allow-Origin as the files.
        cors = [(b"access-control-allow-origin", cors_origin.encode())] if cors_origin else []
        self._redirect_headers = [
            (b"cache-control", f"public, max-age={redirect_max_age}".encode()), *cors
        ]
        self._not_found_headers = [
            (b"content-type", b"text/plain; charset=utf-8"), (b"cache-control", b"no-cache"),
            *cors,
        ]
        self.endpoints = dict(endpoints or {})
        self._several = len(self.sites) > 1
        self._by_host = {s.mount.host: s for s in self.sites if s.mount.host}
        self._by_name = {s.mount.name: s for s in self.sites}
        # Longest first, so "/a/b" is tried before "/a" and "" (the root) comes last.
        self._prefixed = sorted(
            (s for s in self.sites if s.mount.prefix is not None),
            key=lambda s: len(s.mount.prefix or ""), reverse=True,
        )
        self._preview_suffix = "." + base_domain if base_domain else None
        # One repository at the root, no hosts, no previews (the usual single-repository
        # service): every file request goes to it untouched, without reading the Host.
        only = self.sites[0]
        self._direct = (
            only if len(self.sites) == 1 and not only.mount.host and not base_domain
            and not only.mount.prefix and not redirect_branches else None
        )

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        """ASGI entry: run every repository's lifespan, route each request to its repository."""
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith("/-/"):
            await self._service(scope, receive, send)
            return
        direct = self._direct
        if direct is not None and not direct.state:
            await direct.app(scope, receive, send)
            return
        host = _host(scope).partition(":")[0]
        site = self._by_host.get(host)
        if site is not None:
            await self._forward(site, scope, receive, send, "")
            return
        if self._preview_suffix and host.endswith(self._preview_suffix):
            await self._preview(host[: -len(self._preview_suffix)], scope, receive, send)
            return
        for site in self._prefixed:
            prefix = site.mount.prefix or ""
            if not prefix or path == prefix or path.startswith(prefix + "/"):
                await self._forward(site, scope, receive, send, prefix)
                return
        await _respond(send, 404, b"no repository here\n", self._not_found_headers)

    # ------------------------------------------------------------------ dispatch

    async def _forward(
        self, site: Site, scope: Scope, receive: Any, send: Any, prefix: str
    ) -> None:
        child = scope
        raw_prefix = prefix.encode()
        if prefix or site.state:
            child = dict(scope)
            if site.state:
                child["state"] = dict(site.state)
            if prefix:
                child["path"] = scope["path"][len(prefix):] or "/"
                raw = scope.get("raw_path") or b""
                rest = raw[len(raw_prefix):]
                if raw.startswith(raw_prefix) and rest[:1] in (b"", b"/"):
                    child["raw_path"] = rest or b"/"
                else:
                    # The client percent-encoded part of the prefix: rebuild from the path.
                    child["raw_path"] = quote(child["path"]).encode()
        if self.redirect_branches and await self._redirect(site, child, send, prefix):
            return
        if prefix:
            send = _MapReferences(send, lambda ref: raw_prefix + ref)
        await site.app(child, receive, send)

    async def _preview(self, label: str, scope: Scope, receive: Any, send: Any) -> None:
        site = self._preview_site(label)
        ref = site.ref_for_label(label, self._several) if site is not None else None
        if site is None or ref is None:
            await _respond(send, 404, b"no such preview\n", self._not_found_headers)
            return
        ref_path = b"/" + quote(ref, safe="/").encode()
        raw = scope.get("raw_path") or quote(scope["path"]).encode()
        child = dict(scope)
        child["path"] = "/" + ref + scope["path"]
        child["raw_path"] = ref_path + raw
        if site.state:
            child["state"] = dict(site.state)

        def outside(reference: bytes) -> bytes | None:
            rest = reference[len(ref_path):]
            if not reference.startswith(ref_path) or rest[:1] not in (b"", b"/", b"?"):
                return None  # another commit or ref: not reachable on this preview host
            return rest if rest.startswith(b"/") else b"/" + rest

        await site.app(child, receive, _MapReferences(send, outside))

    def _preview_site(self, label: str) -> Site | None:
        if "." in label:
            return None
        if not self._several:
            return self.sites[0]
        return self._by_name.get(label.partition("--")[2])

    async def _redirect(self, site: Site, scope: Scope, send: Any, prefix: str) -> bool:
        """Answer 302 to the commit URL if the request names a branch; True if answered."""
        if scope["method"] not in ("GET", "HEAD"):
            return False
        try:
            target: _Target = site.repository.resolve(scope["path"][1:])
        except GitError:  # the app answers bad names with its own error pages
            return False
        if target.kind != "branch":
            return False
        location = f"{prefix}/{target.commit.hex()}"
        if target.path:
            location += "/" + quote(target.path)
        if target.trailing_slash:
            location += "/"
        query = scope.get("query_string", b"")
        if query:
            location += "?" + query.decode("latin-1")
        await _respond(send, 302, b"", [
            (b"location", location.encode()), *self._redirect_headers,
        ])
        return True

    # ------------------------------------------------------------------ /-/ endpoints

    async def _service(self, scope: Scope, receive: Any, send: Any) -> None:
        path = scope["path"]
        endpoint = self.endpoints.get(path)
        if endpoint is not None:
            await endpoint(scope, receive, send)
        elif path == "/-/refs":
            await _json(send, 200, self.ref_map(scope))
        elif path == "/-/readyz":
            failures = {}
            for site in self.sites:
                error = await anyio.to_thread.run_sync(_ready, site)
                if error is not None:
                    failures[site.mount.name] = error
            await _json(send, 503 if failures else 200, {"ready": not failures, "errors": failures})
        else:
            await self.sites[0].app(scope, receive, send)

    def ref_map(self, scope: Scope) -> dict[str, Any]:
        """Every repository's refs with the URLs that serve them (``/-/refs``)."""
        scheme = scope.get("scheme", "http")
        port = _host(scope).partition(":")[2]
        authority_port = ":" + port if port else ""
        repositories = []
        for site in self.sites:
            refs = site.repository.refs()
            mount = site.mount
            base = (
                f"{scheme}://{mount.host}{authority_port}" if mount.host else mount.prefix or ""
            )
            shorts: dict[str, int] = {}
            for ref in refs:
                shorts[short_name(ref)] = shorts.get(short_name(ref), 0) + 1
            labels = site.preview_labels(self._several) if self.base_domain else {}
            entries = []
            for ref, commit in sorted(refs.items()):
                # A name that is both a branch and a tag is spelled in full to stay unambiguous.
                name = short_name(ref) if shorts[short_name(ref)] == 1 else ref
                entry = {
                    "ref": ref,
                    "commit": commit.hex(),
                    "url": f"{base}/{quote(name, safe='/')}/",
                    "commit_url": f"{base}/{commit.hex()}/",
                }
                if ref in labels:
                    entry["preview"] = f"{scheme}://{labels[ref]}.{self.base_domain}{authority_port}/"
                entries.append(entry)
            repositories.append({
                "name": mount.name, "prefix": mount.prefix, "host": mount.host,
                "head": site.repository.head(), "refs": entries,
            })
        return {"repositories": repositories}

    # ------------------------------------------------------------------ lifespan

    async def _lifespan(self, scope: Scope, receive: Any, send: Any) -> None:
        if (await receive())["type"] != "lifespan.startup":
            return
        started = False
        try:
            async with lifespans([s.app for s in self.sites], [s.state for s in self.sites]):
                await send({"type": "lifespan.startup.complete"})
                started = True
                await receive()  # lifespan.shutdown
        except Exception as exc:
            phase = "shutdown" if started else "startup"
            await send({"type": f"lifespan.{phase}.failed", "message": repr(exc)})
            return
        await send({"type": "lifespan.shutdown.complete"})


class _MapReferences:
    """Wraps ``send``: maps absolute-path references in ``Location`` and ``Link`` headers.

    ``outside`` maps a reference the app wrote (path and query, bytes) to the client's view,
    or returns None when the client cannot reach it this way: such a ``Location`` is left
    as it is, such a ``Link`` header is dropped rather than sent pointing nowhere.
    Full URLs and relative references are never touched.
    """

    __slots__ = ("_send", "_outside")

    def __init__(self, send: Any, outside: Callable[[bytes], bytes | None]) -> None:
        self._send = send
        self._outside = outside

    async def __call__(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            headers = message.get("headers", ())
            if any(key == b"location" or key == b"link" for key, _ in headers):
                message = dict(message)
                message["headers"] = self._mapped(headers)
        await self._send(message)

    def _mapped(self, headers: Sequence[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        result = []
        for key, value in headers:
            if key == b"location":
                if value.startswith(b"/") and not value.startswith(b"//"):
                    value = self._outside(value) or value
            elif key == b"link":
                unreachable = False

                def one(match: re.Match[bytes]) -> bytes:
                    nonlocal unreachable
                    mapped = self._outside(match.group(1))
                    unreachable = unreachable or mapped is None
                    return b"<" + (mapped or b"") + b">"

                value = _LINK_TARGET.sub(one, value)
                if unreachable:
                    continue
            result.append((key, value))
        return result
