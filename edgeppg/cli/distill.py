"""`edgeppg distill`: options -> DistillConfig -> edgeppg.train.distill.distill."""

from __future__ import annotations

from pathlib import Path

import click

from edgeppg.cli.options import config_options, config_overrides, writable_out
from edgeppg.errors import EdgePPGError


def parse_seeds(text: str | None) -> tuple[int, ...] | None:
    """"0,1,2" -> (0, 1, 2); None stays None (config decides)."""
    if text is None:
        return None
    try:
        seeds = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise EdgePPGError(f"--seeds expects comma-separated integers like 0,1,2, got {text!r}") from None
    if not seeds or any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
        raise EdgePPGError(f"--seeds needs distinct non-negative integers like 0,1,2, got {text!r}")
    return seeds


def distill_overrides(sets, student: str | None, seeds: str | None) -> dict:
    over = config_overrides(sets)
    d = over.setdefault("distill", {})
    if student is not None:
        d["student"] = student
    parsed = parse_seeds(seeds)
    if parsed is not None:
        d["seeds"] = list(parsed)
    return over


@click.command()
@config_options
@click.option("--teacher", required=True, help="Teacher checkpoint (.safetensors written by `edgeppg finetune`) or shipped name.")
@click.option("--student", default=None, help="Student preset (s2k, s4k, s5k, s12k, s25k, s50k); default from the config.")
@click.option("--data", "data_dir", type=click.Path(path_type=Path), default=None,
              help="Corpus directory (`edgeppg data synth`); default: synthesise one from the config into OUT/data.")
@click.option("--out", callback=writable_out, type=click.Path(path_type=Path), required=True, help="Run folder for student + metrics.json.")
@click.option("--seeds", default=None, help="Comma-separated student seeds, e.g. 0,1,2 (mean/std reported).")
def distill(preset, config_path, sets, teacher, student, data_dir, out, seeds):
    """Distil a teacher into a microcontroller-sized student; compare with the same student without KD.

    Writes OUT/student.safetensors (+ .json sidecar naming the teacher's sha256 and the test set) and
    OUT/metrics.json (teacher, student, student_no_kd on the same held-out windows; params and MACs).
    """
    from edgeppg.config import load_config
    from edgeppg.train.distill import distill as run_distill

    cfg = load_config(preset, config_path, distill_overrides(sets, student, seeds))
    result = run_distill(cfg.distill, teacher, data_dir, out, data_cfg=cfg.data, log=lambda s: click.echo(s, err=True))
    m = result.metrics
    click.echo(f"student {m['student_preset']}: {m['student_params']} params, {m['student_macs']} MACs "
               f"({m['param_ratio']}x fewer than the teacher)")
    for key in ("teacher", "student", "student_no_kd"):
        if key in m:
            v = m[key]
            click.echo(f"  {key:14s} macro-F1 {v.get('rhythm_macro_f1', float('nan')):.3f}  "
                       f"HR MAE {v.get('hr_mae_bpm', float('nan')):.2f} BPM  RR MAE {v.get('rr_mae_bpm', float('nan')):.2f}")
    click.echo(f"wrote {result.student_path} and {result.metrics_path}")
