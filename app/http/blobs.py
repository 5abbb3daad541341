"""``GET|HEAD /<ref>/<path>``: the lean raw-ASGI handler that serves files of a commit.

Rules:
- This is the hot path (DESIGN.md §5): no Starlette Request/Response objects, no middleware,
  no worker-thread hop for a warm request. A warm request is: decode the path (memoized),
  resolve the ref and look up the entry (the engine's caches), find the blob's plan (one
  dict lookup), find the precomputed header block (one dict lookup), evaluate the
  preconditions and Range, send.
- Engine calls that are cheap or cached run on the event loop; unbounded work (making a
  plan for a delta-stored blob, inflating a large blob, listings) runs in worker threads
  under the app's ``CapacityLimiter`` (``representation``, ``body``).
- An exact repeat of a request for a small file is answered from ``_answers``: the status,
  header block and body it got last time, keyed by raw path, method, ``Accept-Encoding``
  and ``If-None-Match`` (every other field that changes an answer — Range, the other
  preconditions — keeps a request off it). An answer is reused only while its URL still
  resolves to the same target (the refs are re-read as always) and its blob's plan is still
  the one it was made from; only plans whose content was inflated and checked (small
  blobs) are remembered, so nothing unverified is ever repeated.
- The order of evaluation is RFC 9110 §13.2.2: If-Match / If-Unmodified-Since (412), then
  If-None-Match / If-Modified-Since (304), then If-Range, then Range (§14.2; GET only).
- Every answer for a file carries Content-Length (never chunked), ``Vary: Accept-Encoding``,
  ``Accept-Ranges: bytes``, the commit that answered (``X-Git-Commit``) and a canonical link
  to the same file under the full commit id (``Link: <…>; rel="canonical"``).
"""

from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import anyio.to_thread

from app.config import Settings
from app.git import GitError, NotFound, PathNotFound
from app.http import body as bodies
from app.http import cachecontrol, listing, mediatypes, multipart
from app.http.conditional import evaluate, http_date, if_range_allows, precondition_failed
from app.http.errors import COMMON, Header, Send, log, send_error, status_for
from app.http.gzipframe import HEADER as GZIP_HEADER
from app.http.gzipframe import StreamMismatch, deflate_body, trailer
from app.http.lru import LoopLRU
from app.http.negotiation import acceptable_codings
from app.http.ranges import UNSATISFIABLE, byte_ranges, content_range, unsatisfied_range
from app.http.representation import (
    CODINGS,
    DEFLATE,
    GZIP,
    IDENTITY,
    BlobPlan,
    Representations,
)
from app.http.urlpath import PathError, parse_path

if TYPE_CHECKING:
    from app.git import Entry, Repository, Target

Scope = dict[str, Any]

_WANTED = frozenset(
    (b"accept-encoding", b"if-none-match", b"if-modified-since", b"if-match",
     b"if-unmodified-since", b"range", b"if-range", b"accept")
)
_ALLOW = ((b"allow", b"GET, HEAD"),)
# CORS-safelisted response headers exclude these; scripts of other origins may want them.
_EXPOSED = b"ETag, Content-Range, Content-Encoding, X-Git-Commit, Link"


class HeaderBlock(list[Header]):
    """The header fields of a 200, with the 304 variants derived from it kept alongside."""

    __slots__ = ("not_modified",)

    def __init__(self, fields: list[Header]) -> None:
        super().__init__(fields)
        self.not_modified: dict[str, list[Header]] = {}

    def for_304(self, etag: str) -> list[Header]:
        """The fields of a 304 standing for this 200 and naming ``etag``.

        A 304 carries the validators and caching fields of the 200 it stands for (RFC 9110
        §15.4.5), naming the variant the client holds (RFC 9111 §4.3.4), but no
        representation metadata about a body it does not send.
        """
        fields = self.not_modified.get(etag)
        if fields is None:
            fields = self.not_modified[etag] = [
                (name, etag.encode() if name == b"etag" else value)
                for name, value in self
                if name not in (b"content-length", b"content-type", b"content-encoding")
            ]
        return fields


