"""ECG pretraining and PPG fine-tuning as library calls (the `pretrain` / `finetune` commands are thin wrappers).

    pretrain(cfg.pretrain, data_dir, out)  -> out/ecg.safetensors (+ .json) and out/metrics.json
    finetune(cfg.finetune, data_dir, out)  -> out/teacher.safetensors (+ .json) and out/metrics.json

The hand-off between them is ONE function, `feature_extractor(ckpt)`: it returns only the pretrained
backbone (its `.cfg` says which input rate/window/channels it expects); fine-tuning always builds new heads.
Input adaptation: PPG is resampled to the backbone's rate; a different channel count gets the first conv's
filters duplicated across channels and scaled by 1/C (Weimann & Conrad 2021), so the initial response
to C identical channels equals the pretrained response to one.

Strategies (`FinetuneConfig.strategy`):
  probe          backbone frozen (BN statistics too), new heads trained
  partial        stem + first `freeze_stages` stages frozen
  discriminative everything trains; LR x decay per stage going down (stage4/post x1 ... stem x decay^4)
  gradual        heads first, then one backbone group per interval unfrozen top-down (stage4 -> stem)
  full           everything at one LR
  scratch        same architecture, random init, everything at one LR (the baseline)

Default "full": measured on the default corpus (10 epochs, 3 seeds), discriminative LRs (stem 39x smaller)
kept the low layers at their ECG solution and the gain over scratch vanished by 300 labels (-0.001 macro-F1),
while full fine-tuning kept it (+0.13 at 300) and also gave the better teacher with all labels
(test macro-F1 0.972 / HR MAE 2.0 BPM vs 0.959 / 2.8). ECG stem filters fit sharp QRS complexes and need to
move to fit smooth pulse waves.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from edgeppg.config import DataConfig, FinetuneConfig, PretrainConfig, to_dict
from edgeppg.data.signal import ZSCORE_EPS, preprocess
from edgeppg.preprocess import Preprocessing
from edgeppg.preprocess import apply as apply_preprocessing
from edgeppg.data.windows import Windows
from edgeppg.errors import EdgePPGError, unknown_name
from edgeppg.io import atomic_write_json
from edgeppg.models.heads import DEFAULT_HEADS, HeadSpec, heads_named
from edgeppg.models.resnet1d import Backbone, ResNet1d, ResNet1dConfig, count_params, resnet_config
from edgeppg.train.data import stratified_subset
from edgeppg.train.fit import FitResult, fit, is_main_process, setup_distributed
from edgeppg.train.objectives import SupervisedObjective
from edgeppg.train.predict import evaluate_windows, train_arrays

STRATEGIES = ("probe", "partial", "discriminative", "gradual", "full", "scratch")
NORMALISATION = {"kind": "zscore", "eps": ZSCORE_EPS}
CONVERGE_TOL = 0.02  # an epoch "has converged" once its val_score is within this of the run's best


@dataclass
class TransferResult:
    checkpoint: Path | None
    metrics: dict
    fit: FitResult
    seconds: float


@dataclass
class Splits:
    train: Windows
    val: Windows
    test: Windows
    info: dict


# ---------------------------------------------------------------- data

def ensure_corpus(data_dir: str | Path | None, data_cfg: DataConfig, out: Path, log: Callable[[str], None]) -> Path:
    """The given corpus, or a seeded synthetic one generated into out/data (reused when already there)."""
    if data_dir is not None:
        d = Path(data_dir)
        if not (d / "corpus.json").is_file():
            from edgeppg.data.corpus import not_a_corpus

            raise EdgePPGError(not_a_corpus(d))
        return d
    from edgeppg.data.corpus import build_corpus

    d = out / "data"
    if not (d / "corpus.json").is_file() and is_main_process():
        log(f"synthesising {data_cfg.n_windows} paired windows (seed {data_cfg.seed}) into {d}")
        build_corpus(d, data_cfg.n_windows, data_cfg.seed, window_s=data_cfg.window_s, fs_ecg=data_cfg.fs_ecg_hz,
                     fs_ppg=data_cfg.fs_ppg_hz, sensor_domain=data_cfg.sensor_domain)
    from edgeppg.train.fit import barrier

    barrier()
    return d


def load_splits(data_dir: Path, data_cfg: DataConfig, modality: str, fs_hz: float,
                pre: Preprocessing | None = None) -> Splits:
    """One modality of a corpus, preprocessed to fs_hz (resample + `pre`, default per-window z-score), split by record."""
    from edgeppg.data.splits import SplitSpec, load_split

    s = load_split(data_dir, modality, SplitSpec.from_config(data_cfg),
                   transform=lambda raw: apply_preprocessing(raw, pre) if pre is not None else preprocess(raw, fs_hz))
    w = s.train
    info = {"corpus_dir": s.source["corpus_dir"], "modality": modality, "corpus_sha256": s.source["corpus_sha256"],
            "split_seed": data_cfg.seed, "val_frac": data_cfg.val_frac, "test_frac": data_cfg.test_frac,
            "fs_hz": float(fs_hz), "window_s": float(w.window_s), "channels": w.channels,
            "n_train": len(s.train), "n_val": len(s.val), "n_test": len(s.test),
            "preprocessing": (pre or Preprocessing.from_json(None, fs_hz=fs_hz, window_s=w.window_s)).to_json()}
    return Splits(s.train, s.val, s.test, info)


def input_spec(cfg: ResNet1dConfig, modality: str, preprocessing: dict | None = None) -> dict:
    spec = {"fs_hz": cfg.fs_hz, "window_s": cfg.samples / cfg.fs_hz, "samples": cfg.samples,
            "channels": cfg.in_channels, "normalisation": dict(NORMALISATION), "modality": modality}
    if preprocessing:
        spec["preprocessing"] = preprocessing  # Preprocessing.to_json() of what the model was trained on
    if modality == "ppg":
        spec["polarity"] = "pulse-up"
    return spec


# ---------------------------------------------------------------- the hand-off

def feature_extractor(ckpt: str | Path) -> Backbone:
    """THE pretrain -> finetune hand-off: the pretrained backbone only (no heads) from a name or path.

    The returned module carries `.cfg` (input rate, window, channels, width) and `.source` ({path, sha256}).
    Bad files (corrupt, truncated, pickle, another architecture) raise EdgePPGError before anything is written.
    """
    from edgeppg.models.registry import resolve_pretrained
    from edgeppg.train.checkpoint import load_checkpoint

    path = resolve_pretrained(str(ckpt))
    ck = load_checkpoint(path, expect_arch="resnet1d")
    backbone = ck.model.backbone
    backbone.source = {"path": str(path), "sha256": ck.sha256, "name": Path(path).stem,
                       "input": ck.meta.get("input", {})}
    return backbone


def adapt_channels(backbone: Backbone, channels: int) -> Backbone:
    """Same backbone for `channels` input channels: first-conv filters averaged over old inputs, duplicated, / C."""
    old = backbone.cfg.in_channels
    if channels == old:
        return backbone
    w = backbone.stem.weight.detach()  # (width, old, k)
    mean = w.mean(dim=1, keepdim=True) * old  # the summed response over old inputs, per filter
    new_cfg = dataclasses.replace(backbone.cfg, in_channels=channels)
    nb = Backbone(new_cfg)
    state = dict(backbone.state_dict())
    state["stem.weight"] = mean.repeat(1, channels, 1) / channels
    nb.load_state_dict(state)
    nb.source = getattr(backbone, "source", None)
    return nb


def model_for_task(backbone: Backbone, heads: tuple[HeadSpec, ...], samples: int, *, pretrained: bool,
                   seed: int) -> ResNet1d:
    """A ResNet1d with `backbone`'s architecture and new heads; backbone weights copied when pretrained."""
    torch.manual_seed(seed)  # head (and scratch) init is seeded like everything else
    cfg = dataclasses.replace(backbone.cfg, heads=tuple(heads), samples=int(samples))
    model = ResNet1d(cfg)
    if pretrained:
        model.backbone.load_state_dict(backbone.state_dict(), strict=True)
    return model


