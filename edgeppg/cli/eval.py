"""`edgeppg eval MODEL... --real`: options -> one library call (edgeppg.evaluate.eval_real), then print."""

from __future__ import annotations

from pathlib import Path

import click


@click.command(name="eval")
@click.argument("models", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--real", is_flag=True, help="score on the installed real-PPG sources (the only benchmark eval runs so far; required)")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="folder for real.json / real.md (default: EXPORT_DIR/real for one export folder, else ./real)")
@click.option("--estimators/--no-estimators", default=True, show_default=True,
              help="also score the classical / peer reference estimators on the same windows")
@click.option("--estimator", "estimator_names", multiple=True, help="only these estimators (repeatable)")
@click.option("--runtime", type=click.Choice(["litert", "tflm"]), default="litert", show_default=True,
              help="interpreter for export folders (checkpoints run in fp32 torch)")
@click.option("--derived/--no-derived", default=True, show_default=True, help="include the degraded-sensor rows")
@click.option("--max-sources", type=click.IntRange(min=1), default=None, help="only the first N original sources")
@click.option("--max-windows", type=click.IntRange(min=1), default=None, help="only the first N windows of each source")
def eval_(models, real, out, estimators, estimator_names, runtime, derived, max_sources, max_windows):
    """Score MODELS (export folders and/or .safetensors checkpoints) on real PPG beside reference estimators.

    \b
    Per source and pooled: HR MAE, share within 5 BPM, coverage (windows with a reference on which the
    model gives an HR), n, and the model's rhythm-class counts. Writes real.json (+ real.md and a
    Bland-Altman plot) stating the sources, licences and labelling rules.
    """
    from edgeppg.errors import EdgePPGError
    from edgeppg.evaluate import RealOptions, eval_real, format_table, overall_table

    if not real:
        raise EdgePPGError("say which benchmark: --real (the real-PPG benchmark is the one eval runs so far)")

    opts = RealOptions(max_sources=max_sources, max_windows=max_windows, derived=derived, estimators=estimators,
                       estimator_names=tuple(estimator_names) or None, runtime=runtime)
    result, paths = eval_real(models, out, opts, log=lambda s: click.echo(f"  {s}", err=True))
    click.echo(format_table(result))
    if result.get("status") == "ok":
        click.echo("\npooled over the original sources:")
        click.echo(overall_table(result))
    click.echo(f"\nwrote {paths['json']} and {paths['md'].name}" + (f" (+ {paths['png'].name})" if "png" in paths else ""))
