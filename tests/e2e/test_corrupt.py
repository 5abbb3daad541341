"""A corrupt object answers 5xx for its own URL only; everything else keeps working."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx

from app.config import Settings
from app.http.app import create_app
from tests.conftest import SiteRepos
from tests.git.fixtures import git, pack_files
from tests.servers import start, stop


def corrupt_blob(git_dir: Path, oid: str) -> None:
    """Flip bytes inside the blob's zlib stream in the (only) pack."""
    pack = pack_files(git_dir)[0]
    index = git(git_dir, "show-index", input=pack.with_suffix(".idx").read_bytes())
    offsets = {line.split()[1].decode(): int(line.split()[0]) for line in index.splitlines()}
    data = bytearray(pack.read_bytes())
    at = offsets[oid] + 8  # past the entry header and the zlib header: deflate data
    data[at : at + 4] = bytes(b ^ 0xFF for b in data[at : at + 4])
    pack.chmod(0o644)
    pack.write_bytes(bytes(data))


def test_corrupt_blob_is_a_500_for_that_url_only(site_repos: SiteRepos, tmp_path: Path) -> None:
    repo = shutil.copytree(site_repos.whole, tmp_path / "corrupt.git", symlinks=True)
    oid = git(repo, "rev-parse", "main:data/big.txt").strip().decode()
    corrupt_blob(repo, oid)
    running = start(create_app(Settings(repository=repo, cache_dir=tmp_path / "cache")))
    try:
        with httpx.Client(base_url=running.url) as client:
            statuses: list[int | str] = []
            for coding in ("identity", "gzip", "deflate", "identity", "gzip"):
                try:
                    response = client.get("/main/data/big.txt", headers={"accept-encoding": coding})
                except (httpx.RemoteProtocolError, httpx.DecodingError):
                    # The first inflate finds the damage after the status line went out: the
                    # connection is aborted, never completed with wrong bytes.
                    statuses.append("aborted")
                    continue
                statuses.append(response.status_code)
                assert response.status_code == 500, statuses
                assert str(repo) not in response.text  # no server paths in the body
            assert statuses[-1] == 500
            assert client.get("/main/README.md").status_code == 200
            assert client.get("/-/healthz").status_code == 200
    finally:
        stop(running)
