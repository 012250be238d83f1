"""`edgeppg run` (whole pipeline) and `edgeppg config show` (resolved config with defaults)."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import click

from edgeppg.config import PRESETS, load_config, to_dict
from edgeppg.errors import EdgePPGError


def _overrides(pairs: tuple[str, ...]) -> dict:
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


def _config_options(f):
    f = click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override one config key, e.g. distill.fit.epochs=5.")(f)
    f = click.option("--config", "config_path", type=click.Path(path_type=Path), help="TOML file layered over the preset.")(f)
    f = click.option("--preset", type=click.Choice(PRESETS), default="default", show_default=True, help="Built-in size preset.")(f)
    return f


@click.command()
@_config_options
@click.option("--out", type=click.Path(path_type=Path), default=Path("runs/demo"), show_default=True, help="Run folder.")
@click.option("--quiet", is_flag=True, help="Only the final summary line.")
@click.option("--json-logs", is_flag=True, help="One JSON object per event on stdout (for CI).")
def run(preset, config_path, sets, out, quiet, json_logs):
    """Run the whole pipeline: data -> teacher -> distill -> export -> verify -> bench -> check.

    Re-running skips stages whose config and inputs did not change; an interrupted run continues
    from the last finished stage (and the last epoch inside training). Writes RUN/report.md,
    RUN/report.html and RUN/summary.json. Exit 1 when the budget check fails.
    """
    from edgeppg.pipeline.run import run_pipeline

    cfg = load_config(preset, config_path, _overrides(sets))
    result = run_pipeline(cfg, out, quiet=quiet, json_logs=json_logs)
    if not result.passed:
        sys.exit(1)


@click.group()
def config():
    """Inspect configuration."""


@config.command("show")
@_config_options
@click.option("--format", "fmt", type=click.Choice(["toml", "json"]), default="toml", show_default=True)
def show(preset, config_path, sets, fmt):
    """Print the resolved config (preset + file + --set, all defaults filled in)."""
    cfg = load_config(preset, config_path, _overrides(sets))
    if fmt == "json":
        from edgeppg.io import dumps_json

        click.echo(dumps_json(to_dict(cfg)), nl=False)
    else:
        click.echo(to_toml(to_dict(cfg)), nl=False)


def to_toml(d: dict, prefix: str = "") -> str:
    scalars = {k: v for k, v in d.items() if not isinstance(v, dict)}
    tables = {k: v for k, v in d.items() if isinstance(v, dict)}
    lines = [f"[{prefix}]"] if prefix and scalars else []
    # None means "unset" (e.g. finetune.labels = all windows); TOML has no null, so show it as a comment
    lines += [f"{k} = {_toml_value(v)}" if v is not None else f"# {k} = (unset)" for k, v in scalars.items()]
    text = "\n".join(lines) + ("\n\n" if lines else "")
    for k, v in tables.items():
        text += to_toml(v, f"{prefix}.{k}" if prefix else k)
    return text


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return repr(v)
