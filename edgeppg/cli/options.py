"""Options every config-driven command shares: --preset, --config, --set KEY=VALUE (layered in that order)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import click

from edgeppg.config import PRESETS
from edgeppg.errors import EdgePPGError


def config_overrides(pairs: tuple[str, ...]) -> dict:
    """--set a.b=VALUE (VALUE parsed as TOML, bare words as strings) -> nested dict."""
    out: dict = {}
    for pair in pairs:
        if "=" not in pair:
            raise EdgePPGError(f"--set expects KEY=VALUE (e.g. distill.fit.epochs=5), got {pair!r}")
        key, raw = pair.split("=", 1)
        try:
            value = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw
        node = out
        *parents, leaf = key.strip().split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return out


def config_options(f):
    f = click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override one config key, e.g. distill.fit.epochs=5.")(f)
    f = click.option("--config", "config_path", type=click.Path(path_type=Path), help="TOML file layered over the preset.")(f)
    f = click.option("--preset", type=click.Choice(PRESETS), default="default", show_default=True, help="Built-in size preset.")(f)
    return f


def writable_out(ctx, param, value):
    """click callback for --out: refuse an existing file or an unwritable place before any work starts."""
    if value is not None:
        from edgeppg.outdir import check_writable

        check_writable(value, f"--{param.name.replace('_', '-')}" if param.name not in ("out", "out_dir") else "--out")
    return value


def writable_file(ctx, param, value):
    """click callback for an output FILE: not a folder, and its folder (or nearest existing ancestor) writable,
    checked before any work so a bad path costs no computation."""
    if value is not None:
        from pathlib import Path

        from edgeppg.outdir import check_writable

        opt = max(param.opts, key=len) if param.opts else f"--{param.name}"
        if Path(value).is_dir():
            raise EdgePPGError(f"{opt} {value} is a folder; name a file")
        check_writable(Path(value).parent, f"{opt} {value}: its folder")
    return value


def finite_range(lo: float, hi: float):
    """click callback: a float option must be finite and in (lo, hi] (click's FloatRange lets NaN through)."""
    import math

    def check(ctx, param, value):
        if value is None:
            return value
        if not math.isfinite(value) or not lo < value <= hi:
            opt = max(param.opts, key=len) if param.opts else f"--{param.name}"
            rng = f" in ({lo:g}, {hi:g}]" if math.isfinite(hi) else f" > {lo:g}" if math.isfinite(lo) else ""
            raise EdgePPGError(f"{opt} must be a finite number{rng}, got {value}")
        return value
    return check
