"""A pack truncated *in place* while it is mapped: disk trouble, or an operator's ``cp`` over it.

git never rewrites a pack in place (it writes a new file and renames it), but a filesystem
or a person can. The bytes are gone, so the pack's URLs must fail; the process must not.
Reading a mapping past the new end of its file raises SIGBUS, which Python cannot turn into
an exception, so a reader that trusts the size it mapped kills the whole service.
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from tests.faults.rewrite import build_site
from tests.faults.server import Server
from tests.git.fixtures import run_git


@pytest.mark.xfail(
    strict=True,
    reason="app/git/pack (ODB): a pack shrunk in place under its mmap kills the server with "
    "SIGBUS (exit -7) on the next read; suggested: compare os.stat(path).st_size with the "
    "mapped size before serving from a pack (and in the periodic revalidation), dropping "
    "the pack as corrupt when it shrank",
)
@pytest.mark.timeout(120)
def test_pack_truncated_in_place(tmp_path: Path, fault_home: Path) -> None:
    site = build_site(tmp_path / "site", fault_home, large=4 << 20)
    # A later commit whose objects stay loose: it must keep being served.
    (site.work / "after.txt").write_text("pushed after the gc, stored loose\n")
    run_git(site.work, "add", "after.txt", env=site.env)
    run_git(site.work, "commit", "-q", "-m", "after", env=site.env)
    run_git(site.work, "push", "-q", "origin", "main", env=site.env)
    large = f"/{site.stable_commit}/large.bin"
    with (
        Server(site.served, tmp_path / "server") as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        assert client.get(large).status_code == 200  # mapped and paged in
        pack = next((site.served / "objects" / "pack").glob("*.pack"))
        os.truncate(pack, pack.stat().st_size // 2)
        for coding in ("identity", "deflate", "gzip"):
            try:
                response = client.get(large, headers={"accept-encoding": coding})
            except httpx.HTTPError:
                continue  # an aborted body is an acceptable refusal; a dead process is not
            assert response.status_code == 404 or response.status_code >= 500, coding
        assert server.alive(), "the server died (SIGBUS reading the truncated mapping)"
        assert client.get("/main/after.txt").content == b"pushed after the gc, stored loose\n"
