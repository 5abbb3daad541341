"""A minimal git-config reader, and the repository-format check built on it.

Rules:

1. Only what the engine needs is read: ``core.repositoryformatversion`` and ``extensions.*``
   from ``$GIT_COMMON_DIR/config`` (git:Documentation/config.txt, "Syntax"). ``include`` and
   ``includeIf`` are not followed: repository-format keys must live in the repository's own file.
2. The syntax follows git:config.c ``parse_value``: section and key names are case-insensitive,
   subsection names are case-sensitive, ``#``/``;`` start a comment outside quotes, ``\\``
   escapes ``\\ " n t b`` and a trailing ``\\`` continues the line. A key without ``=`` is
   boolean true. The last value of a key wins. Malformed lines raise ``UnsupportedRepository``.
3. The format check follows git:setup.c ``verify_repository_format``
   (git:Documentation/technical/repository-version.txt): version 0 ignores extensions except the
   v1-only ones, which git refuses; version 1 refuses any extension it does not know; versions
   above 1 are refused. ``extensions.refStorage=reftable`` is refused with a clear message: the
   engine reads the files ref backend only.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from app.git.errors import UnsupportedRepository
from app.git.oid import SHA1_LEN, SHA256_LEN

_MAX_CONFIG = 1 << 20

_SECTION = re.compile(r'\[\s*([A-Za-z0-9.-]+)\s*(?:"((?:[^"\\]|\\.)*)"\s*)?\]')
_KEY = re.compile(r"([A-Za-z][A-Za-z0-9-]*)\s*")

# Extensions git 2.39 understands that change nothing for a reader
# (git:Documentation/config/extensions.txt, git:setup.c ``handle_extension``).
_HARMLESS_EXTENSIONS = frozenset({"noop", "noop-v1", "preciousobjects", "partialclone",
                                  "worktreeconfig"})
# git:setup.c ``handle_extension_v0`` vs ``handle_extension``: these need version 1.
_V1_ONLY = frozenset({"noop-v1", "objectformat", "worktreeconfig", "refstorage"})

Key = tuple[str, str | None, str]


def _unquote(text: str, where: str) -> str:
    """Decode one value: quotes, escapes, comments, surrounding blanks (git:config.c)."""
    out: list[str] = []
    pending_space = ""
    quoted = False
    i = 0
    while i < len(text):
        ch = text[i]
        i += 1
        if not quoted and ch in " \t":
            if out:
                pending_space += ch
            continue
        if not quoted and ch in "#;":
            break
        if pending_space:
            out.append(pending_space)
            pending_space = ""
        if ch == '"':
            quoted = not quoted
        elif ch == "\\":
            if i >= len(text):
                raise UnsupportedRepository(f"{where}: dangling backslash")
            esc = text[i]
            i += 1
            mapped = {"\\": "\\", '"': '"', "n": "\n", "t": "\t", "b": "\b"}.get(esc)
            if mapped is None:
                raise UnsupportedRepository(f"{where}: bad escape \\{esc}")
            out.append(mapped)
        else:
            out.append(ch)
    if quoted:
        raise UnsupportedRepository(f"{where}: unterminated quote")
    return "".join(out)


def _logical_lines(text: str) -> list[tuple[int, str]]:
    lines: list[tuple[int, str]] = []
    buf = ""
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        if not buf:
            start = number
        if raw.endswith("\\") and not raw.endswith("\\\\"):
            buf += raw[:-1]
            continue
        lines.append((start, buf + raw))
        buf = ""
    if buf:
        lines.append((start, buf))
    return lines


def parse_config(data: bytes, *, name: str = "config") -> dict[Key, str]:
    """Parse config bytes into ``{(section, subsection, key): value}`` (names lowercased)."""
    text = data.decode("utf-8", "surrogateescape")
    values: dict[Key, str] = {}
    section: str | None = None
    subsection: str | None = None
    for number, line in _logical_lines(text):
        where = f"{name}:{number}"
        body = line.strip()
        if not body or body[0] in "#;":
            continue
        if body[0] == "[":
            m = _SECTION.match(body)
            if m is None:
                raise UnsupportedRepository(f"{where}: bad section header")
            head = m.group(1)
            if m.group(2) is not None:
                section, subsection = head.lower(), re.sub(r"\\(.)", r"\1", m.group(2))
            elif "." in head:
                # Deprecated ``[section.sub]`` form: the subsection is lowercased too.
                section, _, sub = head.partition(".")
                section, subsection = section.lower(), sub.lower()
            else:
                section, subsection = head.lower(), None
            body = body[m.end() :].strip()
            if not body or body[0] in "#;":
                continue
        if section is None:
            raise UnsupportedRepository(f"{where}: key outside any section")
        k = _KEY.match(body)
        if k is None:
            raise UnsupportedRepository(f"{where}: bad key")
        rest = body[k.end() :]
        if not rest or rest[0] in "#;":
            value = "true"
        elif rest[0] == "=":
            value = _unquote(rest[1:], where)
        else:
            raise UnsupportedRepository(f"{where}: expected '=' after key")
        values[(section, subsection, k.group(1).lower())] = value
    return values


@dataclass(frozen=True, slots=True)
class RepositoryFormat:
    """What the repository's config says about how to read it."""

    version: int
    object_format: str  # "sha1" | "sha256"

    @property
    def hash_len(self) -> int:
        """Bytes per object id: 20 for SHA-1, 32 for SHA-256."""
        return SHA256_LEN if self.object_format == "sha256" else SHA1_LEN


