"""`edgeppg bench`: run the exported int8 model in firmware_harness (host or QEMU Cortex-M) and check it."""

from __future__ import annotations

import click

from edgeppg.cli.options import writable_out


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
def bench(export_dir, target, out_dir, windows, seed, portable):
    """Generate C from EXPORT_DIR's int8 .tflite, build, run, compare with TFLM; write OUT/bench.json."""
    from edgeppg.bench.runner import run_bench

    r = run_bench(export_dir, target, out_dir, windows=windows, seed=seed, optimized=not portable)
    ipm = r.get("instructions_per_mac")
    perf = (f"{r['instructions_per_inference']} instructions ({ipm} per MAC)" if ipm is not None
            else f"{r['details']['host']['ns_per_inference']} ns (host wall time)")
    click.echo(f"{target}: {perf}; bit-exact vs TFLM on {r['windows']} windows; "
               f"flash {r['flash_bytes']} B, RAM {r['ram_bytes']} B, stack {r['stack_bytes']} B -> {out_dir}/bench.json")
