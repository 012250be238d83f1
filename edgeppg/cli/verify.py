"""`edgeppg verify` and `edgeppg check`: options -> VerifyConfig -> one library call, then print."""

from __future__ import annotations

import json
from pathlib import Path

import click

from edgeppg.cli.options import writable_out

_export_dir = click.argument("export_dir", type=click.Path(path_type=Path))
_runs = click.option("--runs", type=click.IntRange(min=1), default=200, show_default=True,
                     help="timed host-latency calls per runtime")
_warmup = click.option("--warmup", type=click.IntRange(min=0), default=20, show_default=True,
                       help="untimed warm-up calls per runtime")
_max_windows = click.option("--max-windows", type=click.IntRange(min=1), default=None,
                            help="evaluate only the first N held-out windows (default: all)")


def _budget(ctx, param, value):
    """--budget resolves as `run`'s budget does (this folder, then the project's), before any measuring."""
    if value is None:
        return value
    from edgeppg.errors import EdgePPGError
    from edgeppg.pipeline.run import REPO_ROOT, resolve_budget

    try:
        return resolve_budget(str(value))
    except EdgePPGError:
        shipped = sorted((REPO_ROOT / "examples").glob("budget_*.toml"))
        eg = f"; start from {shipped[0]}" if shipped else ""
        raise EdgePPGError(f"budget file {value} not found (looked in {Path.cwd()} and {REPO_ROOT}){eg}") from None


def _cfg(runs, warmup, max_windows, plots=True, distill_metrics=None, bench_json=None):
    from edgeppg.verify import VerifyConfig

    return VerifyConfig(latency_runs=runs, latency_warmup=warmup, max_windows=max_windows, plots=plots,
                        distill_metrics=str(distill_metrics) if distill_metrics else None,
                        bench_json=str(bench_json) if bench_json else None)


_bench_json = click.option("--bench-json", type=click.Path(path_type=Path), default=None,
                           help="bench.json from `edgeppg bench` whose instruction count replaces the latency "
                                "estimate (default: EXPORT_DIR/bench.json if present)")


@click.command()
@_export_dir
@click.option("--out", callback=writable_out, type=click.Path(path_type=Path), default=None, help="default: EXPORT_DIR/verify")
@_runs
@_warmup
@_max_windows
@click.option("--no-plots", is_flag=True, help="skip the PNG figures")
@click.option("--distill-metrics", type=click.Path(path_type=Path), default=None,
              help="distill metrics.json for the size/accuracy chart (default: EXPORT_DIR/distill_metrics.json)")
@_bench_json
def verify(export_dir, out, runs, warmup, max_windows, no_plots, distill_metrics, bench_json):
    """Check EXPORT_DIR's sha256s, then measure it: flash/RAM of the C library's nRF52840 ELF (TFLM estimate
    second), TFLM arena, host latency, per-target fit.

    Writes verify.json (fixed keys for CI) and verify.md with PNG plots into --out.
    """
    from edgeppg.verify import verify_export
    from edgeppg.verify.report import summary_text

    cfg = _cfg(runs, warmup, max_windows, not no_plots, distill_metrics, bench_json)
    result = verify_export(export_dir, out, cfg, log=lambda s: click.echo(f"  {s}", err=True))
    click.echo(summary_text(result))
    click.echo(f"\nwrote {Path(result['out_dir']) / 'verify.json'} and verify.md"
               + (f" (+ {len(result['plots'])} plots)" if result["plots"] else ""))


@click.command()
@_export_dir
@click.option("--budget", "budget_path", type=click.Path(path_type=Path), required=True, callback=_budget,
              help="budget TOML, relative to this folder or the project (see examples/budget_nrf52840.toml)")
@click.option("--json", "as_json", is_flag=True, help="print a machine-readable verdict on stdout")
@click.option("--out", callback=writable_out, type=click.Path(path_type=Path), default=None,
              help="where verify.json lives / is written (default: EXPORT_DIR/verify)")
@click.option("--real", "real_json", type=click.Path(path_type=Path), default=None,
              help="real.json for a [real] budget (default: EXPORT_DIR/real/real.json, measured now if absent)")
@_runs
@_warmup
@_max_windows
@_bench_json
def check(export_dir, budget_path, as_json, out, real_json, runs, warmup, max_windows, bench_json):
    """Gate EXPORT_DIR on a budget: exit 0 within budget, exit 1 with a table of what is over and by how much.

    Reuses EXPORT_DIR/verify/verify.json when it matches the export's manifest, otherwise runs verify first.
    """
    from edgeppg.errors import CheckFailed
    from edgeppg.verify import check_export

    log = (lambda s: None) if as_json else (lambda s: click.echo(f"  {s}", err=True))
    res = check_export(export_dir, budget_path, _cfg(runs, warmup, max_windows, bench_json=bench_json), out, log=log,
                       real_json=real_json)
    if as_json:
        click.echo(json.dumps(res.to_json(), indent=2))
    else:
        click.echo(f"edgeppg check: {export_dir} against {budget_path}"
                   f" ({'reused' if res.reused_verify else 'fresh'} {res.verify_json})\n")
        click.echo(res.table())
    if not res.passed:
        names = ", ".join(r.metric for r in res.failures)
        raise CheckFailed(f"{len(res.failures)} of {len(res.rows)} budgets exceeded: {names}")
    if not as_json:
        click.echo(f"\nall {len(res.rows)} budgets met")
