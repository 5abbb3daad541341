"""The byte-bounded LRU, the delta base cache at work, and concurrent readers."""

from __future__ import annotations

import threading

import pytest

from app.git.lru import ByteLRU, NullCache
from app.git.odb import ObjectDatabase
from tests.git.conftest import RepoFactory
from tests.git.fixtures import cat_file_all


def test_lru_evicts_by_bytes_in_lru_order() -> None:
    cache: ByteLRU[str, bytes] = ByteLRU(100)
    cache.put("a", b"a" * 40, 40)
    cache.put("b", b"b" * 40, 40)
    assert cache.get("a") == b"a" * 40  # a is now most recent
    cache.put("c", b"c" * 40, 40)  # evicts b
    assert cache.get("b") is None and cache.get("a") and cache.get("c")
    assert cache.nbytes == 80 and len(cache) == 2
    cache.put("a", b"x", 1)  # replacing adjusts the total
    assert cache.nbytes == 41
    cache.put("huge", b"h" * 101, 101)  # larger than the budget: never stored
    assert cache.get("huge") is None and len(cache) == 2
    cache.clear()
    assert cache.nbytes == 0 and cache.get("a") is None


def test_lru_replacing_with_an_oversized_value_drops_the_old_one() -> None:
    cache: ByteLRU[str, bytes] = ByteLRU(100)
    cache.put("a", b"old", 3)
    cache.put("a", b"n" * 101, 101)  # not stored, and the stale value must not answer
    assert cache.get("a") is None
    assert cache.nbytes == 0 and len(cache) == 0


def test_lru_rejects_negative_budget() -> None:
    with pytest.raises(ValueError):
        ByteLRU(-1)


def test_null_cache_stores_nothing() -> None:
    cache: NullCache[str, int] = NullCache()
    cache.put("a", 1, 1)
    assert cache.get("a") is None


class CountingCache(ByteLRU[tuple[bytes, int], tuple[int, bytes]]):
    def __init__(self, max_bytes: int) -> None:
        super().__init__(max_bytes)
        self.hits = 0

    def get(self, key: tuple[bytes, int]) -> tuple[int, bytes] | None:
        value = super().get(key)
        self.hits += value is not None
        return value


def test_sibling_deltas_reuse_cached_bases(git_repos: RepoFactory) -> None:
    repo = git_repos("aggressive")
    expected = cat_file_all(repo)
    cache = CountingCache(64 << 20)
    odb = ObjectDatabase.open(repo / "objects", 20, cache=cache)
    for oid in expected:
        odb.read(oid)
    assert cache.hits > 100 and len(cache) > 50
    cold = ObjectDatabase.open(repo / "objects", 20, cache=NullCache())
    for oid, value in list(expected.items())[:50]:
        assert cold.read(oid) == value


def test_concurrent_readers_and_rescans(git_repos: RepoFactory) -> None:
    repo = git_repos("deep")
    expected = list(cat_file_all(repo).items())
    odb = ObjectDatabase.open(repo / "objects", 20, cache=ByteLRU(1 << 20))
    errors: list[BaseException] = []

    def reader(offset: int) -> None:
        try:
            for oid, value in expected[offset::4]:
                assert odb.read(oid) == value
                assert odb.header(oid) == (value[0], len(value[1]))
                if offset == 0:
                    odb.rescan()
        except BaseException as exc:  # noqa: BLE001 - collected and re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors[0]
