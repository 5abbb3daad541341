"""``packserve warm`` then a first request that needs no inflate, proven by the metrics.

The gc'd fixture stores ``data/log.txt``'s tip as a delta (so serving it means resolving
and deflating it) and ``data/big.txt`` whole and large (so its first gzip answer needs the
CRC-32 of its content, one inflate). A service started on a cache that ``packserve warm``
filled must do neither; a service on an empty cache must do both — the control.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.cli import main
from app.config import Settings
from app.ops.server import build_app
from tests.conftest import SiteRepos, cat_blob, tree_files
from tests.servers import serving

WORK: tuple[tuple[str, dict[str, str]], ...] = (
    ("packserve_delta_resolutions_total", {}),
    ("packserve_inflates_total", {"reason": "crc"}),
    ("packserve_cache_lookups_total", {"cache": "zz", "result": "miss"}),
    ("packserve_cache_lookups_total", {"cache": "crc", "result": "miss"}),
)


def work_done(client: httpx.Client) -> dict[str, float]:
    """The counters of work a warm cache spares, from a /-/metrics scrape."""
    totals = {f"{name}{labels}": 0.0 for name, labels in WORK}
    for family in text_string_to_metric_families(client.get("/-/metrics").text):
        for sample in family.samples:
            for name, labels in WORK:
                if sample.name == name and labels.items() <= sample.labels.items():
                    totals[f"{name}{labels}"] += sample.value
    return totals


def first_requests(site_repos: SiteRepos, cache: Path) -> dict[str, float]:
    """Serve log.txt and big.txt once each (gzip and identity) from a fresh service."""
    settings = Settings(repository=site_repos.gc, cache_dir=cache, access_log="off")
    files = tree_files(site_repos.gc, "main")
    with serving(build_app(settings)) as client:
        before = work_done(client)
        for path in ("data/log.txt", "data/big.txt"):
            for coding in ("gzip", "identity"):
                response = client.get(f"/main/{path}", headers={"accept-encoding": coding})
                assert response.status_code == 200
                assert response.content == cat_blob(site_repos.gc, files[path])
        after = work_done(client)
    return {key: after[key] - before[key] for key in after}


def test_after_warm_up_the_first_request_needs_no_inflate(
    site_repos: SiteRepos, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cold = first_requests(site_repos, tmp_path / "cold")
    assert cold["packserve_delta_resolutions_total{}"] >= 1
    assert cold["packserve_inflates_total{'reason': 'crc'}"] >= 1

    warm_cache = tmp_path / "warm"
    assert main(["warm", str(site_repos.gc), "main", "--cache-dir", str(warm_cache)]) == 0
    progress = capsys.readouterr().err
    assert "blobs prepared" in progress and "[####" in progress

    assert set(first_requests(site_repos, warm_cache).values()) == {0.0}


def test_warm_reports_an_unknown_ref(site_repos: SiteRepos, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    args = ["warm", str(site_repos.gc), "no-such-ref", "--cache-dir", str(tmp_path), "-q"]
    assert main(args) == 1
    assert "no-such-ref" in capsys.readouterr().err