class _Answer:
    """A complete answer to a request for a small file, kept for exact repeats."""

    __slots__ = ("url_path", "target", "plan", "status", "headers", "body")

    def __init__(self, url_path: str, target: Target, plan: BlobPlan, status: int,
                 headers: list[Header], body: bytes | memoryview) -> None:
        self.url_path = url_path
        self.target = target
        self.plan = plan
        self.status = status
        self.headers = headers
        self.body = body


AnswerKey = tuple[bytes, str, bytes | None, bytes | None]
# An answer sent as one start and one body message: status, header fields, body.
Whole = tuple[int, list[Header], bytes | memoryview]
# Request fields that change a file's answer beyond the key's (``accept`` does not: it
# only chooses a listing's format, and remembered answers are files).
_UNKEYED = frozenset(_WANTED - {b"accept-encoding", b"if-none-match", b"accept"})
# Memory for remembered answers: bodies are mostly shared with the plans (content, the
# gzip member, a slice of the pack), but they are charged again, plus the header block.
_ANSWERS_BUDGET = 16 * 1024 * 1024
_ANSWER_OVERHEAD = 1024


def _text(value: bytes | None) -> str | None:
    # Header values are octets; latin-1 maps each to one code point, so nothing raises.
    return None if value is None else value.decode("latin-1")


