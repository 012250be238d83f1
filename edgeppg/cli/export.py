"""`edgeppg export`: student checkpoint -> int8 artifacts that provably match (one library call)."""

from __future__ import annotations

from pathlib import Path

import click

from edgeppg.cli.options import config_options, config_overrides, writable_out


@click.command()
@click.option("--student", "student", type=click.Path(path_type=Path), required=True,
              help="Student checkpoint (.safetensors with its .json sidecar) or a shipped name (ppg-student-s12k).")
@click.option("--out", callback=writable_out, type=click.Path(path_type=Path), required=True, help="Export folder (replaced whole on success).")
@click.option("--data", "data_dir", type=click.Path(path_type=Path), default=None,
              help="PPG corpus dir for calibration (train split) and parity (test split); default: the one the "
                   "checkpoint records, else the windows shipped beside it (models/<name>.calib.npz).")
@click.option("--qat", is_flag=True, default=None, help="If post-training int8 misses a tolerance, run a short quantization-aware fine-tune.")
@click.option("--allow-degradation", is_flag=True, default=None,
              help="Write the export even when int8 accuracy misses a tolerance (recorded in the manifest).")
@click.option("--calib-windows", type=click.IntRange(min=1), default=None, help="Calibration windows from the train split.")
@click.option("--calib-seed", type=click.IntRange(min=0), default=None, help="Seed choosing the calibration windows.")
@click.option("--name", default=None, help="Model name for the manifest and the C symbols (default: the student preset).")
@config_options
def export(student, out, data_dir, qat, allow_degradation, calib_windows, calib_seed, name, preset, config_path, sets):
    """Write student.onnx, student_int8.onnx, student_int8.tflite, model_data.c/.h, heldout.npz,
    parity.json and manifest.json to OUT.

    Exit 1 (and nothing written) when ONNX/TFLite parity, the int8 graph, or an accuracy tolerance
    fails; the message says which check and by how much.
    """
    from edgeppg.config import load_config
    from edgeppg.export import export_student

    flags = {"qat": qat, "allow_degradation": allow_degradation, "calib_windows": calib_windows,
             "calib_seed": calib_seed, "name": name}
    over = config_overrides(sets)
    over.setdefault("export", {}).update({k: v for k, v in flags.items() if v is not None})
    cfg = load_config(preset, config_path, over).export
    res = export_student(student, out, cfg, data=data_dir, log=lambda m: click.echo(m, err=True))
    p = res.parity
    fp, q = p["torch_fp32"], p["int8_tflite"]
    click.echo(f"onnx fp32 max abs diff {p['onnx_fp32_max_abs_diff']}; TFLM vs LiteRT ref {p['tflm_vs_litert_ref_max_lsb']} LSB; "
               f"arena {p['tflm_arena_bytes']} B; tflite {p['tflite_bytes']} B")
    for k in ("rhythm_macro_f1", "hr_mae_bpm", "rr_mae_bpm"):
        if k in fp:
            click.echo(f"{k}: fp32 {fp[k]} -> int8 {q[k]} (onnx int8 {p['onnx_int8'].get(k)})")
    for d in res.degradations:
        click.echo(f"degradation allowed: {d}", err=True)
    click.echo(f"wrote {out} in {res.seconds['total']:.1f} s")
