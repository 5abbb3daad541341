"""The assembled service (``app.ops.server.build_app``) on a real socket, real repositories.

Two repositories — the gc'd fixture under the prefix ``/gc``, the fully repacked one on its
own host — plus preview hosts under ``preview.example``; requests pick them by Host header.
``git cat-file`` is the oracle for every body.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.config import ConfigError, from_mapping
from app.ops.server import build_app
from tests.conftest import INDEX_HTML, SiteRepos, cat_blob, tree_files
from tests.git.fixtures import git
from tests.servers import serving


@pytest.fixture(scope="module")
def client(
    site_repos: SiteRepos, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[httpx.Client]:
    settings = from_mapping({
        "repositories": [
            {"name": "gc", "path": str(site_repos.gc)},
            {"name": "whole", "path": str(site_repos.whole), "host": "whole.example"},
        ],
        "base_domain": "preview.example",
        "cache_dir": str(tmp_path_factory.mktemp("cache")),
        "access_log": "off",
    })
    with serving(build_app(settings)) as c:
        yield c


def counter(text: str, name: str, **labels: str) -> float:
    """The value of one sample in a Prometheus text exposition (0 when absent)."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


@pytest.mark.parametrize(
    ("host", "url", "form", "ref", "path"),
    [
        ("packserve.example", "/gc/main/README.md", "gc", "main", "README.md"),
        ("packserve.example", "/gc/feature/x/feature.txt", "gc", "feature/x", "feature.txt"),
        ("packserve.example", "/gc/v1/data/log.txt", "gc", "v1", "data/log.txt"),
        ("whole.example", "/main/data/big.txt", "whole", "main", "data/big.txt"),
        ("WHOLE.example:80", "/feature/x/README.md", "whole", "feature/x", "README.md"),
        ("main--gc.preview.example", "/data/log.txt", "gc", "main", "data/log.txt"),
        ("feature-x--whole.preview.example", "/README.md", "whole", "feature/x", "README.md"),
        ("v1--gc.preview.example", "/docs/guide.txt", "gc", "v1", "docs/guide.txt"),
    ],
)
def test_files_come_from_the_repository_the_host_or_prefix_names(
    client: httpx.Client, site_repos: SiteRepos, host: str, url: str, form: str, ref: str,
    path: str,
) -> None:
    git_dir = getattr(site_repos, form)
    response = client.get(url, headers={"host": host})
    assert response.status_code == 200
    assert response.content == cat_blob(git_dir, tree_files(git_dir, ref)[path])


def test_a_preview_serves_its_ref_at_the_root(client: httpx.Client) -> None:
    response = client.get("/", headers={"host": "main--gc.preview.example"})
    assert response.status_code == 200 and response.content == INDEX_HTML
    # The canonical full-commit URL is not reachable on a preview host: no Link then.
    assert "link" not in response.headers
    moved = client.get("/docs", headers={"host": "main--gc.preview.example"})
    assert moved.is_redirect and moved.headers["location"] == "/docs/"
    assert client.get("/", headers={"host": "gone--gc.preview.example"}).status_code == 404


def test_redirects_and_links_under_a_prefix_keep_the_prefix(client: httpx.Client) -> None:
    moved = client.get("/gc/main/docs", headers={"host": "packserve.example"})
    assert moved.is_redirect and moved.headers["location"] == "/gc/main/docs/"
    response = client.get("/gc/main/README.md", headers={"host": "packserve.example"})
    commit = response.headers["x-git-commit"]
    assert response.headers["link"] == f'</gc/{commit}/README.md>; rel="canonical"'
    assert client.get(f"/gc/{commit}/README.md").content == response.content


def test_ref_map_readiness_and_health(client: httpx.Client, site_repos: SiteRepos) -> None:
    data = client.get("/-/refs", headers={"host": "packserve.example"}).json()
    gc = data["repositories"][0]
    assert gc["name"] == "gc" and gc["head"] == "refs/heads/main"
    main = next(r for r in gc["refs"] if r["ref"] == "refs/heads/main")
    assert main["commit"] == git(site_repos.gc, "rev-parse", "main").decode().strip()
    assert main["url"] == "/gc/main/"
    assert main["preview"] == "http://main--gc.preview.example/"
    assert client.get(main["commit_url"] + "README.md").status_code == 200
    assert client.get("/-/readyz").json() == {"ready": True, "errors": {}}
    assert client.get("/-/healthz").status_code == 200


def test_metrics_count_what_was_served(client: httpx.Client) -> None:
    before = client.get("/-/metrics").text
    headers = {"host": "packserve.example", "accept-encoding": "gzip"}
    for _ in range(3):
        assert client.get("/gc/main/data/big.txt", headers=headers).status_code == 200
    assert client.get("/gc/main/nope.txt", headers=headers).status_code == 404
    after = client.get("/-/metrics").text
    gzip200 = {"status": "200", "representation": "gzip"}
    assert counter(after, "packserve_requests_total", **gzip200) - counter(
        before, "packserve_requests_total", **gzip200
    ) == 3
    missing = {"status": "404", "representation": "identity"}  # an error page is identity
    assert counter(after, "packserve_requests_total", **missing) > counter(
        before, "packserve_requests_total", **missing
    )
    assert counter(after, "packserve_response_body_bytes_total", representation="gzip") > (
        counter(before, "packserve_response_body_bytes_total", representation="gzip")
    )


def test_a_repository_that_does_not_open_is_a_named_configuration_error(tmp_path: Path) -> None:
    settings = from_mapping({"repositories": [
        {"name": "a", "path": str(tmp_path / "missing")},
    ]})
    with pytest.raises(ConfigError, match=r"^repositories\[0\]\.path: cannot open"):
        build_app(settings)
    with pytest.raises(ConfigError, match=r"^repository: cannot open"):
        build_app(from_mapping({"repository": str(tmp_path)}))
