"""Directory listings and the refs index, as HTML for people and JSON for programs.

Rules:
- Every name from the repository is escaped for its context: ``html.escape`` in text and
  attributes, percent-encoding in links. A file called ``<script>.html`` stays text.
- Links are relative (``name``, ``name/``, ``../``) so a listing works under any prefix, a
  preview host, or a CDN path, and depends only on the tree it lists.
- ``describe`` touches the engine (one tree read, one object header per file) and runs in a
  worker thread; the renderers are pure.
- JSON is chosen by ``?format=json`` or by an ``Accept`` that ranks ``application/json``
  above ``text/html`` (RFC 9110 §12.5.1); anything else gets HTML.
"""

from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote

if TYPE_CHECKING:
    from app.git import ObjectId, Repository, Target

_LINK_SAFE = "!$&'()*+,;=:@-._~"


def describe(repo: Repository, tree: ObjectId) -> list[dict[str, Any]]:
    """The entries of a tree as plain dicts (name, type, mode, id, size for files)."""
    entries = []
    for item in repo.list_dir(tree):
        info: dict[str, Any] = {
            "name": item.name,
            "type": item.kind,
            "mode": f"{item.mode:06o}",
            "id": item.oid.hex(),
        }
        if item.kind == "blob":
            info["size"] = repo.object_size(item.oid)
        entries.append(info)
    return entries


def _quality(member: str) -> tuple[str, float]:
    media, _, params = member.partition(";")
    weight = 1.0
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.lower() == "q":
            try:
                weight = float(value)
            except ValueError:
                weight = 0.0
    return media.strip().lower(), weight


def wants_json(accept: str | None, query: bytes) -> bool:
    """Whether the listing should be JSON (``?format=json`` or an Accept preferring it)."""
    if query:
        fmt = parse_qs(query.decode("latin-1")).get("format")
        if fmt:
            return fmt[-1] == "json"
    if not accept:
        return False
    weights = dict(_quality(member) for member in accept.split(","))
    json_q = weights.get("application/json", 0.0)
    html_q = max(weights.get("text/html", 0.0), weights.get("*/*", 0.0) if json_q == 0 else 0)
    return json_q > 0 and json_q > html_q


def render_json(target: Target, entries: list[dict[str, Any]]) -> bytes:
    """The listing as a JSON document."""
    doc = {
        "ref": target.ref,
        "commit": target.commit.hex(),
        "path": target.path,
        "entries": entries,
    }
    return json.dumps(doc, indent=1).encode() + b"\n"


def _page(title: str, rows: list[str]) -> bytes:
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title></head>\n<body><h1>{html.escape(title)}</h1>\n"
        "<table>\n" + "\n".join(rows) + "\n</table>\n</body></html>\n"
    ).encode()


def render_html(target: Target, entries: list[dict[str, Any]]) -> bytes:
    """The listing as a small HTML page with relative links."""
    rows = []
    if target.path:
        rows.append('<tr><td><a href="../">../</a></td><td></td></tr>')
    for entry in entries:
        name = entry["name"]
        suffix = "/" if entry["type"] == "tree" else ""
        href = quote(name, safe=_LINK_SAFE) + suffix
        label = html.escape(name + suffix)
        if entry["type"] == "gitlink":
            cell = f"{label} (submodule)"
        else:
            cell = f'<a href="{html.escape(href)}">{label}</a>'
        size = entry.get("size", "")
        rows.append(f"<tr><td>{cell}</td><td>{size}</td></tr>")
    return _page(f"/{target.ref}/{target.path}", rows)


def render_refs_json(refs: dict[str, ObjectId], head: str | None) -> bytes:
    """The exposed refs as JSON: full name → commit id, plus where HEAD points."""
    doc = {"head": head, "refs": {name: oid.hex() for name, oid in sorted(refs.items())}}
    return json.dumps(doc, indent=1).encode() + b"\n"


def render_refs_html(refs: dict[str, ObjectId], head: str | None) -> bytes:
    """The exposed refs as an HTML page linking each ref's root and its commit."""
    rows = []
    for name, oid in sorted(refs.items()):
        short = name.removeprefix("refs/heads/").removeprefix("refs/tags/")
        href = html.escape(quote(short, safe="/" + _LINK_SAFE) + "/")
        mark = " (HEAD)" if name == head else ""
        rows.append(
            f'<tr><td><a href="{href}">{html.escape(name)}</a>{mark}</td>'
            f'<td><a href="{oid.hex()}/">{oid.hex()}</a></td></tr>'
        )
    return _page("refs", rows)