# ---------------------------------------------------------------- strategies

def _groups(model: ResNet1d) -> list[tuple[str, list[nn.Parameter]]]:
    """Backbone groups input-side first, with the final BN joined to the last stage (it only normalises it)."""
    g = model.backbone.groups()
    out = [(name, list(m.parameters())) for name, m in g[:-1]]
    out[-1] = (out[-1][0], out[-1][1] + list(g[-1][1].parameters()))
    return out


def plan_strategy(model: ResNet1d, cfg: FinetuneConfig) -> tuple[Callable | None, Callable | None]:
    """(param_groups, on_epoch_start) for fit(); freezes parameters in place for probe/partial."""
    s = cfg.strategy
    if s not in STRATEGIES:
        raise unknown_name("strategy", s, STRATEGIES)
    groups = _groups(model)
    heads = list(model.heads.parameters())
    if s in ("full", "scratch"):
        return None, None
    if s in ("probe", "partial"):
        k = len(groups) if s == "probe" else min(max(cfg.freeze_stages, 0) + 1, len(groups))  # +1: the stem
        for _, ps in groups[:k]:
            for p in ps:
                p.requires_grad_(False)
        return (lambda m: [{"params": [p for p in m.parameters() if p.requires_grad], "name": "trainable"}]), None
    if s == "discriminative":
        if not (0 < cfg.lr_decay <= 1):
            raise EdgePPGError(f"finetune.lr_decay must be in (0, 1], got {cfg.lr_decay}")
        n = len(groups)

        def pg(m):
            out = [{"params": ps, "lr_mult": cfg.lr_decay ** (n - 1 - i), "name": name} for i, (name, ps) in enumerate(groups)]
            return out + [{"params": heads, "lr_mult": 1.0, "name": "heads"}]

        return pg, None
    # gradual: one more group (top-down) every `interval` epochs; all unfrozen by half-way
    n = len(groups)
    interval = max(1, (cfg.fit.epochs // 2) // n)

    def on_epoch_start(epoch: int, m: nn.Module) -> None:
        open_groups = min(n, epoch // interval)
        for i, (_, ps) in enumerate(groups):
            for p in ps:
                p.requires_grad_(i >= n - open_groups)

    return None, on_epoch_start


def epochs_to_converge(history: list[dict], key: str = "val_score", tol: float = CONVERGE_TOL) -> int | None:
    """First epoch whose `key` is within tol of the run's best (None when the key is missing)."""
    vals = [h.get(key) for h in history]
    vals = [v if v is not None and math.isfinite(v) else float("-inf") for v in vals]
    if not vals or max(vals) == float("-inf"):
        return None
    best = max(vals)
    return next(i + 1 for i, v in enumerate(vals) if v >= best - tol)


def _pick(m: dict) -> dict:
    return {k: m[k] for k in ("rhythm_macro_f1", "rhythm_accuracy", "hr_mae_bpm", "rr_mae_bpm", "val_score") if k in m}


def _fmt(m: dict) -> str:
    return " ".join(f"{k}={v:.3f}" for k, v in _pick(m).items() if isinstance(v, float))


# ---------------------------------------------------------------- finetune

def finetune(cfg: FinetuneConfig, data_dir: str | Path | None, out: str | Path, *, init: str | None = None,
             data_cfg: DataConfig | None = None, log: Callable[[str], None] = print, progress: bool = True,
             splits: Splits | None = None) -> TransferResult:
    """Fine-tune a pretrained backbone (or train from scratch) on labelled PPG; writes out/teacher.safetensors.

    `init` overrides cfg.init. `splits` lets a caller (the transfer experiment) reuse loaded data.
    """
    t0 = time.perf_counter()
    data_cfg = data_cfg or DataConfig()
    out = Path(out)
    init = init or cfg.init
    if cfg.strategy not in STRATEGIES:
        raise unknown_name("strategy", cfg.strategy, STRATEGIES)
    rank, _ = setup_distributed()
    log = log if rank == 0 else (lambda *_a, **_k: None)
    # validate the init checkpoint before anything is written (a bad file must leave the disk untouched)
    if init == "scratch":
        pretrained = False
        backbone = Backbone(resnet_config(cfg.model, width=cfg.width, fs_hz=data_cfg.fs_ppg_hz,
                                          samples=int(round(data_cfg.window_s * data_cfg.fs_ppg_hz))))
        source = None
    else:
        backbone = feature_extractor(init)
        source = backbone.source
        pretrained = cfg.strategy != "scratch"
    if cfg.strategy != "scratch" and not pretrained:
        raise EdgePPGError(f"strategy {cfg.strategy!r} needs a pretrained --init (got 'scratch'); "
                           f"use --strategy scratch or --init ecg-resnet18")

    fs = backbone.cfg.fs_hz
    pre = Preprocessing(fs_hz=fs, window_s=backbone.cfg.samples / fs, bandpass_hz=tuple(cfg.bandpass_hz) or None)
    if splits is None:
        splits = load_splits(ensure_corpus(data_dir, data_cfg, out, log), data_cfg, "ppg", fs, pre)
    elif not math.isclose(splits.train.fs_hz, fs):
        raise EdgePPGError(f"prepared splits are at {splits.train.fs_hz} Hz but the backbone expects {fs} Hz")
    backbone = adapt_channels(backbone, splits.train.channels)
    labelled = stratified_subset(splits.train.rhythm, cfg.labels, cfg.label_seed)
    train = splits.train.subset(labelled)
    heads = heads_named(cfg.heads)
    model = model_for_task(backbone, heads, splits.train.samples, pretrained=pretrained, seed=cfg.fit.seed)
    param_groups, on_epoch_start = plan_strategy(model, cfg)
    log(f"finetune: {cfg.strategy} from {source['name'] if source else 'random init'} "
        f"({count_params(model)} params), {len(train)} labelled PPG windows at {fs:g} Hz, val {len(splits.val)}")

    objective = SupervisedObjective(heads, balance=cfg.loss_balance)
    fit_cfg = dataclasses.replace(cfg.fit, progress=cfg.fit.progress and progress)
    data_info = dict(splits.info, labels=cfg.labels, label_seed=cfg.label_seed, n_train_labelled=len(train))
    test_metrics: dict = {}

    def save(path: Path, m: nn.Module, info: dict) -> Path:
        test_metrics.update(evaluate_windows(m, heads, splits.test))
        return save_checkpoint(out / "teacher.safetensors", m, train_config=to_dict(cfg), metrics=_pick(test_metrics),
                               parent_sha256=source["sha256"] if source and pretrained else None,
                               input_spec=input_spec(m.cfg, "ppg", splits.info.get("preprocessing")),
                               extra={"data": data_info, "strategy": cfg.strategy,
                                      "init": {"name": init, "sha256": source["sha256"] if source else None},
                                      "best_epoch": info["best_epoch"]})

    from edgeppg.train.checkpoint import save_checkpoint

    res = fit(model, objective, train_arrays(train, heads), fit_cfg, out / "fit",
              evaluate=lambda m: evaluate_windows(m, heads, splits.val), param_groups=param_groups,
              on_epoch_start=on_epoch_start, save_fn=save)
    seconds = time.perf_counter() - t0
    metrics: dict = {}
    if rank == 0:
        hist = res.history
        train_s = sum(h["train_seconds"] for h in hist)
        metrics = {**_pick(test_metrics), "split": "test", "n_test": len(splits.test),
                   "val_best": _pick(next((h for h in hist if h["epoch"] == res.best_epoch), {})),
                   "best_epoch": res.best_epoch, "epochs_run": len(hist), "stopped_early": res.stopped_early,
                   "epochs_to_converge": epochs_to_converge(hist), "strategy": cfg.strategy,
                   "init": {"name": init, "sha256": source["sha256"] if source else None},
                   "params": count_params(model), "n_train_labelled": len(train), "train_seconds": round(train_s, 2),
                   "windows_per_s": round(sum(h["windows_per_s"] for h in hist) / max(len(hist), 1), 1),
                   "seconds": round(seconds, 2), "threads": cfg.fit.num_threads}
        atomic_write_json(out / "metrics.json", metrics)
        log(f"finetune: test {_fmt(metrics)} (best epoch {res.best_epoch}/{len(hist)}, {seconds:.0f} s) -> "
            f"{out / 'teacher.safetensors'}")
    return TransferResult(res.checkpoint, metrics, res, seconds)


# ---------------------------------------------------------------- pretrain

def split_real(real: Windows, val_frac: float = 0.2) -> tuple[Windows, Windows]:
    """Per recording: the first (1 - val_frac) of its windows train, the rest validate (time-ordered)."""
    tr, va = [], []
    for r in np.unique(real.record_id):
        idx = np.flatnonzero(real.record_id == r)
        cut = int(round(len(idx) * (1 - val_frac)))
        tr.append(idx[:cut])
        va.append(idx[cut:])
    return real.subset(np.concatenate(tr)), real.subset(np.concatenate(va))


def pretrain(cfg: PretrainConfig, data_dir: str | Path | None, out: str | Path, *, data_cfg: DataConfig | None = None,
             log: Callable[[str], None] = print, progress: bool = True, name: str = "ecg") -> TransferResult:
    """Supervised rhythm + HR + RR on synthetic ECG (+ HR-only real ECG from the catalog) -> out/<name>.safetensors."""
    from edgeppg.train.checkpoint import save_checkpoint

    t0 = time.perf_counter()
    data_cfg = data_cfg or DataConfig()
    out = Path(out)
    rank, _ = setup_distributed()
    log = log if rank == 0 else (lambda *_a, **_k: None)
    splits = load_splits(ensure_corpus(data_dir, data_cfg, out, log), data_cfg, "ecg", cfg.input_fs_hz)
    train, real_val = splits.train, None
    real_info = {"used": False}
    if data_cfg.use_real:
        from edgeppg.data.catalog import real_ecg_windows

        real = real_ecg_windows(cfg.input_fs_hz, data_cfg.window_s)
        if real is not None and len(real) >= 10 and real.samples == train.samples:
            real_tr, real_val = split_real(real)
            # real windows teach HR only: rhythm unknown (-1), no breathing label
            real_tr = dataclasses.replace(real_tr, rhythm=np.full(len(real_tr), -1), rr_bpm=np.full(len(real_tr), np.nan))
            train = Windows.concat([train, dataclasses.replace(real_tr, modality="ecg", normalised=True)])
            real_info = {"used": True, "recordings": real.meta.get("recordings"), "n_train": len(real_tr),
                         "n_val": len(real_val)}
        else:
            real_info = {"used": False, "why": "no real ECG recordings installed (make setup installs requirements-real.txt)"}
    heads = DEFAULT_HEADS
    torch.manual_seed(cfg.fit.seed)
    model = ResNet1d(resnet_config(cfg.model, width=cfg.width, fs_hz=cfg.input_fs_hz, samples=splits.train.samples))
    log(f"pretrain: {cfg.model} width {cfg.width} ({count_params(model)} params) on {len(splits.train)} synthetic "
        f"ECG windows{' + %d real (HR only)' % real_info['n_train'] if real_info['used'] else ''} at {cfg.input_fs_hz:g} Hz")
    objective = SupervisedObjective(heads, balance=cfg.loss_balance)
    fit_cfg = dataclasses.replace(cfg.fit, progress=cfg.fit.progress and progress)
    test_metrics: dict = {}
    data_info = dict(splits.info, real_ecg=real_info)

    def save(path: Path, m: nn.Module, info: dict) -> Path:
        test_metrics.update(_pick(evaluate_windows(m, heads, splits.test)))
        if real_val is not None and len(real_val):
            test_metrics["real_ecg_hr_mae_bpm"] = evaluate_windows(m, heads, real_val)["hr_mae_bpm"]
        return save_checkpoint(out / f"{name}.safetensors", m, train_config=to_dict(cfg), metrics=test_metrics,
                               input_spec=input_spec(m.cfg, "ecg"),
                               extra={"data": data_info, "task": "supervised rhythm + HR + RR (synthetic ECG); "
                                      "HR (real ECG, auto-labelled)", "best_epoch": info["best_epoch"]})

    res = fit(model, objective, train_arrays(train, heads), fit_cfg, out / "fit",
              evaluate=lambda m: evaluate_windows(m, heads, splits.val), save_fn=save)
    seconds = time.perf_counter() - t0
    metrics: dict = {}
    if rank == 0:
        hist = res.history
        metrics = {**test_metrics, "split": "test", "n_test": len(splits.test), "best_epoch": res.best_epoch,
                   "epochs_run": len(hist), "params": count_params(model), "data": data_info,
                   "train_seconds": round(sum(h["train_seconds"] for h in hist), 2), "seconds": round(seconds, 2),
                   "windows_per_s": round(sum(h["windows_per_s"] for h in hist) / max(len(hist), 1), 1)}
        atomic_write_json(out / "metrics.json", metrics)
        log(f"pretrain: ECG test {_fmt(test_metrics)} ({seconds:.0f} s) -> {out / (name + '.safetensors')}")
    return TransferResult(res.checkpoint, metrics, res, seconds)
