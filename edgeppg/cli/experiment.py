"""`edgeppg experiment ...`: studies that compare several runs (one subcommand per study)."""

from __future__ import annotations

from pathlib import Path

import click

from edgeppg.cli.options import config_options, writable_out


@click.group()
def experiment():
    """Comparative studies (transfer, distillation size sweep) writing a JSON table and a PNG."""


@experiment.command("distill")
@config_options
@click.option("--teacher", required=True, help="Teacher checkpoint (.safetensors from `edgeppg finetune`) or shipped name.")
@click.option("--data", "data_dir", type=click.Path(path_type=Path), default=None,
              help="Corpus directory; default: synthesise one from the config into OUT/data.")
@click.option("--out", callback=writable_out, type=click.Path(path_type=Path), required=True, help="Folder for distill.json and distill.png.")
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


@experiment.command("transfer")
@config_options
@click.option("--init", default=None, help="Pretrained checkpoint name or path (default: the config's finetune.init).")
@click.option("--data", "data_dir", type=click.Path(path_type=Path), default=None,
              help="Corpus directory; default: synthesise one from the config into OUT/data.")
@click.option("--out", callback=writable_out, type=click.Path(path_type=Path), required=True, help="Folder for transfer.json/.md/.png and runs/.")
@click.option("--budgets", default="100,300,1000,3000", show_default=True, help="Comma-separated labelled-window budgets.")
@click.option("--seeds", default="0,1,2", show_default=True, help="Comma-separated seeds (labelled subset + init + order).")
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="Epochs for every run (finetune.fit.epochs).")
@click.option("--strategy", default=None, help="Strategy of the pretrained arm (default: the config's finetune.strategy).")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="torch CPU threads (finetune.fit.num_threads).")
@click.option("--val-windows", type=click.IntRange(min=0), default=600, show_default=True,
              help="Fixed stratified validation subset per run (0 = the whole validation split).")
def transfer_cmd(preset, config_path, sets, init, data_dir, out, budgets, seeds, epochs, strategy, threads, val_windows):
    """Pretrained vs scratch at several label budgets x seeds -> OUT/transfer.{json,md,png}."""
    from edgeppg.cli.options import config_overrides
    from edgeppg.config import load_config, merge
    from edgeppg.errors import EdgePPGError
    from edgeppg.experiments.transfer import transfer_experiment

    o: dict = {"finetune": {"fit": {}}}
    if epochs is not None:
        o["finetune"]["fit"]["epochs"] = epochs
    if threads is not None:
        o["finetune"]["fit"]["num_threads"] = threads
    if strategy is not None:
        o["finetune"]["strategy"] = strategy
    cfg = load_config(preset, config_path, merge(config_overrides(sets), o))
    try:
        b = [int(x) for x in budgets.split(",") if x.strip()]
        s = [int(x) for x in seeds.split(",") if x.strip()]
    except ValueError:
        raise EdgePPGError(f"--budgets/--seeds take comma-separated integers, got {budgets!r} / {seeds!r}") from None
    res = transfer_experiment(cfg.finetune, data_dir, out, budgets=b, seeds=s, init=init, data_cfg=cfg.data,
                              val_windows=val_windows or None, log=lambda m: click.echo(m, err=True))
    click.echo(res.md_path.read_text())
    click.echo(f"wrote {res.json_path}, {res.md_path} and {res.png_path}")
