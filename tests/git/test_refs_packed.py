"""packed-refs parser: traits, peeled lines, malformed input (property test)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.git import CorruptRefs, GitError, ObjectId
from app.git.refs.packed import PackedRefs

A = "a" * 40
B = "b" * 40
C = "c" * 40


def parse(text: str, hash_len: int = 20) -> PackedRefs:
    return PackedRefs.from_bytes(text.encode(), hash_len)


def test_full_header() -> None:
    packed = parse(f"# pack-refs with: peeled fully-peeled sorted \n"
                   f"{A} refs/heads/main\n{B} refs/tags/v1\n^{C}\n")
    assert packed.traits == {"peeled", "fully-peeled", "sorted"}
    main, tag = packed.refs["refs/heads/main"], packed.refs["refs/tags/v1"]
    assert (main.oid, main.peeled, main.peel_known) == (ObjectId.from_hex(A), None, True)
    assert (tag.oid, tag.peeled, tag.peel_known) == (ObjectId.from_hex(B),
                                                     ObjectId.from_hex(C), True)


def test_peeled_trait_covers_only_tags() -> None:
    packed = parse(f"# pack-refs with: peeled \n{A} refs/heads/main\n{B} refs/tags/v1\n")
    assert packed.refs["refs/heads/main"].peel_known is False
    assert packed.refs["refs/tags/v1"].peel_known is True


def test_headerless_unsorted_with_peel_lines() -> None:
    packed = parse(f"{B} refs/tags/z\n^{C}\n{A} refs/heads/a\n")
    assert packed.traits == frozenset()
    assert packed.refs["refs/tags/z"].peeled == ObjectId.from_hex(C)
    assert packed.refs["refs/heads/a"].peel_known is False
    assert list(packed.refs) == ["refs/tags/z", "refs/heads/a"]


def test_empty_and_sha256() -> None:
    assert parse("").refs == {}
    assert parse("# pack-refs with: peeled \n").refs == {}
    packed = parse(f"{'d' * 64} refs/heads/main\n", 32)
    assert packed.refs["refs/heads/main"].oid == ObjectId(bytes.fromhex("d" * 64))


@pytest.mark.parametrize("text", [
    f"{A} refs/heads/main",  # unterminated
    f"# something else\n{A} refs/heads/main\n",
    f"^{C}\n",  # peel line without a record
    f"{A} refs/heads/main\n^{C}\n^{C}\n",  # two peel lines
    f"{A[:-1]} refs/heads/main\n",
    f"{A}x refs/heads/main\n",
    f"{'g' * 40} refs/heads/main\n",
    f"{A} refs/heads/a..b\n",
    f"{A} \n",
    f"{A}\n",
    f"{'a' * 64} refs/heads/main\n",  # sha256 id in a sha1 repository
])
def test_malformed(text: str) -> None:
    with pytest.raises(CorruptRefs):
        parse(text)


def test_non_utf8_name() -> None:
    with pytest.raises(CorruptRefs, match="UTF-8"):
        PackedRefs.from_bytes(A.encode() + b" refs/heads/\xff\n", 20)


@given(st.binary(max_size=400))
def test_arbitrary_bytes_raise_only_engine_errors(data: bytes) -> None:
    try:
        PackedRefs.from_bytes(data, 20)
    except GitError:
        pass


RECORD = st.sampled_from([
    f"{A} refs/heads/main\n".encode(),
    f"^{C}\n".encode(),
    b"# pack-refs with: peeled fully-peeled sorted \n",
    f"{B} refs/tags/v1\n".encode(),
    b"\n",
    b"^",
    b" ",
])


@given(st.lists(st.one_of(RECORD, st.binary(max_size=8)), max_size=12))
def test_mutated_files_raise_only_engine_errors(parts: list[bytes]) -> None:
    try:
        packed = PackedRefs.from_bytes(b"".join(parts), 20)
    except GitError:
        return
    for ref in packed.refs.values():
        assert len(ref.oid) == 20
