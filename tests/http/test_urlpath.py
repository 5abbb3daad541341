"""Request path validation as tables."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.http.urlpath import PathError, RequestPath, is_reserved, parse_path

GOOD_CASES = [
    (b"/", ("", False)),
    (b"/main", ("main", False)),
    (b"/main/", ("main/", True)),
    (b"/main/docs/a.txt", ("main/docs/a.txt", False)),
    (b"/feature%2Fx/a.txt", ("feature/x/a.txt", False)),  # %2F is a real separator
    (b"/feature%2fx/a.txt", ("feature/x/a.txt", False)),
    (b"/main/%E2%82%AC.txt", ("main/\u20ac.txt", False)),
    (b"/main/\xe2\x82\xac.txt", ("main/\u20ac.txt", False)),  # raw UTF-8 bytes
    (b"/main/a%20b", ("main/a b", False)),
    (b"/main/a+b", ("main/a+b", False)),  # "+" is not a space in a path
    (b"/main/%25", ("main/%", False)),  # decoded exactly once
    (b"/main/%2525", ("main/%25", False)),
    (b"/main/.hidden", ("main/.hidden", False)),
    (b"/main/...", ("main/...", False)),
    (b"/main/a..b", ("main/a..b", False)),
    (b"/v1.0/x", ("v1.0/x", False)),
    (b"/-/healthz", ("-/healthz", False)),
    (b"/main/%7E", ("main/~", False)),
]


@pytest.mark.parametrize(("raw", "expected"), GOOD_CASES)
def test_good_paths(raw: bytes, expected: tuple[str, bool]) -> None:
    assert parse_path(raw) == RequestPath(*expected)


BAD_CASES = [
    (b"", "must start"),
    (b"main", "must start"),
    (b"*", "must start"),
    (b"/main/%zz", "percent"),
    (b"/main/%", "percent"),
    (b"/main/%2", "percent"),
    (b"/main/%2g", "percent"),
    (b"/main/% 2", "control"),  # raw space
    (b"/main/%\t2", "percent"),
    (b"/main/%+1", "percent"),
    (b"/main/%\xff1", "percent"),
    (b"/main/%ff", "UTF-8"),
    (b"/main/\xff", "UTF-8"),
    (b"/main/%C0%AF", "UTF-8"),  # overlong "/"
    (b"/main/%C0%AE%C0%AE/x", "UTF-8"),  # overlong ".."
    (b"/main/%E0%80%AF", "UTF-8"),  # 3-byte overlong
    (b"/main/%ED%A0%80", "UTF-8"),  # UTF-16 surrogate
    (b"/main/%F4%90%80%80", "UTF-8"),  # beyond U+10FFFF
    (b"/main/a%00b", "control"),
    (b"/main/a\x00b", "control"),
    (b"/main/a%0Ab", "control"),
    (b"/main/a%0db", "control"),
    (b"/main/a%09b", "control"),
    (b"/main/a%7Fb", "control"),
    (b"/main/a%C2%85b", "control"),  # C1 NEL
    (b"/main/a%C2%9Fb", "control"),
    (b"/main/a b", "control"),  # raw space cannot be in a request-target
    (b"/main/a\\b", "backslash"),
    (b"/main/a%5Cb", "backslash"),
    (b"/main/a%5cb", "backslash"),
    (b"/main/../secret", "dot segment"),
    (b"/main/./a", "dot segment"),
    (b"/main/..", "dot segment"),
    (b"/main/../", "dot segment"),
    (b"/..", "dot segment"),
    (b"/.", "dot segment"),
    (b"/main/%2e%2e/secret", "dot segment"),
    (b"/main/%2E%2E", "dot segment"),
    (b"/main/.%2e/x", "dot segment"),
    (b"/main/%2e/x", "dot segment"),
    (b"/main%2F..%2Fsecret", "dot segment"),  # encoded slash cannot hide a dot segment
    (b"/main//a", "empty segment"),
    (b"//main", "empty segment"),
    (b"/main%2F%2Fa", "empty segment"),
    (b"/main/a//", "empty segment"),
    (b"/main%2F/a", "empty segment"),
]


@pytest.mark.parametrize(("raw", "message"), BAD_CASES)
def test_bad_paths(raw: bytes, message: str) -> None:
    with pytest.raises(PathError, match=message) as info:
        parse_path(raw)
    assert info.value.status == 400


def test_length_limit() -> None:
    ok = b"/" + b"a" * 99
    assert parse_path(ok, max_length=100).path == "a" * 99
    with pytest.raises(PathError, match="too long") as info:
        parse_path(ok + b"a", max_length=100)
    assert info.value.status == 414


def test_error_message_does_not_echo_input() -> None:
    with pytest.raises(PathError) as info:
        parse_path(b"/<script>%zz")
    assert "<script>" not in str(info.value)


@pytest.mark.parametrize(
    ("path", "expected"),
    [("-", True), ("-/", True), ("-/healthz", True), ("-x/a", False), ("main/-/x", False),
     ("", False), ("main", False)],
)
def test_is_reserved(path: str, expected: bool) -> None:
    assert is_reserved(path) is expected


@given(st.binary(max_size=80))
def test_arbitrary_bytes_only_raise_path_error(raw: bytes) -> None:
    try:
        result = parse_path(b"/" + raw)
    except PathError as exc:
        assert exc.status == 400
        return
    segments = result.path.split("/")
    if result.trailing_slash:
        segments.pop()
    assert "" not in segments or result.path == ""
    assert ".." not in segments
    assert "\\" not in result.path
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in result.path)


@given(st.text(max_size=40))
def test_quoted_text_round_trips_unless_refused(text: str) -> None:
    raw = ("/" + quote(text, safe="")).encode("ascii")
    try:
        result = parse_path(raw)
    except PathError:
        return
    assert result.path == text
