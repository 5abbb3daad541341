"""The ``packserve`` command: precedence of flags, environment and file; exit codes;
several workers in separate processes sharing one cache and one metrics view."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.cli import _parser, main, settings_from
from tests.conftest import SiteRepos, cat_blob, tree_files
from tests.ops.proc import running
from tests.servers import PACKSERVE, free_port


def test_flags_beat_environment_which_beats_the_file(tmp_path: Path) -> None:
    config = tmp_path / "packserve.toml"
    config.write_text('port = 1000\nhost = "0.0.0.0"\nlistings = true\nworkers = 2\n')
    args = _parser().parse_args(
        ["serve", "/srv/repo", "--config", str(config), "--port", "3000", "--no-listings",
         "--base-domain", "p.example", "--access-log", "json", "--no-proxy-headers"]
    )
    settings = settings_from(args, {"PACKSERVE_PORT": "2000", "PACKSERVE_WORKERS": "3"})
    assert settings.port == 3000 and settings.workers == 3 and settings.host == "0.0.0.0"
    assert str(settings.repository) == "/srv/repo" and not settings.listings
    assert settings.base_domain == "p.example" and settings.access_log == "json"
    assert settings.proxy_headers is False


def test_the_config_file_may_come_from_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "packserve.toml"
    config.write_text("max_ranges = 7\n")
    args = _parser().parse_args(["serve"])
    assert settings_from(args, {"PACKSERVE_CONFIG": str(config)}).max_ranges == 7


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--port", "70000"], "port: must be 0..65535"),
        (["--workers", "0"], "workers: must be 1..256"),
        (["--base-domain", "not a domain"], "base_domain: 'not a domain' is not a host name"),
        (["--config", "/nonexistent/packserve.toml"], "cannot read /nonexistent/packserve.toml"),
        (["/nonexistent/repo"], "repository: cannot open '/nonexistent/repo'"),
        (["warm", "/nonexistent/repo"], "repository: '/nonexistent/repo' is neither"),
    ],
)
def test_invalid_configuration_exits_2_naming_the_key(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert f"packserve: configuration error: {message}" in capsys.readouterr().err


def test_an_unknown_environment_value_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PACKSERVE_ACCESS_LOG", "xml")
    assert main(["serve", "."]) == 2
    assert "access_log: expected one of" in capsys.readouterr().err


def test_several_workers_share_the_cache_and_report_metrics_together(
    site_repos: SiteRepos, tmp_path: Path
) -> None:
    port = free_port()
    argv = [*PACKSERVE, "serve", str(site_repos.gc), "--port", str(port), "--workers", "2",
            "--cache-dir", str(tmp_path / "cache"), "--access-log", "json"]
    oid = tree_files(site_repos.gc, "main")["data/log.txt"]
    with running(argv, {}, port) as server:
        for _ in range(6):
            # A new connection each time, so the kernel spreads them over the workers.
            response = server.client.get("/main/data/log.txt", headers={"connection": "close"})
            assert response.content == cat_blob(site_repos.gc, oid)
        text = server.client.get("/-/metrics").text
    served = sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "packserve_requests_total" and sample.labels["status"] == "200"
    )
    # Every worker's count, whichever worker answered the scrape (healthz polls count too):
    # each worker keeps its counters in the shared directory, which the endpoint sums.
    assert served >= 6
    pids = {db.stem.rpartition("_")[2] for db in (tmp_path / "cache/metrics").glob("*.db")}
    assert len(pids) == 2
    # The delta-stored log was materialised into the shared cache once or twice, not per request.
    assert list((tmp_path / "cache").rglob(f"{oid[2:]}.zz"))


def test_sigterm_lets_an_in_flight_download_finish(site_repos: SiteRepos, tmp_path: Path) -> None:
    oid = tree_files(site_repos.gc, "main")["data/big.txt"]
    expected = cat_blob(site_repos.gc, oid)
    port = free_port()
    argv = [*PACKSERVE, "serve", str(site_repos.gc), "--port", str(port),
            "--cache-dir", str(tmp_path), "--graceful-timeout", "20"]
    with running(argv, {}, port) as server, socket.socket() as sock:
        # A tiny receive window keeps most of the body in the server until we read it.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", port))
        sock.sendall(b"GET /main/data/big.txt HTTP/1.1\r\nHost: x\r\n"
                     b"Accept-Encoding: identity\r\nConnection: close\r\n\r\n")
        received = sock.recv(4096)
        server.terminate()
        time.sleep(0.5)
        # Still running: it is waiting for our unfinished response, not cutting it, while
        # it no longer accepts new connections.
        assert server.process.poll() is None
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/-/healthz", timeout=2)
        while chunk := sock.recv(65536):
            received += chunk
        head, _, body = received.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200") and body == expected


def test_the_access_log_keeps_its_last_lines_when_the_server_stops(
    site_repos: SiteRepos, tmp_path: Path
) -> None:
    # Lines are written in batches at most a second apart; requests answered just before a
    # SIGTERM must still be logged, though uvicorn ends the process with that signal.
    port = free_port()
    argv = [*PACKSERVE, "serve", str(site_repos.gc), "--port", str(port),
            "--cache-dir", str(tmp_path / "cache"), "--access-log", "text"]
    stdout = tmp_path / "stdout.log"
    with stdout.open("wb") as out, running(argv, {}, port, stdout=out) as server:
        for n in range(3):
            assert server.client.get(f"/main/README.md?n={n}").status_code == 200
    logged = [line for line in stdout.read_text().splitlines() if "/main/README.md?n=" in line]
    assert [line.split('"')[1] for line in logged] == [
        f"GET /main/README.md?n={n} HTTP/1.1" for n in range(3)
    ]
