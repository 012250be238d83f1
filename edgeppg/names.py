"""Model names are untrusted text (CLI, config, an export folder's manifest) that ends up in generated C.

One rule where a name enters, `[A-Za-z0-9_-]{1,64}`, and one escaper wherever C is emitted, so a name can
never close a comment or a string literal even if a caller forgets the first check.
"""

from __future__ import annotations

import re

from edgeppg.errors import EdgePPGError

MODEL_NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")


def check_model_name(name, where: str = "model name") -> str:
    """`name` when it matches MODEL_NAME_RE, else a one-line error saying what is allowed."""
    if not isinstance(name, str) or not MODEL_NAME_RE.fullmatch(name):
        shown = repr(name)[:80]
        raise EdgePPGError(f"{where} {shown} is not allowed: use 1-64 characters from A-Z a-z 0-9 _ - "
                           "(it becomes C identifiers and comments in generated firmware code)")
    return name


def c_safe(text: str, limit: int = 64) -> str:
    """Text that is inert inside a C comment or string literal: only [A-Za-z0-9_-.], at most `limit` chars."""
    return "".join(c if (c.isascii() and c.isalnum()) or c in "_-." else "_" for c in str(text)[:limit]) or "_"
