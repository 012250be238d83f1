"""Seals for the stage results a gate consumes (verify.json, bench.json).

`check` turns verify.json/bench.json into a pass/fail, and both files sit in folders that are passed
around and can be edited. So each is written with a binding (the manifest's sha256 and the sha256 of every
artifact it measured) and sealed with an HMAC-SHA256 under a key that never leaves this machine:

    $EDGEPPG_STATE_DIR/seal.key   (default $XDG_STATE_HOME/edgeppg, else ~/.local/state/edgeppg), mode 0600

A result is trusted only when its seal verifies with that key AND its binding matches the export being
gated. Anything else (hand-written, edited, copied from another machine, measured on other files) is
re-measured (verify.json) or refused (bench.json). Without a writable state folder nothing is sealed and
nothing stored is trusted: every gate re-measures.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path
from typing import Any

SEAL_KEY = "seal"
_ALG = "hmac-sha256"


def state_dir() -> Path:
    env = os.environ.get("EDGEPPG_STATE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "edgeppg"


def _key(create: bool) -> bytes | None:
    path = state_dir() / "seal.key"
    try:
        data = path.read_bytes()
        return data if len(data) == 32 else None
    except FileNotFoundError:
        if not create:
            return None
    except OSError:
        return None
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(32))
    except FileExistsError:
        pass  # another process made it first: use theirs
    except OSError:
        return None
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return data if len(data) == 32 else None


def _canonical(doc: dict[str, Any]) -> bytes:
    body = {k: v for k, v in doc.items() if k != SEAL_KEY}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def seal(doc: dict[str, Any]) -> dict[str, Any]:
    """`doc` plus a seal over its canonical JSON (unchanged, unsealed, when no key can be kept)."""
    from edgeppg.io import to_jsonable

    key = _key(create=True)
    out = to_jsonable({k: v for k, v in doc.items() if k != SEAL_KEY})  # sealed exactly as it will be read back
    if key is None:
        return out
    out[SEAL_KEY] = {"alg": _ALG, "mac": hmac.new(key, _canonical(out), hashlib.sha256).hexdigest()}
    return out


def is_sealed(doc: Any) -> bool:
    """True only for a doc sealed on this machine and unchanged since."""
    if not isinstance(doc, dict) or not isinstance(doc.get(SEAL_KEY), dict):
        return False
    mac = doc[SEAL_KEY].get("mac")
    key = _key(create=False)
    if key is None or doc[SEAL_KEY].get("alg") != _ALG or not isinstance(mac, str):
        return False
    try:
        want = hmac.new(key, _canonical(doc), hashlib.sha256).hexdigest()
    except (TypeError, ValueError):
        return False
    return hmac.compare_digest(want, mac)
