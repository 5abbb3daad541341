"""The one object id type: raw hash bytes (20 for SHA-1, 32 for SHA-256).

Hex appears only at the edges (URLs, ref files, headers). ``ObjectId`` is a
``bytes`` subclass so that it hashes, compares and slices at C speed and can key
dicts directly; ``.hex()`` is inherited from ``bytes``.
"""

from __future__ import annotations

import re

from app.git.errors import InvalidName

SHA1_LEN = 20
SHA256_LEN = 32

_HEX = re.compile(rb"[0-9a-f]+\Z")


class ObjectId(bytes):
    """Raw object id bytes."""

    __slots__ = ()

    @classmethod
    def from_hex(cls, text: str | bytes) -> ObjectId:
        """Parse a full lowercase hex id (40 or 64 digits); raise ``InvalidName`` otherwise."""
        raw = text.encode("ascii", "replace") if isinstance(text, str) else text
        if len(raw) not in (2 * SHA1_LEN, 2 * SHA256_LEN) or not _HEX.match(raw):
            raise InvalidName(f"not a full object id: {text!r}")
        return cls(bytes.fromhex(raw.decode("ascii")))

    def __repr__(self) -> str:
        return f"ObjectId({self.hex()!r})"

    def __str__(self) -> str:
        return self.hex()
