"""Malformed HTTP on a raw socket against ``packserve serve`` (uvicorn + the app).

Handwritten protocol abuses (bad request lines, broken framing, smuggling attempts, huge or
numerous headers, pipelining, early closes) plus ``MUTATIONS`` seeded random mutations of
valid requests. Each answer, if any, must be a parseable status line that is not a 5xx and
must not carry a byte from outside the tree; afterwards the process is alive, still serves
a file byte-exact, and holds no more descriptors than before.
"""

from __future__ import annotations

import random
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.faults.hostile import MARKERS, HostileRepo
from tests.faults.server import Server
from tests.faults.wire import raw_get

MUTATIONS = 300
READ_SECONDS = 3.0

VALID = (
    b"GET /main/README.md HTTP/1.1\r\nHost: 127.0.0.1\r\nRange: bytes=0-9\r\n"
    b'Accept-Encoding: gzip\r\nIf-None-Match: "x"\r\n\r\n'
)

HANDWRITTEN: list[bytes] = [
    b"",
    b"\r\n\r\n",
    b"GET\r\n\r\n",
    b"GET /\r\n\r\n",
    b"GET / HTTP/9.9\r\nHost: a\r\n\r\n",
    b"GET / HTTP/1.1\r\n\r\n",
    b"GET /main/README.md HTTP/1.0\r\n\r\n",
    b"get /main/README.md HTTP/1.1\r\nHost: a\r\n\r\n",
    b"FOO /main/README.md HTTP/1.1\r\nHost: a\r\n\r\n",
    b"CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: a\r\n\r\n",
    b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
    b"DELETE /main/README.md HTTP/1.1\r\nHost: a\r\n\r\n",
    b"POST /main/README.md HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
    b"GET /main/README.md HTTP/1.1\r\nHost a\r\n\r\n",
    b"GET /main/README.md HTTP/1.1\r\nHost : a\r\n\r\n",
    b"GET /main/README.md HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
    b"GET /main/README.md HTTP/1.1\r\nHost: a\x00b\r\n\r\n",
    b"GET /main/README.md HTTP/1.1\r\nHost: a\r\nX: " + b"x" * 100_000 + b"\r\n\r\n",
    b"GET /main/README.md HTTP/1.1\r\n" + b"X-A: b\r\n" * 2000 + b"\r\n",
    b"GET /main/README.md HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
    b"GET /main/README.md HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n",
    b"GET /main/README.md HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    b"GET /main/README.md HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n",
    b"GET /main/README.md HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"GET /main/README.md HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
    b"POST /main/README.md HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked"
    b"\r\n\r\n0\r\n\r\nGET /main/escape-abs HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /main/README.md HTTP/1.1\nHost: a\n\n",
    b"GET /main/README.md HTTP/1.1\rHost: a\r\r",
    b"GET  /main/README.md  HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /main/README.md?" + b"q=1&" * 5000 + b" HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /main/\xff\xfe HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /main/README.md HTTP/1.1\r\nHost: \xff\xfe\r\n\r\n",
    b"GET /main/README.md HTTP/1.1\r\nHost: a\r\nRange: bytes=" + b"0-0," * 10_000 + b"\r\n\r\n",
    b"GET /main/README.md HTTP/1.1\r\nHost: a\r\nIf-None-Match: " + b'"x",' * 10_000 + b"\r\n\r\n",
    b"GET /main/README.md HTTP/1.1\r\nHost: a\r\nAccept-Encoding: "
    + b"gzip;q=0.1," * 5000
    + b"\r\n\r\n",
    b"GET http://127.0.0.1/main/README.md HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /main/README.md HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    b"GET /main/README.md HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n",
    b"GET /main/README.md HTTP/1.1\r\nHost: a\r\n\r\nGARBAGE GARBAGE\r\n\r\n",
    b"GET /main/README.md HTTP/1.1\r\nHost: a\r\n\r\n" * 50,
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)),
    b"GET /main/README.md HTTP/1.1\r\nHost: a\r\n",
    b"GET /main/README.md HTT",
]


def mutations(count: int, seed: int = 20261121) -> list[bytes]:
    """``count`` seeded byte-level mutations of ``VALID`` (flip, insert, delete, splice)."""
    rnd = random.Random(seed)
    out = []
    for _ in range(count):
        data = bytearray(VALID)
        for _ in range(rnd.randint(1, 8)):
            op = rnd.randrange(4)
            pos = rnd.randrange(len(data) + 1)
            if op == 0 and pos < len(data):
                data[pos] = rnd.randrange(256)
            elif op == 1:
                data[pos:pos] = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 16)))
            elif op == 2:
                del data[pos : pos + rnd.randint(1, 16)]
            else:
                data[pos:pos] = rnd.choice([b"\r\n", b"\n", b"\x00", b":", b" ", b"..", b"%"])
        out.append(bytes(data))
    return out


def exchange(port: int, payload: bytes) -> bytes:
    """Send ``payload``, half-close, and read whatever comes back before EOF or timeout."""
    chunks = []
    with socket.create_connection(("127.0.0.1", port), timeout=READ_SECONDS) as sock:
        try:
            sock.sendall(payload)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            return b""  # the server closed on us mid-send: an acceptable refusal
        deadline = time.monotonic() + READ_SECONDS
        while time.monotonic() < deadline:
            try:
                data = sock.recv(65536)
            except (TimeoutError, OSError):
                break
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks)


@pytest.fixture(scope="module")
def served(hostile: HostileRepo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``packserve serve`` on the hostile repository."""
    with Server(hostile.root, Path(tmp_path_factory.mktemp("raw-http"))) as server:
        yield server


@pytest.mark.timeout(120)
def test_malformed_http(served: Server, hostile: HostileRepo) -> None:
    raw_get(served.port, "/main/README.md")  # warm up before counting descriptors
    fds_before = served.open_fds()
    payloads = HANDWRITTEN + mutations(MUTATIONS)
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda p: exchange(served.port, p), payloads))
    problems = []
    for payload, answer in zip(payloads, answers, strict=True):
        for marker in MARKERS:
            if marker in answer:
                problems.append(f"{payload[:80]!r}: content from outside the tree")
        for line in answer.split(b"\r\n"):
            if line.startswith(b"HTTP/1.1 5"):
                problems.append(f"{payload[:80]!r}: {line!r}")
    assert not problems, "\n".join(problems[:20])
    assert served.alive()
    status, _, body = raw_get(served.port, "/main/README.md")
    assert status == 200 and body == hostile.blobs[hostile.files["README.md"]]
    deadline = time.monotonic() + 10
    while served.open_fds() > fds_before + 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert served.open_fds() <= fds_before + 2, "descriptors leaked"
