"""`edgeppg pretrain` and `edgeppg finetune`: options -> frozen config -> one library call (edgeppg.train.transfer).

Both run unchanged under `torchrun --nproc_per_node N -m edgeppg.cli.main finetune ...` (DDP; rank 0 writes).
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from edgeppg.cli.options import config_options, config_overrides, writable_out
from edgeppg.config import load_config, merge


def _set(d: dict, dotted: str, value) -> None:
    """Put a CLI option into the override dict only when the user gave it (None = keep preset/config)."""
    if value is None:
        return
    node = d
    *parents, leaf = dotted.split(".")
    for p in parents:
        node = node.setdefault(p, {})
    node[leaf] = value


def _threads(threads: int | None) -> int | None:
    """Default threads under torchrun: share the cores between processes instead of oversubscribing."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if threads is None and world > 1:
        return max(1, (os.cpu_count() or 1) // world)
    return threads


def _common(f):
    f = click.option("--quiet", is_flag=True, help="No progress bar or per-epoch lines.")(f)
    f = click.option("--threads", type=click.IntRange(min=1), default=None, help="torch CPU threads (fit.num_threads).")(f)
    f = click.option("--seed", type=click.IntRange(min=0), default=None, help="Training seed (fit.seed).")(f)
    f = click.option("--batch-size", type=click.IntRange(min=2), default=None, help="fit.batch_size.")(f)
    f = click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=None, help="Peak learning rate (fit.lr).")(f)
    f = click.option("--epochs", type=click.IntRange(min=1), default=None, help="Maximum epochs (fit.epochs).")(f)
    f = click.option("--data", "data_dir", type=click.Path(path_type=Path), default=None,
                     help="Corpus folder from `edgeppg data synth` (default: synthesise one into OUT/data).")(f)
    f = click.option("--out", callback=writable_out, type=click.Path(path_type=Path), required=True, help="Run folder.")(f)
    return config_options(f)


def _fit_overrides(o: dict, section: str, epochs, lr, batch_size, seed, threads, quiet) -> None:
    _set(o, f"{section}.fit.epochs", epochs)
    _set(o, f"{section}.fit.lr", lr)
    _set(o, f"{section}.fit.batch_size", batch_size)
    _set(o, f"{section}.fit.seed", seed)
    _set(o, f"{section}.fit.num_threads", _threads(threads))
    if quiet:
        _set(o, f"{section}.fit.progress", False)


@click.command()
@_common
@click.option("--model", default=None, help="Architecture name: resnet18 | resnet34 (pretrain.model).")
@click.option("--width", type=click.IntRange(min=1), default=None, help="Width multiplier: channels of stage 1 (pretrain.width).")
@click.option("--loss-balance", type=click.Choice(["fixed", "uncertainty"]), default=None, help="Multi-task loss weighting.")
@click.option("--no-real", is_flag=True, help="Synthetic ECG only (skip the catalog's real ECG recordings).")
def pretrain(out, data_dir, epochs, lr, batch_size, seed, threads, quiet, model, width, loss_balance, no_real,
             preset, config_path, sets):
    """Pretrain a ResNet1d on ECG: rhythm + HR + RR on synthetic ECG, HR on real ECG recordings.

    Writes OUT/ecg.safetensors + OUT/ecg.json (declares input rate, window, channels, normalisation)
    and OUT/metrics.json (held-out synthetic ECG test metrics).
    """
    from edgeppg.train.fit import shutdown_distributed
    from edgeppg.train.transfer import pretrain as run

    o: dict = {}
    _fit_overrides(o, "pretrain", epochs, lr, batch_size, seed, threads, quiet)
    _set(o, "pretrain.model", model)
    _set(o, "pretrain.width", width)
    _set(o, "pretrain.loss_balance", loss_balance)
    if no_real:
        _set(o, "data.use_real", False)
    cfg = load_config(preset, config_path, merge(config_overrides(sets), o))
    try:
        run(cfg.pretrain, data_dir, out, data_cfg=cfg.data, log=(lambda m: None) if quiet else click.echo,
            progress=not quiet)
    finally:
        shutdown_distributed()


@click.command()
@_common
@click.option("--init", default=None, help="Shipped checkpoint name (e.g. ecg-resnet18), a .safetensors path, or 'scratch'.")
@click.option("--strategy", type=click.Choice(["probe", "partial", "discriminative", "gradual", "full", "scratch"]),
              default=None, help="How the pretrained backbone is fine-tuned (scratch: random init baseline).")
@click.option("--labels", type=click.IntRange(min=1), default=None, help="Use at most N labelled PPG windows (class-stratified).")
@click.option("--label-seed", type=click.IntRange(min=0), default=None, help="Which labelled subset --labels picks.")
@click.option("--freeze-stages", type=click.IntRange(min=0, max=4), default=None, help="Stages frozen by 'partial' (plus the stem).")
@click.option("--lr-decay", type=click.FloatRange(min=0, max=1, min_open=True), default=None,
              help="Per-stage LR factor for 'discriminative'.")
def finetune(out, data_dir, epochs, lr, batch_size, seed, threads, quiet, init, strategy, labels, label_seed,
             freeze_stages, lr_decay, preset, config_path, sets):
    """Fine-tune an ECG-pretrained backbone on labelled PPG -> the teacher.

    Writes OUT/teacher.safetensors + OUT/teacher.json (parent_sha256 = the ECG checkpoint's sha256)
    and OUT/metrics.json (held-out PPG test metrics). A bad --init file stops before anything is written.
    """
    from edgeppg.train.fit import shutdown_distributed
    from edgeppg.train.transfer import finetune as run

    o: dict = {}
    _fit_overrides(o, "finetune", epochs, lr, batch_size, seed, threads, quiet)
    _set(o, "finetune.init", init)
    _set(o, "finetune.strategy", "scratch" if (init == "scratch" and strategy is None) else strategy)
    _set(o, "finetune.labels", labels)
    _set(o, "finetune.label_seed", label_seed)
    _set(o, "finetune.freeze_stages", freeze_stages)
    _set(o, "finetune.lr_decay", lr_decay)
    cfg = load_config(preset, config_path, merge(config_overrides(sets), o))
    try:
        run(cfg.finetune, data_dir, out, data_cfg=cfg.data, log=(lambda m: None) if quiet else click.echo,
            progress=not quiet)
    finally:
        shutdown_distributed()
