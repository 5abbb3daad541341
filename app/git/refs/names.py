"""Ref name grammar: git check-ref-format as a pure function.

Rules (git:Documentation/git-check-ref-format.txt, git:refs.c ``check_refname_component``),
a name is valid unless:

1. a slash-separated component begins with ``.`` or ends with ``.lock``;
2. it contains ``..``, ``@{``, a control character (< 0x20 or 0x7f), space, ``~ ^ : ? * [``
   or ``\\``;
3. it begins or ends with ``/``, contains ``//`` or ends with ``.``;
4. it is the single character ``@`` or empty;
5. it has a single component, unless ``allow_onelevel`` (``--allow-onelevel``) is set.

Non-ASCII characters are allowed, as in git.
"""

from __future__ import annotations

import re

from app.git.errors import InvalidName

_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{")


def check_ref_format(name: str, *, allow_onelevel: bool = False) -> bool:
    """Return whether ``name`` is a valid ref name per git-check-ref-format."""
    if not name or name == "@" or name.endswith(".") or _FORBIDDEN.search(name):
        return False
    components = name.split("/")
    if len(components) < 2 and not allow_onelevel:
        return False
    for component in components:
        if not component or component.startswith(".") or component.endswith(".lock"):
            return False
    return True


def require_ref_name(name: str, *, allow_onelevel: bool = False) -> str:
    """Return ``name`` if valid, else raise ``InvalidName``."""
    if not check_ref_format(name, allow_onelevel=allow_onelevel):
        raise InvalidName(f"invalid ref name: {name!r}")
    return name
