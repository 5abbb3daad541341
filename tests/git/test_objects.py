"""Commit, tag and tree body parsers: leniency where git is lenient, structure checks on trees."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.git import CorruptObject, GitError, ObjectId
from app.git.objects import canon_mode, parse_commit, parse_tag, parse_tree

T = "1" * 40
P = "2" * 40


def test_commit_full() -> None:
    body = (f"tree {T}\nparent {P}\nparent {T}\nauthor A <a@x> 1600000000 +0000\n"
            f"committer C <c@x> 1600000100 +0200\ngpgsig -----BEGIN-----\n \n abc\n"
            f" -----END-----\n\nmessage\n\nbody\n").encode()
    commit = parse_commit(body, 20)
    assert commit.tree == ObjectId.from_hex(T)
    assert commit.parents == (ObjectId.from_hex(P), ObjectId.from_hex(T))
    assert commit.commit_time == 1600000100
    assert commit.author == b"A <a@x> 1600000000 +0000"
    assert commit.message == b"message\n\nbody\n"


@pytest.mark.parametrize(("committer", "time"), [
    (b"C <c@x> 1600000100 +0200", 1600000100),
    (b"C <c@x>1600000100 +0200", 1600000100),  # fsck missingSpaceBeforeDate
    (b"C <c@x> 01600000100 +0200", 1600000100),  # zeroPaddedDate
    (b"C <c@x> 1600000100 +02", 1600000100),  # badTimezone
    (b"C <c@x> 1600000100", 1600000100),
    (b"C <c@x>", 0),
    (b"C <c@x> notadate", 0),
    (b"C c@x 1600000100", 0),
    (b"C <c@x> 99999999999999999999999", 0),
])
def test_commit_dates_lenient(committer: bytes, time: int) -> None:
    body = b"tree " + T.encode() + b"\ncommitter " + committer + b"\n\nm"
    assert parse_commit(body, 20).commit_time == time


def test_commit_without_committer_or_message() -> None:
    commit = parse_commit(f"tree {T}\n".encode(), 20)
    assert (commit.commit_time, commit.message, commit.parents) == (0, b"", ())


@pytest.mark.parametrize("body", [b"", b"parent x\ntree y\n", b"tree 1234\n\n",
                                  f"tree {T}\nparent nothex\n\n".encode()])
def test_commit_malformed(body: bytes) -> None:
    with pytest.raises(CorruptObject):
        parse_commit(body, 20)


def test_tag_with_and_without_tagger() -> None:
    tag = parse_tag(f"object {T}\ntype commit\ntag v1\ntagger T <t@x> 1 +0000\n\nmsg\n"
                    .encode(), 20)
    assert (tag.object, tag.type_name, tag.name, tag.tagger, tag.message) == (
        ObjectId.from_hex(T), b"commit", b"v1", b"T <t@x> 1 +0000", b"msg\n")
    old = parse_tag(f"object {T}\ntype tag\ntag old\n\n".encode(), 20)
    assert old.tagger is None and old.type_name == b"tag"
    with pytest.raises(CorruptObject):
        parse_tag(b"type commit\ntag v1\n\n", 20)


def entry(mode: bytes, name: bytes, oid: bytes) -> bytes:
    return mode + b" " + name + b"\0" + oid


def test_tree_modes_canonicalised() -> None:
    oid = b"\x01" * 20
    body = b"".join([
        entry(b"100644", b"a", oid), entry(b"100755", b"b", oid), entry(b"100664", b"c", oid),
        entry(b"40000", b"d", oid), entry(b"040000", b"e", oid), entry(b"120000", b"f", oid),
        entry(b"160000", b"g", oid), entry(b"0100644", b"h", oid),
    ])
    modes = [item.mode for item in parse_tree(body, 20)]
    assert modes == [0o100644, 0o100755, 0o100644, 0o40000, 0o40000, 0o120000, 0o160000,
                     0o100644]
    assert canon_mode(0o777) == 0o160000  # git:object.h: anything else is a gitlink


def test_tree_sha256_and_names() -> None:
    oid = bytes(range(32))
    items = parse_tree(entry(b"100644", b"\xff name \n", oid), 32)
    assert (items[0].name, items[0].oid) == (b"\xff name \n", ObjectId(oid))
    assert parse_tree(b"", 20) == ()


@pytest.mark.parametrize("body", [
    b"100644 a",  # no NUL
    entry(b"100644", b"a", b"\x01" * 19),  # short id
    entry(b"100648", b"a", b"\x01" * 20),  # not octal
    entry(b"", b"a", b"\x01" * 20),  # no mode
    entry(b"100644", b"", b"\x01" * 20),  # empty name
    entry(b"10064400000", b"a", b"\x01" * 20),  # absurd mode length
    b"100644" + b"\x01" * 30,  # no space
    entry(b"-10064", b"a", b"\x01" * 20),
    entry(b"100644", b"a", b"\x01" * 20) + b"4",  # trailing garbage
])
def test_tree_malformed(body: bytes) -> None:
    with pytest.raises(CorruptObject):
        parse_tree(body, 20)


@given(st.binary(max_size=300), st.sampled_from([20, 32]))
def test_tree_arbitrary_bytes_raise_only_engine_errors(data: bytes, hash_len: int) -> None:
    try:
        items = parse_tree(data, hash_len)
    except GitError:
        return
    for item in items:
        assert len(item.oid) == hash_len and item.name and b"\0" not in item.name


@given(st.binary(max_size=300))
def test_commit_and_tag_raise_only_engine_errors(data: bytes) -> None:
    for parser in (parse_commit, parse_tag):
        try:
            parser(data, 20)
        except GitError:
            pass
