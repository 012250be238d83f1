"""`edgeppg predict`: options -> one library call (edgeppg.infer.predict_path), then print the rows."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from edgeppg.cli.options import writable_file


@click.command()
@click.argument("model", type=click.Path(path_type=Path))  # export folder, .safetensors, or a shipped name
@click.argument("recording", type=click.Path(path_type=Path))
@click.option("--fs", "fs_hz", type=float, default=None,
              help="the rate the recording was made at, in Hz, for CSV/NPZ that do not state it (a CSV time column or "
                   "an NPZ fs_hz does, and --fs must agree with it)")
@click.option("--format", "fmt", default=None, help="csv | dalia | npz | wfdb (default: from the extension)")
@click.option("--column", default=None, help="CSV column / NPZ array / WFDB channel (name or index)")
@click.option("--hop-s", type=float, default=2.0, show_default=True, help="seconds between window starts")
@click.option("--runtime", type=click.Choice(["litert", "tflm"]), default="litert", show_default=True,
              help="interpreter for an export folder's int8 .tflite (a checkpoint runs in fp32 torch)")
@click.option("--out", type=click.Path(path_type=Path), default=None, callback=writable_file,
              help="also write the rows to FILE.csv or FILE.json")
@click.option("--rows", "max_rows", type=click.IntRange(min=0), default=None, help="print only the first N rows")
def predict(model, recording, fs_hz, fmt, column, hop_s, runtime, out, max_rows):
    """Per-window HR, rhythm and RR of RECORDING with MODEL (an export folder, a .safetensors checkpoint, or a
    shipped name such as ppg-student-s12k).

    \b
    Reads whatever `edgeppg data import` reads, preprocesses it exactly as the model's manifest / sidecar
    says, and prints one row per window: start, HR (blank + the reason when the quality gate withholds
    it), rhythm class with its probabilities, RR, signal quality; then a one-line summary.
    """
    from edgeppg.infer import predict_path
    from edgeppg.models.registry import MODELS_DIR

    if not model.exists() and len(model.parts) == 1 and (MODELS_DIR / f"{model}.safetensors").is_file():
        model = MODELS_DIR / f"{model}.safetensors"  # a shipped model's name, as export takes it

    wp = predict_path(model, recording, fmt=fmt, fs_hz=fs_hz, column=column, hop_s=hop_s, runtime=runtime,
                      out=out, progress=sys.stderr.isatty())
    m = wp.model
    click.echo(f"{m.get('name')} ({m.get('kind')}, {m.get('runtime')}) on {recording}: "
               f"{wp.recording.get('fs_hz'):g} Hz -> {wp.preprocessing.get('fs_hz'):g} Hz, "
               f"{wp.window_s:g} s windows every {hop_s:g} s, preprocessing {wp.preprocessing.get('kind')}")
    click.echo(wp.table(max_rows))
    click.echo(wp.summary_line())
    if out is not None:
        click.echo(f"wrote {out}")
