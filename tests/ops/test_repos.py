"""The multi-repository router, with hand-written fake apps and repositories."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from app.config import RepositoryMount
from app.git import RefNotFound
from app.ops import repos
from app.ops.repos import Router, Site
from tests.servers import serving


@dataclass(frozen=True)
class Oid:
    value: str

    def hex(self) -> str:
        return self.value


@dataclass(frozen=True)
class Target:
    commit: Oid
    kind: str
    path: str
    trailing_slash: bool


class FakeRepository:
    """Refs by full name; ``resolve`` knows branch and tag names without slashes."""

    def __init__(self, refs: dict[str, str], broken: bool = False) -> None:
        self._refs = {name: Oid(commit) for name, commit in refs.items()}
        self.broken = broken

    def refs(self) -> dict[str, Oid]:
        return self._refs

    def head(self) -> str | None:
        return "refs/heads/main" if "refs/heads/main" in self._refs else None

    def resolve(self, url_path: str) -> Target:
        name, _, rest = url_path.partition("/")
        for kind, namespace in (("branch", "refs/heads/"), ("tag", "refs/tags/")):
            if namespace + name in self._refs:
                return Target(self._refs[namespace + name], kind, rest.rstrip("/"),
                              url_path.endswith("/") and bool(rest))
        raise RefNotFound(url_path)

    def commit_time(self, commit: Oid) -> int:
        if self.broken:
            raise OSError("pack vanished")
        return 0


def echo_app(name: str, events: list[str] | None = None) -> Any:
    """An ASGI app answering with what it was asked; ``/…/dir`` redirects like the service."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if events is not None:
                    events.append(f"{name}:{message['type']}")
                if message["type"] == "lifespan.startup":
                    scope["state"]["opened"] = name
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        headers = [(b"content-type", b"application/json")]
        if scope["path"].endswith("/dir"):
            raw = scope["raw_path"]
            headers += [(b"location", raw + b"/"), (b"link", b"<" + raw + b'>; rel="canonical"')]
        body = json.dumps({
            "app": name, "path": scope["path"], "raw_path": scope["raw_path"].decode(),
            "state": scope.get("state", {}).get("opened"),
        }).encode()
        await send({"type": "http.response.start", "status": 301 if len(headers) > 1 else 200,
                    "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


REFS = {"refs/heads/main": "c1" * 20, "refs/heads/fix/API": "c2" * 20, "refs/tags/v1": "c3" * 20}


def make_router(events: list[str] | None = None, **options: Any) -> Router:
    mounts = [
        RepositoryMount("docs", Path("/d"), prefix="/docs"),
        RepositoryMount("deep", Path("/e"), prefix="/docs/deep"),
        RepositoryMount("site", Path("/s"), host="site.example"),
        RepositoryMount("root", Path("/r"), prefix=""),
    ]
    sites = [Site(m, echo_app(m.name, events), FakeRepository(REFS)) for m in mounts]
    return Router(sites, **options)


@pytest.fixture
def client() -> Any:
    with serving(make_router(base_domain="preview.example")) as c:
        yield c


@pytest.mark.parametrize(
    ("host", "url", "app", "path"),
    [
        ("x.example", "/docs/main/a.txt", "docs", "/main/a.txt"),
        ("x.example", "/docs", "docs", "/"),
        ("x.example", "/docs/deep/main/", "deep", "/main/"),
        ("x.example", "/docsy/main/", "root", "/docsy/main/"),
        ("site.example", "/docs/main/a.txt", "site", "/docs/main/a.txt"),
        ("SITE.example:8080", "/main/", "site", "/main/"),
        ("main--docs.preview.example", "/a/b.txt", "docs", "/refs/heads/main/a/b.txt"),
        ("fix-api--site.preview.example", "/", "site", "/refs/heads/fix/API/"),
        ("v1--root.preview.example:8443", "/x", "root", "/refs/tags/v1/x"),
    ],
)
def test_requests_reach_the_right_repository_with_a_root_relative_path(
    client: httpx.Client, host: str, url: str, app: str, path: str
) -> None:
    answer = client.get(url, headers={"host": host}).json()
    assert (answer["app"], answer["path"], answer["raw_path"]) == (app, path, path)
    # Each app's lifespan state reaches its own requests only.
    assert answer["state"] == app


def test_percent_encoded_paths_keep_their_encoding(client: httpx.Client) -> None:
    answer = client.get("/docs/fix%2FAPI/a%20b", headers={"host": "x.example"}).json()
    assert answer["raw_path"] == "/fix%2FAPI/a%20b"
    # An encoded prefix still finds its repository; the rest is re-encoded from the path.
    answer = client.get("/%64ocs/main/a%20b", headers={"host": "x.example"}).json()
    assert (answer["app"], answer["raw_path"]) == ("docs", "/main/a%20b")


@pytest.mark.parametrize(
    ("host", "url", "location"),
    [
        ("x.example", "/docs/main/dir", "/docs/main/dir/"),
        ("x.example", "/main/dir", "/main/dir/"),
        ("main--docs.preview.example", "/sub/dir", "/sub/dir/"),
        ("main--docs.preview.example", "/dir", "/dir/"),
    ],
)
def test_redirects_and_links_are_mapped_back_to_the_outside_view(
    client: httpx.Client, host: str, url: str, location: str
) -> None:
    response = client.get(url, headers={"host": host}, follow_redirects=False)
    assert response.status_code == 301
    assert response.headers["location"] == location
    assert response.headers["link"] == f'<{location[:-1]}>; rel="canonical"'


def test_links_a_preview_cannot_serve_are_dropped() -> None:
    async def linking(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return  # no lifespan: returning at once is how an app says so
        links = [(b"link", b"<" + scope["raw_path"] + b'>; rel="self"'),
                 (b"link", b'</cafe/x>; rel="canonical"'),
                 (b"link", b'<https://elsewhere.example/x>; rel="help"')]
        await send({"type": "http.response.start", "status": 200, "headers": links})
        await send({"type": "http.response.body", "body": b""})

    site = Site(RepositoryMount("only", Path("/o"), prefix=""), linking, FakeRepository(REFS))
    with serving(Router([site], base_domain="p.example")) as c:
        response = c.get("/a?b", headers={"host": "main.p.example"})
    assert response.headers.get_list("link") == [
        '</a>; rel="self"', '<https://elsewhere.example/x>; rel="help"'
    ]


@pytest.mark.parametrize(
    "host", ["nope--docs.preview.example", "main--nope.preview.example", "a.b.preview.example"]
)
def test_unknown_previews_are_404(client: httpx.Client, host: str) -> None:
    assert client.get("/", headers={"host": host}).status_code == 404


def test_single_repository_previews_have_no_name_suffix() -> None:
    site = Site(RepositoryMount("only", Path("/o"), prefix=""), echo_app("only"),
                FakeRepository(REFS))
    with serving(Router([site], base_domain="p.example")) as c:
        assert c.get("/x", headers={"host": "fix-api.p.example"}).json()["path"] == (
            "/refs/heads/fix/API/x"
        )
        refs = c.get("/-/refs", headers={"host": "p.example"}).json()["repositories"][0]["refs"]
        assert [r["preview"] for r in refs] == [
            "http://fix-api.p.example/", "http://main.p.example/", "http://v1.p.example/"
        ]


def test_no_matching_prefix_is_404() -> None:
    site = Site(RepositoryMount("a", Path("/a"), prefix="/a"), echo_app("a"), FakeRepository({}))
    with serving(Router([site])) as c:
        assert c.get("/b/main/").status_code == 404


def test_ref_map_lists_every_url(client: httpx.Client) -> None:
    data = client.get("/-/refs", headers={"host": "x.example:8080"}).json()
    by_name = {r["name"]: r for r in data["repositories"]}
    assert by_name["docs"]["head"] == "refs/heads/main"
    assert by_name["docs"]["refs"][1] == {
        "ref": "refs/heads/main",
        "commit": "c1" * 20,
        "url": "/docs/main/",
        "commit_url": f"/docs/{'c1' * 20}/",
        "preview": "http://main--docs.preview.example:8080/",
    }
    assert by_name["site"]["refs"][0]["url"] == "http://site.example:8080/fix/API/"
    assert by_name["root"]["refs"][2]["url"] == "/v1/"


def test_readyz_reports_each_repository() -> None:
    good = Site(RepositoryMount("good", Path("/g"), prefix="/g"), echo_app("g"),
                FakeRepository(REFS))
    bad = Site(RepositoryMount("bad", Path("/b"), prefix="/b"), echo_app("b"),
               FakeRepository(REFS, broken=True))
    with serving(Router([good])) as c:
        assert c.get("/-/readyz").json() == {"ready": True, "errors": {}}
    with serving(Router([good, bad])) as c:
        response = c.get("/-/readyz")
        assert response.status_code == 503
        assert response.json()["errors"] == {"bad": "OSError: pack vanished"}


def test_other_service_paths_go_to_the_first_app_or_an_endpoint(client: httpx.Client) -> None:
    assert client.get("/-/healthz").json()["app"] == "docs"

    async def ping(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"pong"})

    with serving(Router(make_router().sites, endpoints={"/-/ping": ping})) as c:
        assert c.get("/-/ping").text == "pong"


@pytest.mark.parametrize(
    ("url", "location"),
    [
        ("/docs/main/a/b.txt?x=1", f"/docs/{'c1' * 20}/a/b.txt?x=1"),
        ("/docs/main/a/", f"/docs/{'c1' * 20}/a/"),
        ("/main", f"/{'c1' * 20}"),
    ],
)
def test_branch_urls_redirect_to_the_commit(url: str, location: str) -> None:
    router = make_router(redirect_branches=True, redirect_max_age=5, cors_origin="*")
    with serving(router) as c:
        response = c.get(url, follow_redirects=False)
        assert response.status_code == 302
        assert response.headers["location"] == location
        assert response.headers["cache-control"] == "public, max-age=5"
        # A cross-origin fetch must be allowed to follow the redirect.
        assert response.headers["access-control-allow-origin"] == "*"
        # Tags, unknown names, other methods and preview hosts are not redirected.
        assert c.get("/docs/v1/a", follow_redirects=False).status_code == 200
        assert c.get("/docs/nope/a", follow_redirects=False).status_code == 200
        assert c.post(url, follow_redirects=False).status_code == 200


def test_lifespans_start_in_order_and_stop_in_reverse() -> None:
    events: list[str] = []
    with serving(make_router(events)):
        assert events == [f"{n}:lifespan.startup" for n in ("docs", "deep", "site", "root")]
    assert events[4:] == [f"{n}:lifespan.shutdown" for n in ("root", "site", "deep", "docs")]


def test_a_repository_app_that_fails_to_start_fails_the_router() -> None:
    async def failing(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "no repository"})

    events: list[str] = []
    good = Site(RepositoryMount("good", Path("/g"), prefix="/g"), echo_app("good", events),
                FakeRepository(REFS))
    bad = Site(RepositoryMount("bad", Path("/b"), prefix="/b"), failing, FakeRepository(REFS))
    sent: list[dict[str, Any]] = []

    async def drive() -> None:
        inbox = iter([{"type": "lifespan.startup"}])

        async def receive() -> dict[str, Any]:
            return next(inbox)

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await Router([good, bad])({"type": "lifespan", "state": {}}, receive, send)

    anyio.run(drive)
    assert sent[0]["type"] == "lifespan.startup.failed" and "no repository" in sent[0]["message"]
    # The app that had started is stopped again.
    assert events == ["good:lifespan.startup", "good:lifespan.shutdown"]


def test_a_new_branch_gets_its_preview_once_the_label_map_is_refreshed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo = FakeRepository(REFS)
    site = Site(RepositoryMount("only", Path("/o"), prefix=""), echo_app("only"), repo)
    with serving(Router([site], base_domain="p.example")) as c:
        new = {"host": "new.p.example"}
        assert c.get("/", headers=new).status_code == 404
        repo.refs()["refs/heads/new"] = Oid("c4" * 20)
        monkeypatch.setattr(repos, "LABELS_TTL", 3600.0)
        assert c.get("/", headers=new).status_code == 404  # still the cached map
        monkeypatch.setattr(repos, "LABELS_TTL", 0.0)
        assert c.get("/", headers=new).json()["path"] == "/refs/heads/new/"
