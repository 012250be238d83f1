"""`edgeppg run` (whole pipeline) and `edgeppg config show` (resolved config with defaults)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from edgeppg.cli.options import config_options, config_overrides, writable_out
from edgeppg.config import load_config, to_dict


@click.command()
@config_options
@click.option("--out", callback=writable_out, type=click.Path(path_type=Path), default=Path("runs/demo"), show_default=True, help="Run folder.")
@click.option("--quiet", is_flag=True, help="Only the final summary line.")
@click.option("--json-logs", is_flag=True, help="One JSON object per event on stdout (for CI).")
def run(preset, config_path, sets, out, quiet, json_logs):
    """Run the whole pipeline: data -> teacher -> distill -> export -> verify -> bench -> check.

    Re-running skips stages whose config and inputs did not change; an interrupted run continues
    from the last finished stage (and the last epoch inside training). Writes RUN/report.md,
    RUN/report.html and RUN/summary.json. Exit 1 when the budget check fails.
    """
    from edgeppg.outdir import claim
    from edgeppg.pipeline.run import resolve_budget, run_pipeline
    from edgeppg.verify.budget import load_budget

    cfg = load_config(preset, config_path, config_overrides(sets))
    load_budget(resolve_budget(cfg.budget))  # a bad budget is refused before hours of training, not after
    # the run folder is edgeppg's (marker), empty, or a run folder from before markers; else refused untouched
    claim(out, "run", "--out", legacy=lambda d: (d / ".stages").is_dir() and (d / "config.json").is_file())
    result = run_pipeline(cfg, out, quiet=quiet, json_logs=json_logs)
    if not result.passed:
        sys.exit(1)


@click.group()
def config():
    """Inspect configuration."""


@config.command("show")
@config_options
@click.option("--format", "fmt", type=click.Choice(["toml", "json"]), default="toml", show_default=True)
def show(preset, config_path, sets, fmt):
    """Print the resolved config (preset + file + --set, all defaults filled in)."""
    cfg = load_config(preset, config_path, config_overrides(sets))
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
