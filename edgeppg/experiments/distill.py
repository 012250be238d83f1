"""`edgeppg experiment distill`: student size sweep, each preset with and without KD, on one teacher and data.

Writes OUT/distill.json (one row per preset: params, MACs, KD and no-KD test metrics mean/std over seeds,
per-seed numbers, KD gain vs spread) and OUT/distill.png (macro-F1 and HR MAE vs parameters, KD and no-KD
curves, the teacher as a reference line). Teacher outputs are computed once and shared by every preset.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from edgeppg.config import DataConfig, DistillConfig
from edgeppg.errors import EdgePPGError
from edgeppg.io import atomic_path, atomic_write_json
from edgeppg.models.student import STUDENT_PRESETS, student_spec
from edgeppg.train.distill import kd_comparison, make_student_spec, mean_std, prepare, run_preset

DEFAULT_SWEEP = ("s2k", "s4k", "s5k", "s12k", "s25k")


@dataclass
class SweepResult:
    json_path: Path
    png_path: Path
    table: dict[str, Any]


def distill_sweep(cfg: DistillConfig, teacher_path: str | Path, data_dir: str | Path | None, out: str | Path, *,
                  presets=DEFAULT_SWEEP, seeds=None, data_cfg: DataConfig | None = None,
                  log: Callable[[str], None] = print, progress: bool = False) -> SweepResult:
    out = Path(out)
    presets = tuple(presets)
    if not presets:
        raise EdgePPGError("no student presets to sweep; pass e.g. --presets s2k,s4k,s12k")
    for p in presets:
        student_spec(p)  # unknown names fail before any training
    seeds = tuple(seeds if seeds is not None else cfg.seeds)
    if not seeds:
        raise EdgePPGError("no seeds given; pass e.g. --seeds 0,1,2")
    t0 = time.perf_counter()
    prep = prepare(cfg, teacher_path, data_dir, out, data_cfg or DataConfig(), log)
    rows = []
    for name in presets:
        spec = make_student_spec(cfg, prep.teacher_heads, prep.data.train, name)
        runs = run_preset(prep, cfg, spec, seeds, out / "runs", log=log, progress=progress)
        kd_rows, base_rows = [k.test for k, _ in runs], [b.test for _, b in runs]
        kd_m, kd_s = mean_std(kd_rows)
        b_m, b_s = mean_std(base_rows)
        rows.append({"preset": name, "params": spec.params(), "macs": spec.macs(), "kd": kd_m, "kd_std": kd_s,
                     "no_kd": b_m, "no_kd_std": b_s, "kd_vs_no_kd": kd_comparison(kd_rows, base_rows),
                     "per_seed": [{"seed": k.seed, "kd": k.test, "no_kd": b.test} for k, b in runs]})
    teacher_params = int(sum(p.numel() for p in prep.teacher.model.parameters()))
    table = {"teacher": prep.teacher_test, "teacher_params": teacher_params, "teacher_sha256": prep.teacher.sha256,
             "seeds": list(seeds), "rows": rows, "labelled_windows": int(len(prep.labelled_idx)),
             "train_windows": len(prep.data.train), "test_windows": len(prep.data.test), "data": prep.data.info,
             "config": dataclasses.asdict(cfg),
             "seconds": round(time.perf_counter() - t0, 1)}
    json_path = atomic_write_json(out / "distill.json", table)
    png_path = plot_sweep(table, out / "distill.png")
    return SweepResult(json_path, png_path, table)


def plot_sweep(table: dict, path: Path) -> Path:
    """Two panels (macro-F1, HR MAE) against parameters (log x): KD and no-KD with seed std error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = sorted(table["rows"], key=lambda r: r["params"])
    params = [r["params"] for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    for ax, key, label in ((axes[0], "rhythm_macro_f1", "rhythm macro-F1 (higher is better)"),
                           (axes[1], "hr_mae_bpm", "HR MAE, BPM (lower is better)")):
        for arm, style in (("kd", "o-"), ("no_kd", "s--")):
            ys = [r[arm].get(key, float("nan")) for r in rows]
            es = [r[f"{arm}_std"].get(key, 0.0) for r in rows]
            ax.errorbar(params, ys, yerr=es, fmt=style, capsize=3, label="KD" if arm == "kd" else "no KD")
        if key in table["teacher"]:
            ax.axhline(table["teacher"][key], color="grey", ls=":",
                       label=f"teacher ({table['teacher_params'] / 1000:.0f}k params)")
        for r, y in zip(rows, [r["kd"].get(key, float("nan")) for r in rows]):
            ax.annotate(r["preset"], (r["params"], y), textcoords="offset points", xytext=(4, 4), fontsize=8)
        ax.set_xscale("log")
        ax.set_xlabel("student parameters (BN folded)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"Distillation sweep: {len(table['seeds'])} seed(s), {table['labelled_windows']} labelled windows")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return path


def known_presets() -> tuple[str, ...]:
    return tuple(STUDENT_PRESETS)