def repository_format(values: dict[Key, str], *, name: str = "config") -> RepositoryFormat:
    """Check the format version and extensions; refuse what the engine cannot read."""
    raw_version = values.get(("core", None, "repositoryformatversion"), "0").strip()
    if not raw_version.isdigit():
        raise UnsupportedRepository(f"{name}: bad core.repositoryformatversion {raw_version!r}")
    version = int(raw_version)
    if version > 1:
        raise UnsupportedRepository(f"{name}: repository format version {version} is not supported")
    extensions = {key: value for (sec, sub, key), value in values.items()
                  if sec == "extensions" and sub is None}
    if extensions.get("refstorage", "files").lower() == "reftable":
        raise UnsupportedRepository(
            f"{name}: this repository stores refs in the reftable format "
            "(extensions.refStorage=reftable); packserve reads only the files backend; "
            "convert it with `git refs migrate --ref-format=files` (git 2.46+)")
    if version == 0:
        v1_only = sorted(set(extensions) & _V1_ONLY)
        if v1_only:
            raise UnsupportedRepository(
                f"{name}: repository format version 0 with v1-only extensions {v1_only}")
        return RepositoryFormat(version=0, object_format="sha1")
    object_format = extensions.get("objectformat", "sha1").lower()
    if object_format not in ("sha1", "sha256"):
        raise UnsupportedRepository(f"{name}: unknown extensions.objectFormat {object_format!r}")
    ref_storage = extensions.get("refstorage", "files").lower()
    if ref_storage != "files":
        raise UnsupportedRepository(f"{name}: unknown extensions.refStorage {ref_storage!r}")
    unknown = sorted(set(extensions) - _HARMLESS_EXTENSIONS - {"objectformat", "refstorage"})
    if unknown:
        raise UnsupportedRepository(f"{name}: unknown repository extensions {unknown}")
    return RepositoryFormat(version=1, object_format=object_format)


def read_repository_format(common_dir: Path) -> RepositoryFormat:
    """Read ``<common_dir>/config`` and check the repository format (a missing file is v0)."""
    path = common_dir / "config"
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            data = f.read(min(size, _MAX_CONFIG) + 1)
    except FileNotFoundError:
        return RepositoryFormat(version=0, object_format="sha1")
    except OSError as exc:
        raise UnsupportedRepository(f"{path}: {exc.strerror}") from exc
    if len(data) > _MAX_CONFIG:
        raise UnsupportedRepository(f"{path}: config larger than {_MAX_CONFIG} bytes")
    return repository_format(parse_config(data, name=str(path)), name=str(path))