class BlobHandler:
    """The ASGI callable for every path that is not ``/`` or under ``/-/``."""

    def __init__(
        self,
        settings: Settings,
        repo: Repository,
        reps: Representations,
        *,
        codings: tuple[str, ...] = CODINGS,
    ) -> None:
        self.settings = settings
        self.repo = repo
        self.reps = reps
        self.codings = codings
        self._paths: LoopLRU[bytes, str] = LoopLRU(4096)
        self._starts: LoopLRU[tuple[object, ...], HeaderBlock] = LoopLRU(8192)
        self._answers: LoopLRU[AnswerKey, _Answer] = LoopLRU(_ANSWERS_BUDGET)
        extra: list[Header] = []
        if settings.cors_origin:
            extra.append((b"access-control-allow-origin", settings.cors_origin.encode()))
            extra.append((b"access-control-expose-headers", _EXPOSED))
        self._extra: tuple[Header, ...] = tuple(extra)
        security = mediatypes.security_headers(settings.raw_mode)
        # Fields identical on every file answer of this app, computed once.
        self._per_file: tuple[Header, ...] = (
            (b"vary", b"Accept-Encoding"),
            (b"accept-ranges", b"bytes"),
            *((name.encode(), value.encode()) for name, value in security),
        )
        self._media_type = (
            mediatypes.raw_content_type if settings.raw_mode else mediatypes.content_type
        )

    # ------------------------------------------------------------------ entry point
    async def __call__(self, scope: Scope, receive: Any, send: Send) -> None:
        """Answer one request for ``/<ref>/<path>``: GET or HEAD, anything else is 405."""
        method = scope["method"]
        head = method == "HEAD"
        if method != "GET" and not head:
            await send_error(send, 405, "only GET and HEAD", (*_ALLOW, *self._extra))
            return
        started = False

        async def tracking_send(message: dict[str, object]) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await self._serve(scope, tracking_send, head)
        except GitError as exc:
            if started:
                raise
            status = status_for(exc)
            # A 5xx message may name files on the server: log it, don't publish it.
            detail = str(exc) if status < 500 else "the repository data could not be read"
            await send_error(send, status, detail, self._extra, head=head)
        except PathError as exc:
            await send_error(send, exc.status, str(exc), self._extra, head=head)
        except Exception:
            # Once the status line is out, the only honest signal left is to abort the
            # connection (uvicorn does, seeing the exception): a short body with a full
            # Content-Length would be taken for the file.
            if started:
                raise
            log.exception("unexpected error serving %r", scope.get("path"))
            await send_error(send, 500, "internal error", self._extra, head=head)

    def _url_path(self, raw: bytes) -> str:
        decoded = self._paths.get(raw)
        if decoded is None:
            decoded = parse_path(raw, self.settings.max_path_length).path
            self._paths.put(raw, decoded)
        return decoded

    async def _serve(self, scope: Scope, send: Send, head: bool) -> None:
        raw = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
        headers = self._request_headers(scope)
        key: AnswerKey | None = None
        if _UNKEYED.isdisjoint(headers):
            key = (raw, scope["method"], headers.get(b"accept-encoding"),
                   headers.get(b"if-none-match"))
            answer = self._answers.get(key)
            if answer is not None and self._still_valid(answer):
                await send({"type": "http.response.start", "status": answer.status,
                            "headers": answer.headers})
                await send({"type": "http.response.body", "body": answer.body})
                return
        url_path = self._url_path(raw)
        repo = self.repo
        try:
            target = repo.resolve(url_path)
        except NotFound as exc:
            await self._not_found(send, exc, None, head)
            return
        try:
            entry = repo.lookup(target.commit, target.path)
            if entry.kind == "tree":
                await self._directory(scope, send, head, target, entry)
            elif target.trailing_slash:
                raise PathNotFound(f"{target.path!r} is a file, not a directory")
            else:
                memo = None if key is None else (key, url_path)
                await self._file(scope, send, head, target, entry, target.path, 200, memo)
        except PathNotFound as exc:
            # A missing file, or a directory with neither index.html nor a listing.
            if not await self._fallback(scope, send, head, target):
                await self._not_found(send, exc, target, head)
        except NotFound as exc:
            await self._not_found(send, exc, target, head)

    def _still_valid(self, answer: _Answer) -> bool:
        """Whether a remembered answer is still the one to give (see the module rules)."""
        try:
            target = self.repo.resolve(answer.url_path)
        except GitError:
            return False  # the slow path gives this request its error
        if target is not answer.target and target != answer.target:
            return False
        return self.reps.cached(answer.plan.oid) is answer.plan

    async def _not_found(
        self, send: Send, exc: NotFound, target: Target | None, head: bool
    ) -> None:
        kind = target.kind if target is not None else None
        extra = self._extra if target is None else (*self._commit_headers(target, target.path),
                                                    *self._extra)
        await send_error(send, 404, str(exc), extra, head=head,
                         cache_control=cachecontrol.for_not_found(kind, self.settings))

    # ------------------------------------------------------------------ directories
    async def _directory(
        self, scope: Scope, send: Send, head: bool, target: Target, entry: Entry
    ) -> None:
        if not target.trailing_slash:
            # /<ref> -> /<ref>/ and /<ref>/<dir> -> /<ref>/<dir>/, keeping the query.
            raw = scope.get("raw_path") or scope["path"].encode()
            location = raw + b"/"
            if scope.get("query_string"):
                location += b"?" + scope["query_string"]
            await self._redirect(send, location, target, head)
            return
        index_path = posixpath.join(target.path, "index.html")
        try:
            index = self.repo.lookup(target.commit, index_path)
        except PathNotFound:
            index = None
        if index is not None and index.kind == "blob":
            await self._file(scope, send, head, target, index, index_path, 200)
            return
        if not self.settings.listings:
            raise PathNotFound(f"no index.html in {target.path or '/'!r}")
        headers = self._request_headers(scope)
        query = scope.get("query_string", b"")
        want_json = listing.wants_json(_text(headers.get(b"accept")), query)
        entries = await anyio.to_thread.run_sync(
            listing.describe, self.repo, entry.oid, limiter=self.reps.limiter
        )
        if want_json:
            data, media = listing.render_json(target, entries), b"application/json"
        else:
            data, media = listing.render_html(target, entries), b"text/html; charset=utf-8"
        # The JSON names the commit, so the tag does too: a push that leaves this tree alone
        # still changes the listing's bytes (a strong ETag must change with them, RFC 9110
        # §8.8.3).
        form = "json" if want_json else "html"
        etag = f'"{entry.oid.hex()}.{target.commit.hex()[:16]}.{form}"'.encode()
        common = [
            (b"etag", etag),
            (b"cache-control", cachecontrol.for_listing(target.kind, self.settings).encode()),
            (b"vary", b"Accept-Encoding, Accept"),
            (b"x-content-type-options", b"nosniff"),
            *self._commit_headers(target, target.path + "/" if target.path else ""),
            *self._extra,
        ]
        if evaluate("GET", _text(headers.get(b"if-none-match")), None, (etag.decode(),), None):
            await send({"type": "http.response.start", "status": 304, "headers": common})
            await send(bodies.END)
            return
        start = [(b"content-type", media), (b"content-length", str(len(data)).encode()), *common]
        await send({"type": "http.response.start", "status": 200, "headers": start})
        await send({"type": "http.response.body", "body": b"" if head else data})

    async def _fallback(self, scope: Scope, send: Send, head: bool, target: Target) -> bool:
        """Single-page-app fallback (``/index.html``, 200) or the tree's ``404.html`` (404)."""
        for enabled, name, status in (
            (self.settings.spa_fallback, "index.html", 200),
            (self.settings.not_found_page, "404.html", 404),
        ):
            if not enabled:
                continue
            try:
                page = self.repo.lookup(target.commit, name)
            except GitError:
                continue
            if page.kind == "blob":
                await self._file(scope, send, head, target, page, name, status)
                return True
        return False

    async def _redirect(self, send: Send, location: bytes, target: Target, head: bool) -> None:
        body = b"Moved to " + location + b"\n"
        headers = [
            (b"location", location),
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", cachecontrol.for_ref(target.kind, self.settings).encode()),
            *COMMON,
            *self._commit_headers(target, target.path + "/"),
            *self._extra,
        ]
        await send({"type": "http.response.start", "status": 301, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if head else body})

    # ------------------------------------------------------------------ files
    @staticmethod
    def _request_headers(scope: Scope) -> dict[bytes, bytes]:
        found: dict[bytes, bytes] = {}
        for name, value in scope["headers"]:
            if name in _WANTED:
                # Repeated fields combine into one comma-separated list (RFC 9110 §5.3).
                found[name] = found[name] + b", " + value if name in found else value
        return found

    def _commit_headers(self, target: Target, path: str) -> list[Header]:
        canonical = "/" + target.commit.hex() + "/" + quote(path, safe="/!$&'()*+,;=:@-._~")
        return [
            (b"x-git-commit", target.commit.hex().encode()),
            (b"link", f'<{canonical}>; rel="canonical"'.encode()),
        ]

    def _start_headers(
        self, target: Target, path: str, plan: BlobPlan, coding: str, status: int
    ) -> HeaderBlock:
        """The header block for this (commit, path, ref kind, blob, coding, status)."""
        key = (plan.etags[coding], target.commit, target.kind, path, status)
        block = self._starts.get(key)
        if block is not None:
            return block
        if status == 404:  # a tree's own 404.html: a short-lived negative answer
            cache = cachecontrol.for_not_found(target.kind, self.settings)
        else:
            cache = cachecontrol.for_ref(target.kind, self.settings)
        fields = [
            (b"content-type", self._media_type(path).encode()),
            (b"content-length", str(plan.length(coding)).encode()),
            (b"etag", plan.etags[coding]),
            (b"last-modified", http_date(self.repo.commit_time(target.commit)).encode()),
            (b"cache-control", cache.encode()),
            *self._per_file,
            *self._commit_headers(target, path),
            *self._extra,
        ]
        if coding != IDENTITY:
            fields.insert(1, (b"content-encoding", coding.encode()))
        block = HeaderBlock(fields)
        self._starts.put(key, block)
        return block

    def _body(self, plan: BlobPlan, coding: str) -> bodies.Body:
        if coding == DEFLATE:
            return bodies.Body([bodies.Static(plan.stream)])
        if coding == GZIP:
            crc = plan.crc
            tail: bodies.Segment
            if crc is not None:
                tail = bodies.Static(trailer(crc, plan.size))
            else:
                reps = self.reps

                async def make_trailer() -> bytes:
                    return trailer(await reps.ensure_crc(plan), plan.size)

                tail = bodies.Deferred(8, make_trailer)
            return bodies.Body(
                [bodies.Static(GZIP_HEADER), bodies.Static(deflate_body(plan.stream)), tail]
            )
        if plan.content is not None:
            return bodies.Body([bodies.Static(plan.content)])
        if plan.raw is not None:
            return bodies.Body([bodies.Static(plan.raw)])
        reps = self.reps

        def completed(crc: int) -> None:
            reps.record_crc(plan, crc)

        def copy() -> memoryview | None:
            return plan.raw

        on_complete = completed if plan.crc is None else None
        return bodies.Body(
            [bodies.Inflating(plan.stream, plan.size, reps.limiter, on_complete, copy)]
        )

    async def _file(
        self,
        scope: Scope,
        send: Send,
        head: bool,
        target: Target,
        entry: Entry,
        path: str,
        status: int,
        memo: tuple[AnswerKey, str] | None = None,
    ) -> None:
        """Answer with the blob ``entry`` (at ``path`` of ``target``); ``memo`` (the answer
        key and the URL path) lets a complete small answer be remembered for repeats."""
        plan = self.reps.cached(entry.oid) or await self.reps.plan(entry.oid)
        try:
            answer = await self._answer(scope, send, head, target, path, status, plan)
        except StreamMismatch:
            # The stored stream is not the blob: this answer is lost (the connection aborts),
            # the next one re-plans from the engine, which reports the corruption.
            self.reps.discard(plan)
            raise
        if answer is not None and memo is not None and plan.content is not None:
            key, url_path = memo
            status, headers, body = answer
            self._answers.put(key, _Answer(url_path, target, plan, status, headers, body),
                              len(body) + _ANSWER_OVERHEAD)

    async def _answer(
        self,
        scope: Scope,
        send: Send,
        head: bool,
        target: Target,
        path: str,
        status: int,
        plan: BlobPlan,
    ) -> Whole | None:
        """Answer; return the answer when it was whole (one start and one body message,
        what a repeat may be given), else None."""
        headers = self._request_headers(scope)
        codings = acceptable_codings(_text(headers.get(b"accept-encoding")), self.codings)
        if not codings:
            await send_error(send, 406, "no acceptable content-coding (try identity)",
                             (*self._commit_headers(target, path), *self._extra), head=head)
            return None
        coding = codings[0]
        block = self._start_headers(target, path, plan, coding, status)
        if status == 200 and headers:
            sent = await self._conditional(send, headers, head, target, plan, codings, block)
            if sent is not False:
                return None if sent is True else sent
            if not head and b"range" in headers:
                if await self._range(send, headers, plan, coding, block):
                    return None
        whole = b"" if head else self._whole(plan, coding)
        await send({"type": "http.response.start", "status": status, "headers": block})
        if whole is not None:
            await send({"type": "http.response.body", "body": whole})
            return status, block, whole
        if coding == GZIP:
            if plan.crc is None:
                self.reps.prepare_crc(plan)
        elif coding == IDENTITY:
            self.reps.note_identity(plan)
            await self.reps.identity_copy(plan)
        body = self._body(plan, coding)
        await body.emit(send, 0, body.length)
        return None

    def _whole(self, plan: BlobPlan, coding: str) -> bytes | memoryview | None:
        """The body in ``coding`` as one buffer, when it is sent in one message."""
        if coding == IDENTITY:
            # Small blob: the whole answer from memory.
            return plan.content
        if coding == DEFLATE:
            # The pack's (or our cache file's) zlib stream, zero-copy.
            return plan.stream if len(plan.stream) <= bodies.WHOLE else None
        if plan.crc is not None and plan.length(GZIP) <= bodies.WHOLE:
            return self.reps.gzip_member(plan)
        return None

    async def _conditional(
        self,
        send: Send,
        headers: dict[bytes, bytes],
        head: bool,
        target: Target,
        plan: BlobPlan,
        codings: tuple[str, ...],
        block: HeaderBlock,
    ) -> Whole | bool:
        """Preconditions (RFC 9110 §13.2.2 steps 1–4): the 304 sent as a ``Whole``, True
        when a 412 was sent, False when the request goes on."""
        if_match = headers.get(b"if-match")
        if_unmodified = headers.get(b"if-unmodified-since")
        inm = headers.get(b"if-none-match")
        ims = headers.get(b"if-modified-since")
        if if_match is None and if_unmodified is None and inm is None and ims is None:
            return False  # most requests: no precondition, no need for the commit's time
        last_modified = self.repo.commit_time(target.commit)
        if (if_match is not None or if_unmodified is not None) and precondition_failed(
            _text(if_match), _text(if_unmodified), plan.etag_texts[codings[0]], last_modified
        ):
            # The 412 names the commit like every answer about a file (X-Git-Commit, Link).
            names = [(n, v) for n, v in block if n in (b"x-git-commit", b"link")]
            await send_error(send, 412, "precondition failed", (*names, *self._extra), head=head)
            return True
        if inm is None and ims is None:
            return False
        etags = tuple(plan.etag_texts[c] for c in codings)
        matched = evaluate("GET", _text(inm), _text(ims), etags, last_modified)
        if matched is None:
            return False
        fields = block.for_304(matched)
        await send({"type": "http.response.start", "status": 304, "headers": fields})
        await send(bodies.END)
        return 304, fields, b""

    async def _range(
        self,
        send: Send,
        headers: dict[bytes, bytes],
        plan: BlobPlan,
        coding: str,
        block: HeaderBlock,
    ) -> bool:
        """Range on GET (RFC 9110 §14.2); True when a 206 or 416 was sent."""
        if not if_range_allows(_text(headers.get(b"if-range")), plan.etag_texts[coding]):
            return False
        length = plan.length(coding)
        ranges = byte_ranges(_text(headers[b"range"]), length, self.settings.max_ranges)
        if ranges is None:
            return False
        base = [(n, v) for n, v in block if n != b"content-length"]
        if ranges is UNSATISFIABLE:
            body = b"416 Range Not Satisfiable\n"
            fields = [
                (b"content-range", unsatisfied_range(length).encode()),
                (b"content-length", str(len(body)).encode()),
                *((n, v) for n, v in base if n not in (b"content-type", b"content-encoding")),
                (b"content-type", b"text/plain; charset=utf-8"),
            ]
            await send({"type": "http.response.start", "status": 416, "headers": fields})
            await send({"type": "http.response.body", "body": body})
            return True
        if len(ranges) > 1 and coding != IDENTITY:
            # A 206 must carry the representation's Content-Encoding (RFC 9110 §15.3.7), but
            # on a multipart/byteranges message every decoder (curl, httpx, httplint) takes it
            # to code the whole multipart body. Several ranges of a coded variant are asked
            # for by no browser or CDN (both range on identity), so we use the server's
            # option to ignore Range (§14.2) and send the whole coded 200.
            return False
        if coding == IDENTITY and plan.content is None:
            self.reps.note_identity(plan)
            await self.reps.identity_copy(plan)
        if coding == GZIP and plan.crc is None and ranges[-1][1] == length:
            self.reps.prepare_crc(plan)
        representation = self._body(plan, coding)
        if len(ranges) == 1:
            start, stop = ranges[0]
            fields = [
                (b"content-range", content_range(start, stop, length).encode()),
                (b"content-length", str(stop - start).encode()),
                *base,
            ]
            await send({"type": "http.response.start", "status": 206, "headers": fields})
            await representation.emit(send, start, stop)
            return True
        media = next(v for n, v in block if n == b"content-type").decode("latin-1")
        parts = multipart.plan_byteranges(ranges, length, media)
        fields = [  # identity only (above): no Content-Encoding to place
            (b"content-type", parts.content_type.encode()),
            (b"content-length", str(parts.content_length).encode()),
            *((n, v) for n, v in base if n != b"content-type"),
        ]
        await send({"type": "http.response.start", "status": 206, "headers": fields})
        for header, start, stop in parts.parts:
            await send({"type": "http.response.body", "body": header, "more_body": True})
            await representation.emit(send, start, stop, last=False)
        await send({"type": "http.response.body", "body": parts.closing})
        return True

