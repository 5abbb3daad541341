"""``packed-refs``: a pure parser over the file's bytes, and a thin opener.

Rules (git:refs/packed-backend.c, git:Documentation/gitrepository-layout.txt):

1. An optional first line ``# pack-refs with: <traits>`` declares traits; any other line that
   starts with ``#`` is corrupt (git dies "unexpected line").
2. Records are ``<hex> SP <refname> LF``, optionally followed by ``^<hex> LF``: the fully peeled
   object of the tag ref above. A ``^`` line is always trusted; a *missing* one means "not
   peelable" only when the header says so: ``fully-peeled`` for every ref, ``peeled`` for refs
   under ``refs/tags/`` only. Otherwise the peel is unknown and must be computed.
3. ``sorted`` is not relied on: records go into a dict, so unsorted and headerless files read the
   same way (git sorts them itself when the trait is absent).
4. Every line ends with LF (git: "unterminated line"); ids have exactly the repository's hash
   length in hex (either case, as git:hex.c accepts); names pass check-ref-format. Anything
   else raises ``CorruptRefs``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from app.git.errors import CorruptRefs
from app.git.oid import ObjectId
from app.git.refs.names import check_ref_format

_HEADER = b"# pack-refs with:"
_HEX = re.compile(rb"[0-9a-fA-F]+\Z")
# A packed-refs file of a million refs is ~80 MB; refuse anything far beyond that.
MAX_PACKED_REFS = 512 << 20


@dataclass(frozen=True, slots=True)
class PackedRef:
    """One packed ref: its value and what the file says about its peeled object."""

    oid: ObjectId
    peeled: ObjectId | None  # the ``^`` line, when present
    peel_known: bool  # True when ``peeled is None`` reliably means "not a tag object"


@dataclass(frozen=True, slots=True)
class PackedRefs:
    """The parsed file: traits from the header, refs by full name."""

    traits: frozenset[str]
    refs: dict[str, PackedRef]

    @classmethod
    def from_bytes(cls, buf: bytes, hash_len: int, *, name: str = "packed-refs") -> PackedRefs:
        """Parse the whole file; raise ``CorruptRefs`` on any malformed line."""
        hex_len = 2 * hash_len
        traits: frozenset[str] = frozenset()
        refs: dict[str, PackedRef] = {}
        lines = buf.split(b"\n")
        if lines[-1]:
            raise CorruptRefs(f"{name}: unterminated last line")
        lines.pop()
        start = 0
        if lines and lines[0].startswith(b"#"):
            if not lines[0].startswith(_HEADER):
                raise CorruptRefs(f"{name}: unexpected header line")
            traits = frozenset(lines[0][len(_HEADER) :].decode("ascii", "replace").split())
            start = 1
        fully_peeled = "fully-peeled" in traits
        tags_peeled = "peeled" in traits
        last: str | None = None
        for number, line in enumerate(lines[start:], start + 1):
            if line.startswith(b"^"):
                peeled = _parse_hex(line[1:], hex_len, name, number)
                if last is None:
                    raise CorruptRefs(f"{name}:{number}: peeled line without a ref")
                refs[last] = PackedRef(refs[last].oid, peeled, True)
                last = None
                continue
            if len(line) < hex_len + 2 or line[hex_len : hex_len + 1] != b" ":
                raise CorruptRefs(f"{name}:{number}: malformed record")
            oid = _parse_hex(line[:hex_len], hex_len, name, number)
            try:
                refname = line[hex_len + 1 :].decode("utf-8")
            except UnicodeDecodeError:
                raise CorruptRefs(f"{name}:{number}: ref name is not UTF-8") from None
            if not check_ref_format(refname, allow_onelevel=True):
                raise CorruptRefs(f"{name}:{number}: invalid ref name {refname!r}")
            known = fully_peeled or (tags_peeled and refname.startswith("refs/tags/"))
            refs[refname] = PackedRef(oid, None, known)
            last = refname
        return cls(traits=traits, refs=refs)

    @classmethod
    def open(cls, path: Path, hash_len: int) -> PackedRefs:
        """Read and parse ``path``; a missing file is an empty set of refs."""
        try:
            with open(path, "rb") as f:
                # read(n) allocates n bytes up front: size the read by the file, not the cap.
                size = os.fstat(f.fileno()).st_size
                if size > MAX_PACKED_REFS:
                    raise CorruptRefs(f"{path}: larger than {MAX_PACKED_REFS} bytes")
                buf = f.read(size + 1)
        except FileNotFoundError:
            return cls(traits=frozenset(), refs={})
        except OSError as exc:
            raise CorruptRefs(f"{path}: {exc.strerror}") from exc
        if len(buf) > MAX_PACKED_REFS:
            raise CorruptRefs(f"{path}: larger than {MAX_PACKED_REFS} bytes")
        return cls.from_bytes(buf, hash_len, name=str(path))


def _parse_hex(raw: bytes, hex_len: int, name: str, number: int) -> ObjectId:
    if len(raw) != hex_len or not _HEX.match(raw):
        raise CorruptRefs(f"{name}:{number}: bad object id")
    return ObjectId(bytes.fromhex(raw.decode("ascii")))
