"""multipart/byteranges framing: exact bytes, exact length, parseable by the stdlib."""

from __future__ import annotations

import email.parser
import email.policy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.http.multipart import MultipartPlan, make_boundary, plan_byteranges
from app.http.ranges import UNSATISFIABLE, byte_ranges

DATA = bytes(range(256)) * 4  # 1024 bytes


def assemble(plan: MultipartPlan, data: bytes) -> bytes:
    body = b"".join(header + data[start:stop] for header, start, stop in plan.parts)
    return body + plan.closing


def test_exact_bytes() -> None:
    plan = plan_byteranges(((0, 2), (5, 7)), 10, "text/plain; charset=utf-8", "B")
    body = assemble(plan, b"0123456789")
    assert body == (
        b"--B\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Content-Range: bytes 0-1/10\r\n"
        b"\r\n"
        b"01"
        b"\r\n--B\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Content-Range: bytes 5-6/10\r\n"
        b"\r\n"
        b"56"
        b"\r\n--B--\r\n"
    )
    assert plan.content_length == len(body)
    assert plan.content_type == "multipart/byteranges; boundary=B"


def _parse(plan: MultipartPlan, body: bytes) -> list[tuple[str, str, bytes]]:
    head = f"Content-Type: {plan.content_type}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    assert message.is_multipart()
    parts = []
    for part in message.iter_parts():
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        parts.append((str(part["Content-Type"]), str(part["Content-Range"]), payload))
    return parts


@given(
    st.lists(st.tuples(st.integers(0, 1023), st.integers(0, 1023)), min_size=2, max_size=6),
)
def test_stdlib_parser_reads_back_every_part(pairs: list[tuple[int, int]]) -> None:
    header = "bytes=" + ",".join(f"{min(a, b)}-{max(a, b)}" for a, b in pairs)
    slices = byte_ranges(header, len(DATA))
    assert slices is not None and slices is not UNSATISFIABLE
    if len(slices) < 2:
        return
    plan = plan_byteranges(slices, len(DATA), "application/octet-stream")
    body = assemble(plan, DATA)
    assert plan.content_length == len(body)
    parts = _parse(plan, body)
    assert len(parts) == len(slices)
    for (ctype, crange, payload), (start, stop) in zip(parts, slices, strict=True):
        assert ctype == "application/octet-stream"
        assert crange == f"bytes {start}-{stop - 1}/{len(DATA)}"
        assert payload == DATA[start:stop]


def test_default_boundary_is_random_and_fixed_length() -> None:
    first = plan_byteranges(((0, 1), (2, 3)), 4, "text/plain")
    second = plan_byteranges(((0, 1), (2, 3)), 4, "text/plain")
    assert first.content_type != second.content_type
    assert first.content_length == second.content_length  # HEAD and GET agree
    assert len(make_boundary()) == 32


@pytest.mark.parametrize(
    ("slices", "length", "boundary"),
    [
        (((0, 1),), 10, "B"),  # single range: never multipart
        ((), 10, "B"),
        (((0, 1), (5, 11)), 10, "B"),  # out of bounds
        (((0, 1), (5, 5)), 10, "B"),  # empty slice
        (((0, 1), (2, 3)), 10, "bad boundary"),
        (((0, 1), (2, 3)), 10, ""),
        (((0, 1), (2, 3)), 10, "x" * 71),
        (((0, 1), (2, 3)), 10, "a\r\nb"),
    ],
)
def test_caller_errors(slices: tuple[tuple[int, int], ...], length: int, boundary: str) -> None:
    with pytest.raises(ValueError):
        plan_byteranges(slices, length, "text/plain", boundary)
