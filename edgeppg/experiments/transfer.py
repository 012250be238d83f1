"""`edgeppg experiment transfer`: ECG-pretrained vs scratch on PPG at several label budgets x seeds.

Both arms use the same architecture, data split, labelled subset (per seed), epochs (no early stopping, so
both run every epoch; each ends on its best validation epoch) and schedule. Writes
  OUT/transfer.json  every run + mean/std per (arm, budget) + the gap + the literature-shape checks
  OUT/transfer.md    the table
  OUT/transfer.png   test macro-F1 and HR MAE vs label budget (mean +- std over seeds)
  OUT/runs/<arm>_n<budget>_s<seed>/  each run's teacher checkpoint, history and metrics
Finished runs are reused (their metrics.json), so an interrupted experiment continues where it stopped.

The literature's shape (Weimann & Conrad 2021; Strodthoff et al.): pretraining helps most with few labels —
here checked as a gap >= 0.05 macro-F1 at every budget <= 300, a smaller gap at the largest budget, and the
pretrained arm reaching the paired scratch run's best validation score in fewer epochs.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from edgeppg.config import DataConfig, FinetuneConfig
from edgeppg.errors import EdgePPGError
from edgeppg.io import atomic_path, atomic_write_json, atomic_write_text
from edgeppg.train.data import stratified_subset
from edgeppg.train.transfer import ensure_corpus, feature_extractor, finetune, load_splits

DEFAULT_BUDGETS = (100, 300, 1000, 3000)
METRICS = ("rhythm_macro_f1", "hr_mae_bpm", "rr_mae_bpm", "epochs_to_converge", "best_epoch")
SMALL_BUDGET, MIN_GAIN = 300, 0.05


@dataclass
class TransferExperimentResult:
    json_path: Path
    md_path: Path
    png_path: Path
    table: dict[str, Any]


def _mean_std(vals: list) -> dict:
    v = np.asarray([x for x in vals if x is not None and math.isfinite(x)], np.float64)
    if v.size == 0:
        return {"mean": None, "std": None, "n": 0}
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if v.size > 1 else 0.0, "n": int(v.size)}


def transfer_experiment(cfg: FinetuneConfig, data_dir: str | Path | None, out: str | Path, *,
                        budgets=DEFAULT_BUDGETS, seeds=(0, 1, 2), init: str | None = None,
                        data_cfg: DataConfig | None = None, val_windows: int | None = 600,
                        log: Callable[[str], None] = print) -> TransferExperimentResult:
    """Run every (budget, seed, arm) fine-tune and write the table, markdown and plot (module docstring)."""
    t0 = time.perf_counter()
    out = Path(out)
    data_cfg = data_cfg or DataConfig()
    init = init or cfg.init
    budgets = sorted({int(b) for b in budgets})
    seeds = tuple(int(s) for s in seeds)
    if not budgets or budgets[0] < 1:
        raise EdgePPGError(f"label budgets must be positive integers, got {budgets}")
    if not seeds:
        raise EdgePPGError("need at least one seed, e.g. --seeds 0,1,2")
    if init == "scratch":
        raise EdgePPGError("the transfer experiment compares a pretrained --init with scratch; pass a checkpoint")
    arm_strategy = cfg.strategy if cfg.strategy != "scratch" else "discriminative"
    backbone = feature_extractor(init)  # a bad checkpoint fails before any data or training
    splits = load_splits(ensure_corpus(data_dir, data_cfg, out, log), data_cfg, "ppg", backbone.cfg.fs_hz)
    if val_windows and len(splits.val) > val_windows:
        # a fixed, stratified validation subset: same for every run, and cheaper per epoch
        splits = dataclasses.replace(splits, val=splits.val.subset(stratified_subset(splits.val.rhythm, val_windows, 12345)))
    n_train = len(splits.train)
    skipped = [b for b in budgets if b > n_train]
    budgets = [b for b in budgets if b <= n_train]
    if not budgets:
        raise EdgePPGError(f"every label budget exceeds the {n_train} training windows; use a larger corpus")
    fit_cfg = dataclasses.replace(cfg.fit, patience=0, progress=False)  # same epochs for both arms
    init_sha = backbone.source["sha256"]
    log(f"transfer: budgets {budgets} x seeds {list(seeds)} x (pretrained:{arm_strategy}, scratch), "
        f"{fit_cfg.epochs} epochs, {n_train} train / {len(splits.val)} val / {len(splits.test)} test PPG windows")

    runs = []
    for s in seeds:  # seed-major: an interrupted run already holds complete seeds (and is resumed)
        for b in budgets:
            for arm, strategy in (("pretrained", arm_strategy), ("scratch", "scratch")):
                rdir = out / "runs" / f"{arm}_n{b}_s{s}"
                mpath = rdir / "metrics.json"
                rc = dataclasses.replace(cfg, strategy=strategy, labels=b, label_seed=s,
                                         fit=dataclasses.replace(fit_cfg, seed=s))
                if _finished_same(rdir, rc, splits.info["corpus_sha256"], init_sha):
                    m = json.loads(mpath.read_text())
                else:
                    if rdir.exists():  # a run with another config or data: redo it, never mix results
                        shutil.rmtree(rdir)
                    m = finetune(rc, None, rdir, init=init, data_cfg=data_cfg, log=lambda *_: None, progress=False,
                                 splits=splits).metrics
                    for f in ("last.safetensors", "last.json"):  # the resume state is not needed once finished
                        (rdir / "fit" / f).unlink(missing_ok=True)
                hist = json.loads((rdir / "fit" / "history.json").read_text())
                row = {"arm": arm, "strategy": strategy, "budget": b, "seed": s,
                       **{k: m.get(k) for k in METRICS}, "train_seconds": m.get("train_seconds"),
                       "val_curve": [h.get("val_score") for h in hist]}
                runs.append(row)
                log(f"  {arm:10s} n={b:5d} seed {s}: F1 {row['rhythm_macro_f1']:.3f} HR MAE {row['hr_mae_bpm']:.2f} "
                    f"converged @ epoch {row['epochs_to_converge']} ({row['train_seconds']:.0f} s)")

    summary, gaps = [], []
    for b in budgets:
        per_arm = {}
        for arm in ("pretrained", "scratch"):
            rs = [r for r in runs if r["arm"] == arm and r["budget"] == b]
            per_arm[arm] = {k: _mean_std([r[k] for r in rs]) for k in METRICS}
            summary.append({"arm": arm, "budget": b, **per_arm[arm]})
        # gap per seed (paired: same labelled subset and seed), then mean/std
        pair = {s: {r["arm"]: r for r in runs if r["budget"] == b and r["seed"] == s} for s in seeds}
        d_f1 = [p["pretrained"]["rhythm_macro_f1"] - p["scratch"]["rhythm_macro_f1"] for p in pair.values()]
        d_hr = [p["scratch"]["hr_mae_bpm"] - p["pretrained"]["hr_mae_bpm"] for p in pair.values()]
        match = [_epochs_to_reach(p["pretrained"]["val_curve"], max(_finite(p["scratch"]["val_curve"]), default=None))
                 for p in pair.values()]
        gaps.append({"budget": b, "f1_gain": _mean_std(d_f1), "hr_mae_gain_bpm": _mean_std(d_hr),
                     "seeds_pretrained_better_f1": int(sum(d > 0 for d in d_f1)),
                     "pretrained_epochs_to_scratch_best": _mean_std(match),
                     "scratch_best_epoch": _mean_std([p["scratch"]["best_epoch"] for p in pair.values()])})
    small = [g for g in gaps if g["budget"] <= SMALL_BUDGET]
    checks = {
        f"gain_ge_{MIN_GAIN}_at_le_{SMALL_BUDGET}_labels": bool(small) and all(
            (g["f1_gain"]["mean"] or -1) >= MIN_GAIN for g in small),
        "gap_narrows_with_labels": len(gaps) >= 2 and (gaps[-1]["f1_gain"]["mean"] or 0) < (gaps[0]["f1_gain"]["mean"] or 0),
        # one-cycle LR makes every run peak near its last epoch, so "sooner" = the pretrained run reaches the
        # paired scratch run's best validation score in fewer epochs than scratch needed for it
        "pretrained_reaches_scratch_best_sooner": all(
            g["pretrained_epochs_to_scratch_best"]["mean"] is not None
            and g["pretrained_epochs_to_scratch_best"]["mean"] <= g["scratch_best_epoch"]["mean"] for g in gaps),
    }
    table = {"schema": "edgeppg.transfer/1", "init": {"name": init, "sha256": backbone.source["sha256"]},
             "pretrained_strategy": arm_strategy, "epochs": fit_cfg.epochs, "seeds": list(seeds), "budgets": budgets,
             "skipped_budgets": skipped, "data": dict(splits.info, n_val_used=len(splits.val)),
             "finetune_config": dataclasses.asdict(cfg), "runs": runs, "summary": summary, "gaps": gaps,
             "checks": checks, "seconds": round(time.perf_counter() - t0, 1)}
    jp, mp, pp = out / "transfer.json", out / "transfer.md", out / "transfer.png"
    atomic_write_json(jp, table)
    atomic_write_text(mp, _markdown(table))
    _plot(table, pp)
    gain_txt = " | ".join("n=%d: %+.3f F1" % (g["budget"], g["f1_gain"]["mean"]) for g in gaps)
    log(f"transfer: {gain_txt}; checks {checks}")
    return TransferExperimentResult(jp, mp, pp, table)


def _finished_same(rdir: Path, rc: FinetuneConfig, corpus_sha: str, init_sha: str) -> bool:
    """A finished run is reused only when its config, corpus and (for the pretrained arm) init match."""
    from edgeppg.io import to_jsonable

    try:
        meta = json.loads((rdir / "teacher.json").read_text())
        json.loads((rdir / "metrics.json").read_text())
    except (OSError, json.JSONDecodeError):
        return False
    same_init = (meta.get("init") or {}).get("sha256") == init_sha  # scratch too: it takes the init's architecture
    return (meta.get("train_config") == to_jsonable(dataclasses.asdict(rc))
            and (meta.get("data") or {}).get("corpus_sha256") == corpus_sha and same_init)


def _finite(vals) -> list[float]:
    return [v for v in vals if v is not None and math.isfinite(v)]


def _epochs_to_reach(curve: list, target: float | None) -> int | None:
    """First epoch whose validation score reaches `target` (None: never, or no target)."""
    if target is None:
        return None
    return next((i + 1 for i, v in enumerate(curve) if v is not None and v >= target), None)


def _fmt(ms: dict, digits: int = 3) -> str:
    if ms["mean"] is None:
        return "n/a"
    return f"{ms['mean']:.{digits}f} ± {ms['std']:.{digits}f}"


def _markdown(t: dict) -> str:
    lines = [f"# Transfer: ECG-pretrained ({t['pretrained_strategy']}) vs scratch on PPG",
             "",
             f"init `{t['init']['name']}` (sha256 {t['init']['sha256'][:12]}…), {t['epochs']} epochs for both arms, "
             f"seeds {t['seeds']} (each seed: its own stratified labelled subset and init), held-out test split of "
             f"{t['data']['n_test']} PPG windows. Mean ± std over seeds.",
             "",
             "| labels | arm | rhythm macro-F1 | HR MAE (BPM) | RR MAE | epochs to converge |",
             "|---:|---|---:|---:|---:|---:|"]
    for s in t["summary"]:
        lines.append(f"| {s['budget']} | {s['arm']} | {_fmt(s['rhythm_macro_f1'])} | {_fmt(s['hr_mae_bpm'], 2)} | "
                     f"{_fmt(s['rr_mae_bpm'], 2)} | {_fmt(s['epochs_to_converge'], 1)} |")
    lines += ["", "| labels | macro-F1 gain (pretrained − scratch) | HR MAE gain (BPM) | seeds where pretrained wins | "
              "pretrained: epochs to scratch's best val | scratch: best epoch |",
              "|---:|---:|---:|---:|---:|---:|"]
    for g in t["gaps"]:
        lines.append(f"| {g['budget']} | {_fmt(g['f1_gain'])} | {_fmt(g['hr_mae_gain_bpm'], 2)} | "
                     f"{g['seeds_pretrained_better_f1']}/{len(t['seeds'])} | {_fmt(g['pretrained_epochs_to_scratch_best'], 1)} | "
                     f"{_fmt(g['scratch_best_epoch'], 1)} |")
    lines += ["", "Checks (the literature's shape): " + ", ".join(f"{k}: **{'yes' if v else 'NO'}**"
                                                                  for k, v in t["checks"].items()),
              "", "Epochs to converge = first epoch whose validation score is within 0.02 of that run's best. "
              "Epochs to scratch's best = first epoch at which the pretrained run's validation score reaches the best "
              "the paired scratch run ever reached (mean over the seeds where it does).", ""]
    return "\n".join(lines)


def _plot(t: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for arm, color in (("pretrained", "tab:blue"), ("scratch", "tab:orange")):
        rows = [s for s in t["summary"] if s["arm"] == arm]
        x = [r["budget"] for r in rows]
        for ax, key, label in ((axes[0], "rhythm_macro_f1", "rhythm macro-F1 (test)"), (axes[1], "hr_mae_bpm", "HR MAE, BPM (test)")):
            m = np.array([r[key]["mean"] if r[key]["mean"] is not None else np.nan for r in rows])
            s = np.array([r[key]["std"] if r[key]["std"] is not None else np.nan for r in rows])
            ax.errorbar(x, m, yerr=s, marker="o", capsize=3, color=color,
                        label=f"{arm} ({t['pretrained_strategy']})" if arm == "pretrained" else arm)
            ax.fill_between(x, m - s, m + s, color=color, alpha=0.15)
            ax.set_xscale("log")
            ax.set_xlabel("labelled PPG windows")
            ax.set_ylabel(label)
            ax.grid(True, alpha=0.3)
    axes[0].legend()
    fig.suptitle(f"ECG pretraining vs scratch ({t['epochs']} epochs, {len(t['seeds'])} seeds, mean ± std)")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
