"""apply_delta: every check of git:patch-delta.c, and arbitrary bytes raise only DeltaError."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.git.delta import apply_delta, delta_header
from app.git.errors import DeltaError
from tests.packwriter import delta_varint

BASE = bytes(range(256)) * 400  # 102400 bytes, so 0x10000-sized copies fit


def header(base_size: int, result_size: int) -> bytes:
    return delta_varint(base_size) + delta_varint(result_size)


def test_copy_and_insert() -> None:
    ops = b"\x91\x10\x05" + b"\x03abc" + b"\x80"  # copy 5 @16, insert "abc", copy 0x10000 @0
    out = apply_delta(BASE, header(len(BASE), 5 + 3 + 0x10000) + ops, 1 << 20)
    assert out == BASE[16:21] + b"abc" + BASE[:0x10000]


def test_copy_with_all_bytes_present() -> None:
    ops = b"\xff" + struct.pack("<I", 300) + struct.pack("<I", 70000)[:3]
    assert apply_delta(BASE, header(len(BASE), 70000) + ops, 1 << 20) == BASE[300:70300]


def test_empty_result() -> None:
    assert apply_delta(b"abc", header(3, 0), 10) == b""


CASES = [
    ("base size", header(len(BASE) + 1, 1) + b"\x01x", "base of"),
    ("opcode 0", header(len(BASE), 1) + b"\x00\x01x", "opcode 0"),
    ("copy past base", header(len(BASE), 20) + b"\x97" + struct.pack("<I", len(BASE) - 10)[:3]
     + b"\x14", "outside the base"),
    ("insert past end", header(len(BASE), 5) + b"\x05ab", "past the end"),
    ("copy truncated", header(len(BASE), 5) + b"\x91\x10", "truncated"),
    ("result too long", header(len(BASE), 2) + b"\x03abc", "overruns"),
    ("copy overruns result", header(len(BASE), 2) + b"\x90\x05", "overruns"),
    ("result too short", header(len(BASE), 4) + b"\x03abc", "produced 3"),
    ("header truncated", b"\x80", "truncated"),
    ("endless varint", b"\xff" * 12, "too long"),
]


@pytest.mark.parametrize(("name", "payload", "match"), CASES)
def test_malformed_deltas(name: str, payload: bytes, match: str) -> None:
    with pytest.raises(DeltaError, match=match):
        apply_delta(BASE, payload, 1 << 30)


def test_copy_size_zero_means_0x10000() -> None:
    small = b"a" * 0xFFFF
    with pytest.raises(DeltaError, match="outside the base"):
        apply_delta(small, header(len(small), 0x10000) + b"\x80", 1 << 20)
    big = b"b" * 0x10000
    assert apply_delta(big, header(len(big), 0x10000) + b"\x80", 1 << 20) == big


def test_result_size_cap_checked_before_any_output() -> None:
    with pytest.raises(DeltaError, match="cap"):
        apply_delta(BASE, header(len(BASE), 1 << 40) + b"\x80" * 10, 1 << 32)


def test_delta_header_reads_a_prefix() -> None:
    assert delta_header(header(12345, 1 << 40) + b"junk") == (12345, 1 << 40, 8)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=64), st.binary(max_size=200))
def test_arbitrary_bytes_raise_only_delta_error(base: bytes, payload: bytes) -> None:
    try:
        out = apply_delta(base, payload, 1 << 16)
    except DeltaError:
        return
    assert len(out) == delta_header(payload)[1]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64), st.lists(st.binary(min_size=1, max_size=10), max_size=8))
def test_structured_deltas_raise_only_delta_error(base: bytes, pieces: list[bytes]) -> None:
    payload = header(len(base), sum(map(len, pieces))) + b"".join(
        bytes([0x80 | (p[0] & 0x7F)]) + p[1:] for p in pieces
    )
    try:
        apply_delta(base, payload, 1 << 16)
    except DeltaError:
        pass
