"""A served repository rewritten under load: pushes, branch moves and deletes, gc, repack.

See ``rewrite.py``. Also: a download in flight while ``git repack -adf`` and ``git gc``
delete the pack it streams from completes intact (identity and the stored deflate stream),
and its full-id URL keeps answering afterwards from the new pack.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import httpx
import pytest

from tests.faults.rewrite import Oracle, Reader, Writer, build_site
from tests.faults.server import Server
from tests.faults.wire import decode
from tests.git.fixtures import run_git

LOAD_SECONDS = 8.0
READERS = 6
DELETE_AFTER = 2.5
# Refs are re-read at most every second (RefStore ttl) plus the racy-stamp window.
DELETE_GRACE = 3.5


@pytest.mark.timeout(120)
def test_rewriting_under_load(tmp_path: Path, fault_home: Path) -> None:
    site = build_site(tmp_path / "site", fault_home)
    stable = site.stable_commit
    fixed = {"stable": stable, "v1": stable, stable: stable}
    refs = [*fixed, "moving", "doomed"]
    oracle = Oracle()
    with Server(site.served, tmp_path / "server") as server:
        start = time.monotonic()
        deadline = start + LOAD_SECONDS
        writer = Writer(site, deadline, delete_at=start + DELETE_AFTER)
        readers = [
            Reader(server.url, refs, sorted(site.files), oracle, deadline, seed)
            for seed in range(READERS)
        ]
        for thread in [writer, *readers]:
            thread.start()
        for thread in [writer, *readers]:
            thread.join(timeout=LOAD_SECONDS + 60)
            assert not thread.is_alive()
        assert writer.error is None, writer.error
        assert server.alive()
        with httpx.Client(base_url=server.url) as client:
            assert client.get("/doomed/README.md").status_code == 404
            assert client.get(f"/{stable}/README.md").status_code == 200
    problems = oracle.verify(site, fixed)
    assert writer.deleted_at is not None
    late = [
        r
        for r in oracle.records
        if r.ref == "doomed" and r.at > writer.deleted_at + DELETE_GRACE and r.status != 404
    ]
    counts = oracle.counts()
    summary = f"requests {sum(counts.values())} {dict(counts)}; writer {dict(writer.actions)}"
    assert not problems, summary + "\n" + "\n".join(problems[:30])
    assert not late, f"deleted ref still served: {late[:3]}"
    assert writer.actions["gc"] >= 2 and writer.actions["repack -adf"] >= 2, summary
    assert sum(counts.values()) > 200, summary


@pytest.mark.timeout(120)
def test_download_survives_pack_deletion(tmp_path: Path, fault_home: Path) -> None:
    site = build_site(tmp_path / "site", fault_home, large=16 << 20)
    content = (site.work / "large.bin").read_bytes()
    url = f"/{site.stable_commit}/large.bin"
    pack_dir = site.served / "objects" / "pack"
    with (
        Server(site.served, tmp_path / "server") as server,
        httpx.Client(base_url=server.url, timeout=60) as client,
    ):
        for step, coding in enumerate(["identity", "deflate", "gzip"]):
            with client.stream("GET", url, headers={"accept-encoding": coding}) as response:
                assert response.status_code == 200
                pieces = response.iter_raw(64 << 10)
                got = [next(pieces) for _ in range(16)]  # 1 MiB in, the rest still to come
                before = {(p, p.stat().st_ino) for p in pack_dir.glob("*.pack")}
                # A new object makes the repacked pack's name (its hash) differ.
                (site.work / "extra.txt").write_text(f"pushed during download {step}\n")
                run_git(site.work, "add", "extra.txt", env=site.env)
                run_git(site.work, "commit", "-q", "-m", f"extra {step}", env=site.env)
                run_git(site.work, "push", "-q", "origin", "main", env=site.env)
                run_git(site.served, "repack", "-q", "-a", "-d", "-f", env=site.env)
                run_git(site.served, "gc", "-q", "--prune=now", env=site.env)
                after = {(p, p.stat().st_ino) for p in pack_dir.glob("*.pack")}
                assert not before & after, "the pack being streamed was not replaced"
                got.extend(pieces)
                body = decode(response.headers.get("content-encoding"), b"".join(got))
            assert hashlib.sha256(body).digest() == hashlib.sha256(content).digest(), coding
            again = client.get(url, headers={"accept-encoding": coding})
            assert again.status_code == 200 and again.content == content, coding
