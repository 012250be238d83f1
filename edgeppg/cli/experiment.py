"""`edgeppg experiment ...`: studies that compare several runs (one subcommand per study)."""

from __future__ import annotations

from pathlib import Path

import click

from edgeppg.cli.run import _config_options


@click.group()
def experiment():
    """Comparative studies (transfer, distillation size sweep) writing a JSON table and a PNG."""


@experiment.command("distill")
@_config_options
@click.option("--teacher", required=True, help="Teacher checkpoint (.safetensors from `edgeppg finetune`) or shipped name.")
@click.option("--data", "data_dir", type=click.Path(path_type=Path), default=None,
              help="Corpus directory; default: synthesise one from the config into OUT/data.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Folder for distill.json and distill.png.")
@click.option("--presets", default="s2k,s4k,s5k,s12k,s25k", show_default=True, help="Comma-separated student presets.")
@click.option("--seeds", default=None, help="Comma-separated seeds (default: the config's distill.seeds).")
def distill_sweep_cmd(preset, config_path, sets, teacher, data_dir, out, presets, seeds):
    """Student size sweep: each preset with and without KD -> OUT/distill.json + OUT/distill.png."""
    from edgeppg.cli.distill import distill_overrides
    from edgeppg.config import load_config
    from edgeppg.experiments.distill import distill_sweep

    cfg = load_config(preset, config_path, distill_overrides(sets, None, seeds))
    names = [p.strip() for p in presets.split(",") if p.strip()]
    res = distill_sweep(cfg.distill, teacher, data_dir, out, presets=names, data_cfg=cfg.data,
                        log=lambda s: click.echo(s, err=True))
    t = res.table
    click.echo(f"teacher ({t['teacher_params']} params): macro-F1 {t['teacher'].get('rhythm_macro_f1', float('nan')):.3f}, "
               f"HR MAE {t['teacher'].get('hr_mae_bpm', float('nan')):.2f} BPM")
    for r in t["rows"]:
        click.echo(f"  {r['preset']:5s} {r['params']:6d} params {r['macs'] / 1e6:5.2f} M MACs | "
                   f"KD F1 {r['kd'].get('rhythm_macro_f1', float('nan')):.3f} HR {r['kd'].get('hr_mae_bpm', float('nan')):.2f} | "
                   f"no-KD F1 {r['no_kd'].get('rhythm_macro_f1', float('nan')):.3f} HR {r['no_kd'].get('hr_mae_bpm', float('nan')):.2f}")
    click.echo(f"wrote {res.json_path} and {res.png_path}")
