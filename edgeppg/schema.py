"""Typed validation of the JSON documents edgeppg reads from folders it does not control.

An export folder's manifest.json, a checkpoint's sidecar and the stage results (verify.json, bench.json)
travel between machines and people, so every reader validates them here first: each key it uses has a
type and a range, unknown structure is bounded in depth and size, and a violation is ONE line naming the
JSON path, the rule and the fix. No reader touches a value this module has not checked.

A schema is a tree of small checkers: ``Int(lo, hi)``, ``Float(lo, hi)``, ``Str(pattern, max_len)``,
``Enum(*values)``, ``Bool()``, ``List(item, min_len, max_len)``, ``Obj({key: checker}, required=...)``,
``Map(key_checker, value_checker)`` and ``Json()`` (any JSON value, bounded in depth/size).
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any, Callable

from edgeppg.errors import EdgePPGError

MAX_DOC_BYTES = 16 << 20  # no edgeppg JSON document comes close; a bigger file is refused before it is read
MAX_DEPTH = 32  # nesting depth of any JSON value edgeppg reads
MAX_MESSAGE = 160  # how much of an offending value an error line shows

HEX64 = re.compile(r"[0-9a-f]{64}")


class SchemaError(Exception):
    def __init__(self, path: str, msg: str):
        super().__init__(f"{path or '(document)'} {msg}")


def shown(value: Any, limit: int = MAX_MESSAGE) -> str:
    """repr(value), cut to `limit` characters (messages stay one short line whatever the input)."""
    r = repr(value) if not isinstance(value, (dict, list)) else type(value).__name__ + f" of {len(value)}"
    return r if len(r) <= limit else r[:limit] + f"… ({len(r) - limit} more characters)"


def _depth(value: Any, limit: int = MAX_DEPTH) -> int:
    """Nesting depth, iteratively (a 100k-deep list must not hit Python's recursion limit)."""
    stack, deepest = [(value, 1)], 0
    while stack:
        v, d = stack.pop()
        if isinstance(v, (dict, list)):
            deepest = max(deepest, d)
            if deepest > limit:
                return deepest
            stack.extend((c, d + 1) for c in (v.values() if isinstance(v, dict) else v))
    return deepest


Checker = Callable[[Any, str], Any]


def Json(max_depth: int = 8) -> Checker:
    def check(v, path):
        if _depth(v, max_depth) > max_depth:
            raise SchemaError(path, f"is nested deeper than {max_depth} levels")
        return v
    return check


def Bool() -> Checker:
    def check(v, path):
        if not isinstance(v, bool):
            raise SchemaError(path, f"must be true or false, got {shown(v)}")
        return v
    return check


def Int(lo: int | None = None, hi: int | None = None) -> Checker:
    def check(v, path):
        if not isinstance(v, int) or isinstance(v, bool):
            raise SchemaError(path, f"must be an integer, got {shown(v)}")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise SchemaError(path, f"must be in [{lo}, {hi}], got {shown(v)}")
        return v
    return check


def Float(lo: float | None = None, hi: float | None = None, *, positive: bool = False, nonzero: bool = False) -> Checker:
    def check(v, path):
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
            raise SchemaError(path, f"must be a finite number, got {shown(v)}")
        if (lo is not None and v < lo) or (hi is not None and v > hi) or (positive and v <= 0) or (nonzero and v == 0):
            rng = f"in [{lo}, {hi}]" + (", > 0" if positive else "") + (", != 0" if nonzero else "")
            raise SchemaError(path, f"must be {rng}, got {shown(v)}")
        return float(v)
    return check


def Str(pattern: str | re.Pattern | None = None, max_len: int = 256) -> Checker:
    rx = re.compile(pattern) if isinstance(pattern, str) else pattern

    def check(v, path):
        if not isinstance(v, str):
            raise SchemaError(path, f"must be a string, got {shown(v)}")
        if len(v) > max_len:
            raise SchemaError(path, f"must be at most {max_len} characters, got {len(v)}")
        if rx is not None and not rx.fullmatch(v):
            raise SchemaError(path, f"must match {rx.pattern}, got {shown(v)}")
        return v
    return check


def Enum(*values) -> Checker:
    def check(v, path):
        if not isinstance(v, (str, int, float, bool, type(None))) or v not in values:
            raise SchemaError(path, f"must be one of {', '.join(map(repr, values))}, got {shown(v)}")
        return v
    return check


def Maybe(inner: Checker) -> Checker:
    def check(v, path):
        return None if v is None else inner(v, path)
    return check


def List(item: Checker, min_len: int = 0, max_len: int = 4096) -> Checker:
    def check(v, path):
        if not isinstance(v, list):
            raise SchemaError(path, f"must be a list, got {shown(v)}")
        if not min_len <= len(v) <= max_len:
            raise SchemaError(path, f"must have {min_len}..{max_len} items, got {len(v)}")
        return [item(x, f"{path}[{i}]") for i, x in enumerate(v)]
    return check


def Obj(fields: dict[str, Checker], required: tuple[str, ...] = (), extra: Checker | None = Json()) -> Checker:
    """A JSON object: known keys typed, `required` present; other keys pass `extra` (None: unknown keys refused)."""
    def check(v, path):
        if not isinstance(v, dict):
            raise SchemaError(path, f"must be an object, got {shown(v)}")
        for k in required:
            if k not in v:
                raise SchemaError(path, f"lacks the required key {k!r}")
        out = {}
        for k, x in v.items():
            sub = f"{path}.{k}" if path else str(k)
            if k in fields:
                out[k] = fields[k](x, sub)
            elif extra is None:
                raise SchemaError(sub, f"is not a known key; known: {', '.join(fields)}")
            else:
                out[k] = extra(x, sub)
        return out
    return check


def Map(key: Checker, value: Checker, min_len: int = 0, max_len: int = 4096) -> Checker:
    def check(v, path):
        if not isinstance(v, dict):
            raise SchemaError(path, f"must be an object, got {shown(v)}")
        if not min_len <= len(v) <= max_len:
            raise SchemaError(path, f"must have {min_len}..{max_len} entries, got {len(v)}")
        return {key(k, f"{path} key"): value(x, f"{path}.{k}") for k, x in v.items()}
    return check


def validate(doc: Any, schema: Checker, what: str, fix: str) -> Any:
    """`doc` checked against `schema`, or one EdgePPGError line: '<what>: <json path> <rule>; <fix>'."""
    if _depth(doc) > MAX_DEPTH:
        raise EdgePPGError(f"{what} is nested deeper than {MAX_DEPTH} levels; {fix}")
    try:
        return schema(doc, "")
    except SchemaError as exc:
        raise EdgePPGError(f"{what}: {exc}; {fix}") from None


def loads_bounded(text: str | bytes, what: str, fix: str) -> Any:
    """json.loads with the failure modes of hostile text (deep nesting, NaN literals, bad UTF-8) as one line."""
    def no_constants(name):
        raise ValueError(f"{name} is not JSON")

    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        return json.loads(text, parse_constant=no_constants)
    except RecursionError:
        raise EdgePPGError(f"{what} is nested too deeply to read; {fix}") from None
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
        raise EdgePPGError(f"{what} is not valid JSON ({shown(str(exc), 120)}); {fix}") from None


def read_json_file(path: str | os.PathLike, what: str, fix: str, max_bytes: int = MAX_DOC_BYTES) -> Any:
    """A JSON file's value: its size is checked before it is read; missing/huge/invalid -> one line."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise FileNotFoundError(path)
    except (FileNotFoundError, NotADirectoryError):
        raise EdgePPGError(f"{what} {path} not found; {fix}") from None
    except OSError as exc:
        raise EdgePPGError(f"{what} {path} cannot be read ({exc.strerror}); {fix}") from None
    if size > max_bytes:
        raise EdgePPGError(f"{what} {path} is {size} bytes, over the {max_bytes}-byte limit for this document; {fix}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise EdgePPGError(f"{what} {path} cannot be read ({exc.strerror}); {fix}") from None
    return loads_bounded(data, f"{what} {path}", fix)
