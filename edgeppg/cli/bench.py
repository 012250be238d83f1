"""`edgeppg bench`: run the exported int8 model in firmware_harness (host or QEMU Cortex-M) and check it."""

from __future__ import annotations

import inspect
import time
from contextlib import contextmanager

import click

from edgeppg.cli.options import writable_out

# the runner's stage functions, in the order run_bench calls them, and what each line says
_STAGES = (("checked_export", "check the export's files against its manifest"), ("write_model", "generate C from the int8 .tflite"), ("build", "build the harness for {t}"),
           ("tflm_outputs", "reference outputs on the TFLM emulator"), ("Harness", "run on {t}: timing, per-layer "
                                                                                  "profile, bit-exactness per window"))


@contextmanager
def _stage_lines(runner, target: str, say):
    """One line per stage while run_bench works (it takes no log callback): its stage functions are wrapped
    for the duration of the call and restored after. A stage the runner no longer has is simply not shown."""
    t0 = time.monotonic()
    saved = {}
    for name, what in _STAGES:
        fn = getattr(runner, name, None)
        if fn is None:
            continue
        saved[name] = fn

        def wrapped(*a, _fn=fn, _what=what.format(t=target), **k):
            say(f"  [{time.monotonic() - t0:5.1f} s] {_what}")
            return _fn(*a, **k)
        setattr(runner, name, wrapped)
    try:
        yield
    finally:
        for name, fn in saved.items():
            setattr(runner, name, fn)


def _b(v) -> str:
    return f"{v} B" if v is not None else "n/a (host build)"


@click.command("bench")
@click.argument("export_dir", type=click.Path(file_okay=False, path_type=str))
@click.option("--target", type=click.Choice(["host", "qemu-m4", "qemu-m33"]), default="qemu-m4", show_default=True,
              help="host: gcc build, wall time; qemu-*: Cortex-M firmware under QEMU -icount (instruction counts).")
@click.option("--out", "out_dir", callback=writable_out, required=True, type=click.Path(file_okay=False, path_type=str),
              help="Run folder: bench.json, generated model and build dirs.")
@click.option("--windows", default=100, show_default=True, type=click.IntRange(1, 100000),
              help="Held-out windows to compare with TFLM (random seeded int8 when the export has none).")
@click.option("--seed", default=0, show_default=True, help="Seed for synthetic windows.")
@click.option("--portable", is_flag=True, help="Build the portable C kernels instead of the DSP-optimized ones.")
@click.option("--quiet", is_flag=True, help="No stage lines on stderr, only the result.")
def bench(export_dir, target, out_dir, windows, seed, portable, quiet):
    """Generate C from EXPORT_DIR's int8 .tflite, build, run, compare with TFLM; write OUT/bench.json."""
    say = (lambda s: None) if quiet else (lambda s: click.echo(s, err=True))
    say(f"bench {export_dir} on {target}:")
    import edgeppg.bench.runner as runner

    kw = dict(windows=windows, seed=seed, optimized=not portable)
    if "log" in inspect.signature(runner.run_bench).parameters:  # the runner reports its own stages
        r = runner.run_bench(export_dir, target, out_dir, log=say, **kw)
    else:
        with _stage_lines(runner, target, say):
            r = runner.run_bench(export_dir, target, out_dir, **kw)
    ipm = r.get("instructions_per_mac")
    perf = (f"{r['instructions_per_inference']} instructions ({ipm} per MAC)" if ipm is not None
            else f"{r['details']['host']['ns_per_inference']} ns (host wall time)")
    click.echo(f"{target}: {perf}; bit-exact vs TFLM on {r['windows']} windows; "
               f"flash {_b(r['flash_bytes'])}, RAM {_b(r['ram_bytes'])}, stack {_b(r['stack_bytes'])} -> {out_dir}/bench.json")
    from edgeppg.bench.layers import layer_table

    click.echo(layer_table(r))  # per layer, from bench.json's own figures
