"""Pack files: ``.pack`` entries, ``.idx`` lookups, ``.rev`` pack order, delta chains.

Modules by artifact and verb (gix-pack's split): ``index`` (.idx), ``revindex`` (.rev and
built pack order), ``entry`` (entry headers), ``inflate`` (bounded zlib), ``file``
(``PackFile``), ``chain`` (delta resolution), ``stream`` (``StoredStream``).
"""

from __future__ import annotations

from app.git.pack.file import PackFile
from app.git.pack.index import PackIndex
from app.git.pack.stream import StoredStream

__all__ = ["PackFile", "PackIndex", "StoredStream"]
