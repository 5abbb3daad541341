"""Every corpus case against the engine: named errors only, in bounded time and memory.

For each case and each object of the pristine repository, through the object database
(``read``, ``header``, ``iter_content``, ``stored_stream``) and for each URL through the
``Repository`` façade (``resolve`` -> ``lookup`` -> ``blob`` / ``read_blob``):

- FAIL: a ``GitError`` subclass, nothing else;
- PASS: ``git cat-file``'s bytes exactly (stored streams: None or the exact pristine extent);
- MAY: one of the two.

Every call must return within ``CALL_SECONDS`` with a tracemalloc peak under
``CALL_PEAK_BYTES``, under an address-space limit so that an unbounded allocation becomes a
``MemoryError`` (a failure) instead of taking the test machine down.
"""

from __future__ import annotations

import resource
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import pytest

from app.git import GitError, ObjectId, Repository
from app.git.odb import ObjectDatabase
from tests.faults.corpus import CASES, Corrupted, State
from tests.packwriter import TYPE_CODES

CALL_SECONDS = 5.0
CALL_PEAK_BYTES = 64 << 20
ADDRESS_SPACE_HEADROOM = 2 << 30


@contextmanager
def bounded_address_space() -> Iterator[None]:
    """Cap this process's address space a little above what it uses now, then restore."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/status") as status:
        vm_kb = next(int(line.split()[1]) for line in status if line.startswith("VmSize:"))
    limit = vm_kb * 1024 + ADDRESS_SPACE_HEADROOM
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


class Outcome:
    """What one engine call did: a value or a ``GitError``; how long; how much memory."""

    __slots__ = ("value", "error", "seconds", "peak")

    def __init__(self, value: Any, error: GitError | None, seconds: float, peak: int) -> None:
        self.value = value
        self.error = error
        self.seconds = seconds
        self.peak = peak


def call(what: str, fn: Callable[[], Any]) -> Outcome:
    """Run ``fn``; anything but a ``GitError`` fails the test, as does time or memory."""
    tracemalloc.reset_peak()
    start_mem = tracemalloc.get_traced_memory()[0]
    start = time.monotonic()
    value: Any = None
    error: GitError | None = None
    try:
        value = fn()
    except GitError as exc:
        error = exc
    except BaseException as exc:
        pytest.fail(f"{what}: raised {type(exc).__name__}: {exc!r} (not a GitError)")
    seconds = time.monotonic() - start
    peak = tracemalloc.get_traced_memory()[1] - start_mem
    assert seconds < CALL_SECONDS, f"{what}: took {seconds:.1f}s"
    assert peak < CALL_PEAK_BYTES, f"{what}: allocated {peak >> 20} MiB at peak"
    return Outcome(value, error, seconds, peak)


def expect(what: str, state: State, outcome: Outcome, good: Any) -> None:
    """Check one outcome against the expected state."""
    if state == State.FAIL:
        assert outcome.error is not None, f"{what}: must raise a GitError, returned a value"
    elif state == State.PASS:
        assert outcome.error is None, f"{what}: must succeed, raised {outcome.error!r}"
        assert outcome.value == good, f"{what}: wrong value"
    elif outcome.error is None:
        assert outcome.value == good, f"{what}: returned wrong bytes instead of an error"


@pytest.fixture
def traced() -> Iterator[None]:
    """tracemalloc on for the test, and an address-space cap around it."""
    tracemalloc.start()
    try:
        with bounded_address_space():
            yield
    finally:
        tracemalloc.stop()


def _inflated(odb: ObjectDatabase, oid: ObjectId) -> bytes:
    return b"".join(odb.iter_content(oid, 8192))


def _stored_ok(corrupted: Corrupted, hex_id: str, value: Any) -> bool:
    """A stored stream is acceptable when absent or exactly git's bytes for the entry."""
    if value is None:
        return True
    pristine = corrupted.base.stored_stream(hex_id)
    return pristine is not None and (value.pack_id, value.offset, bytes(value.data)) == pristine


@pytest.mark.timeout(240)
@pytest.mark.parametrize("name", [case.name for case in CASES])
def test_objects(name: str, corrupt: Callable[[str], Corrupted], traced: None) -> None:
    corrupted = corrupt(name)
    base = corrupted.base
    opened = call(
        "open", lambda: ObjectDatabase.open(corrupted.root / ".git" / "objects", base.hash_len)
    )
    assert opened.error is None, f"opening the object database raised {opened.error!r}"
    odb: ObjectDatabase = opened.value
    for hex_id, state in corrupted.objects.items():
        oid = ObjectId(bytes.fromhex(hex_id))
        type_name, content = base.objects[hex_id]
        code = TYPE_CODES[type_name]
        got = call(f"read {hex_id}", partial(odb.read, oid))
        expect(f"read {type_name} {hex_id}", state, got, (code, content))
        got = call(f"iter {hex_id}", partial(_inflated, odb, oid))
        expect(f"iter_content {type_name} {hex_id}", state, got, content)
        if state != State.FAIL:
            got = call(f"header {hex_id}", partial(odb.header, oid))
            expect(f"header {type_name} {hex_id}", state, got, (code, len(content)))
        if type_name == "blob":
            got = call(f"stored {hex_id}", partial(odb.stored_stream, oid))
            if state == State.PASS:
                assert got.error is None, f"stored_stream {hex_id}: raised {got.error!r}"
            if state != State.FAIL and got.error is None:
                assert _stored_ok(corrupted, hex_id, got.value), f"stored_stream {hex_id}: wrong"


def _serve(repo: Repository, url: str) -> tuple[int, bytes]:
    target = repo.resolve(url)
    entry = repo.lookup(target.commit, target.path)
    return repo.blob(entry.oid).size, repo.read_blob(entry.oid)


@pytest.mark.timeout(240)
@pytest.mark.parametrize("name", [case.name for case in CASES])
def test_urls(name: str, corrupt: Callable[[str], Corrupted], traced: None) -> None:
    corrupted = corrupt(name)
    base = corrupted.base
    opened = call("open", lambda: Repository.open(corrupted.root, refs_ttl=0))
    assert opened.error is None, f"Repository.open raised {opened.error!r}"
    repo: Repository = opened.value
    # The first ref read is measured by test_first_ref_read_is_bounded; here the steady state.
    try:
        repo.refs()
    except GitError:
        pass  # a corrupt ref store is what some cases are about; the URLs tell
    for url, state in corrupted.urls.items():
        facts = base.urls.get(url)
        content = base.objects[facts.blob][1] if facts else b""
        got = call(f"GET {url}", partial(_serve, repo, url))
        expect(f"URL {url}", state, got, (len(content), content))


@pytest.mark.timeout(60)
def test_first_ref_read_is_bounded(corrupt: Callable[[str], Corrupted], traced: None) -> None:
    """Reading a small ``packed-refs`` must not allocate by the format's size cap."""
    corrupted = corrupt("symref-loop")
    repo = Repository.open(corrupted.root, refs_ttl=0)
    got = call("resolve main/README.md", lambda: repo.resolve("main/README.md"))
    assert got.error is None
