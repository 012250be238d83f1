"""`edgeppg distill` as a library call: teacher checkpoint + PPG corpus -> student checkpoint + metrics.json.

    result = distill(cfg.distill, "runs/demo/teacher.safetensors", "runs/demo/data", "runs/demo/distill",
                     data_cfg=cfg.data)

Steps: load + check the teacher against the data's input spec -> split the corpus by record (the same
split the teacher used when its sidecar names one) -> teacher outputs once per training window (cached)
-> per seed, the student trained with KD and, with the same spec, steps and schedule, without the teacher
(`student_no_kd`) -> everything evaluated on the same held-out test windows -> DIR/student.safetensors
(parent_sha256 = teacher's, `data` names corpus/split/test ids so export can rebuild the test set) and
DIR/metrics.json. Training itself is `edgeppg.train.fit.fit` with the objectives in `edgeppg.train.kd`.

Label budget (`cfg.labels`): the student may use the labels of only that many training windows (stratified);
the other training windows - and `cfg.unlabelled` extra synthetic windows - are "teacher-only": KD learns
from the teacher's outputs there, the no-KD baseline cannot use them (the wearable case of "a little
labelled PPG, plenty of unlabelled PPG").
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from edgeppg.config import DataConfig, DistillConfig
from edgeppg.data.windows import Windows
from edgeppg.errors import EdgePPGError, unknown_name
from edgeppg.io import atomic_write_json
from edgeppg.preprocess import Preprocessing, from_input_spec
from edgeppg.preprocess import apply as apply_preprocessing
from edgeppg.models.heads import HeadSpec, hr_bins_head
from edgeppg.models.student import StudentSpec, build_student, student_spec
from edgeppg.train.kd import DistillObjective, cached_teacher_outputs, model_heads

HR_MODES = ("regression", "bins")
METRIC_KEYS = ("rhythm_macro_f1", "hr_mae_bpm", "rr_mae_bpm", "rhythm_accuracy")


# ---------------------------------------------------------------- data

@dataclass
class DistillData:
    train: Windows
    val: Windows
    test: Windows
    unlabelled: Windows | None
    info: dict[str, Any]  # what the student sidecar records as "data"


def ids_sha256(ids: np.ndarray) -> str:
    """Hash of a window-id set (order-free): lets export prove it rebuilt the same test windows."""
    return hashlib.sha256(np.sort(np.asarray(ids, dtype="<i8")).tobytes()).hexdigest()


def synthesize_corpus(data_cfg: DataConfig, out_dir: Path) -> Path:
    """Seeded synthetic corpus from DataConfig into out_dir (reused when already there)."""
    from edgeppg.data.corpus import build_corpus

    if not (out_dir / "corpus.json").is_file():
        build_corpus(out_dir, data_cfg.n_windows, data_cfg.seed, window_s=data_cfg.window_s,
                     fs_ecg=data_cfg.fs_ecg_hz, fs_ppg=data_cfg.fs_ppg_hz, sensor_domain=data_cfg.sensor_domain)
    return out_dir


def load_data(data_dir: Path, data_cfg: DataConfig, split_seed: int, fs_hz: float, *, unlabelled: int = 0,
              unlabelled_seed: int = 0, pre: Preprocessing | None = None) -> DistillData:
    """Preprocessed PPG splits (+ optional teacher-only synthetic windows) from a corpus directory.

    `pre`: the teacher's input preprocessing (its sidecar), so teacher and student see the same windows."""
    from edgeppg.data.splits import SplitSpec, load_split
    from edgeppg.data.synth import synth_pairs

    pre = pre or Preprocessing.from_json(None, fs_hz=fs_hz, window_s=data_cfg.window_s)
    if float(pre.fs_hz) != float(fs_hz):  # check_input_spec then names the teacher/data rate mismatch
        pre = pre.replace(fs_hz=float(fs_hz))

    s = load_split(data_dir, "ppg", SplitSpec.from_config(data_cfg, seed=split_seed),
                   transform=lambda ppg: apply_preprocessing(ppg, pre))
    extra = None
    if unlabelled > 0:
        _, xp = synth_pairs(unlabelled, unlabelled_seed, window_s=s.train.window_s, fs_ppg=data_cfg.fs_ppg_hz,
                            sensor_domain=data_cfg.sensor_domain)
        extra = apply_preprocessing(xp, pre)
    info = {"corpus_dir": s.source["corpus_dir"], "corpus_sha256": s.source["corpus_sha256"], "split_seed": int(split_seed),
            "val_frac": data_cfg.val_frac, "test_frac": data_cfg.test_frac, "fs_hz": float(fs_hz),
            "window_s": float(s.train.window_s), "channels": s.train.channels, "preprocessing": pre.to_json(),
            "n_train": len(s.train), "n_val": len(s.val), "n_test": len(s.test),
            "test_window_ids_sha256": ids_sha256(s.test.window_id),
            "unlabelled": {"n": unlabelled, "seed": unlabelled_seed} if unlabelled else None}
    return DistillData(s.train, s.val, s.test, extra, info)


def teacher_input_spec(meta: dict, model: nn.Module) -> dict[str, float]:
    """fs/window/channels the teacher was trained on: its sidecar's input spec, else its model config."""
    spec = dict(meta.get("input") or {})
    cfg = meta.get("model_config") or {}
    if "fs_hz" not in spec and "fs_hz" in cfg:
        spec["fs_hz"] = cfg["fs_hz"]
    if "window_s" not in spec and "samples" in cfg and "fs_hz" in cfg:
        spec["window_s"] = cfg["samples"] / cfg["fs_hz"]
    if "channels" not in spec and "in_channels" in cfg:
        spec["channels"] = cfg["in_channels"]
    return spec


def check_input_spec(teacher: dict[str, float], data: Windows, teacher_path: Path) -> None:
    """The teacher must see what it was trained on: same rate, window length and channels as the data."""
    have = {"fs_hz": float(data.fs_hz), "window_s": float(data.window_s), "channels": data.channels}
    bad = [f"{k} {teacher[k]} (teacher) != {have[k]} (data)" for k in have
           if k in teacher and not math.isclose(float(teacher[k]), float(have[k]), rel_tol=1e-6)]
    if bad:
        raise EdgePPGError(f"teacher {teacher_path} does not match the data: {'; '.join(bad)}; "
                           f"distill with data at the teacher's input spec or fine-tune a teacher on this data")


def mask_labels(w: Windows, keep: np.ndarray) -> Windows:
    """Same windows, labels hidden outside `keep` (rhythm -1, HR/RR invalid): teacher-only windows."""
    lab = np.zeros(len(w), bool)
    lab[keep] = True
    return dataclasses.replace(w, rhythm=np.where(lab, w.rhythm, -1), hr_valid=w.hr_valid & lab, meta=dict(w.meta))


# ---------------------------------------------------------------- training one student

def student_heads(teacher_heads: tuple[HeadSpec, ...], hr_mode: str) -> tuple[HeadSpec, ...]:
    """The student predicts the teacher's heads; hr_mode "bins" swaps the HR head for binned classification."""
    if hr_mode not in HR_MODES:
        raise unknown_name("hr_mode", hr_mode, HR_MODES)
    return tuple(hr_bins_head() if (h.name == "hr" and hr_mode == "bins") else h for h in teacher_heads)


def make_student_spec(cfg: DistillConfig, teacher_heads, data: Windows, name: str | None = None) -> StudentSpec:
    return student_spec(name or cfg.student, heads=student_heads(teacher_heads, cfg.hr_mode),
                        in_channels=data.channels, samples=data.samples, fs_hz=float(data.fs_hz))


def kd_arrays(data: DistillData, heads, labelled_idx: np.ndarray, t_out: dict[str, np.ndarray],
              with_feat: bool) -> dict[str, np.ndarray]:
    """fit() arrays for KD: train windows (labels only at labelled_idx) + teacher-only extras + t_* arrays."""
    from edgeppg.train.predict import train_arrays

    parts = [mask_labels(data.train, labelled_idx)]
    if data.unlabelled is not None:
        parts.append(mask_labels(data.unlabelled, np.zeros(0, np.int64)))
    w = Windows.concat(parts) if len(parts) > 1 else parts[0]
    arrays = train_arrays(w, heads)
    lab = np.zeros(len(w), bool)
    lab[labelled_idx] = True
    arrays["labelled"] = lab
    arrays.update({k: v for k, v in t_out.items() if with_feat or k != "t_feat"})
    return arrays


def supervised_arrays(data: DistillData, heads, labelled_idx: np.ndarray, n_rows: int) -> dict[str, np.ndarray]:
    """fit() arrays for no-KD: the labelled windows only, tiled to n_rows so both runs take the same steps."""
    from edgeppg.train.predict import train_arrays

    arrays = train_arrays(data.train.subset(labelled_idx), heads)
    reps = np.resize(np.arange(len(labelled_idx)), max(n_rows, len(labelled_idx)))
    return {k: v[reps] for k, v in arrays.items()}


@dataclass
class StudentRun:
    seed: int
    kd: bool
    model: nn.Module
    test: dict[str, float]
    val: dict[str, float]
    best_epoch: int
    seconds: float


def train_student(spec: StudentSpec, arrays: dict[str, np.ndarray], data: DistillData, cfg: DistillConfig, *,
                  seed: int, kd: bool, run_dir: Path, hint_stats=None, teacher_features: int = 0,
                  progress: bool = True) -> StudentRun:
    """One student through fit(): KD objective, or the supervised objective (same balance) without a teacher."""
    from edgeppg.train.fit import fit
    from edgeppg.train.objectives import SupervisedObjective
    from edgeppg.train.predict import evaluate_windows

    torch.manual_seed(seed)  # the student's init is part of what a seed varies
    model = build_student(spec)
    if kd:
        objective = DistillObjective(spec.heads, temperature=cfg.temperature, alpha=cfg.alpha, hr_alpha=cfg.hr_alpha,
                                     hr_sigma_bpm=cfg.hr_sigma_bpm, hint_weight=cfg.hint_weight,
                                     student_features=spec.features, teacher_features=teacher_features,
                                     hint_stats=hint_stats, balance=cfg.loss_balance, seed=seed)
    else:
        objective = SupervisedObjective(spec.heads, balance=cfg.loss_balance)
    fit_cfg = dataclasses.replace(cfg.fit, seed=seed, progress=progress and cfg.fit.progress)
    t0 = time.perf_counter()
    res = fit(model, objective, arrays, fit_cfg, run_dir, evaluate=lambda m: evaluate_windows(m, spec.heads, data.val))
    seconds = time.perf_counter() - t0
    model.eval()
    test = evaluate_windows(model, spec.heads, data.test)
    val = next((h for h in res.history if h["epoch"] == res.best_epoch), {})
    return StudentRun(seed, kd, model, _pick(test), _pick(val) | {"val_score": val.get("val_score")},
                      res.best_epoch, round(seconds, 2))


# ---------------------------------------------------------------- the library call

@dataclass
class DistillResult:
    out: Path
    student_path: Path
    metrics_path: Path
    metrics: dict[str, Any]


@dataclass
class Prepared:
    """Everything a sweep shares across student presets: teacher, data, labelled subset, teacher outputs."""

    teacher: Any  # edgeppg.train.checkpoint.Checkpoint
    teacher_heads: tuple[HeadSpec, ...]
    data: DistillData
    labelled_idx: np.ndarray
    t_out: dict[str, np.ndarray]
    teacher_test: dict[str, float]
    cache_info: dict
    seconds: dict[str, float]


def prepare(cfg: DistillConfig, teacher_path: str | Path, data_dir: str | Path | None, out: Path,
            data_cfg: DataConfig, log: Callable[[str], None] = print) -> Prepared:
    """Load/check teacher and data, pick the labelled subset, compute (or fetch) the teacher's outputs once."""
    from edgeppg.models.registry import resolve_pretrained
    from edgeppg.train.checkpoint import load_checkpoint
    from edgeppg.train.data import stratified_subset
    from edgeppg.train.predict import evaluate_windows

    t0 = time.perf_counter()
    teacher = load_checkpoint(resolve_pretrained(str(teacher_path)))
    heads = model_heads(teacher.model)
    student_spec(cfg.student)  # an unknown preset fails before any data work
    student_heads(heads, cfg.hr_mode)
    tspec = teacher_input_spec(teacher.meta, teacher.model)
    tdata = (teacher.meta.get("data") or {})
    # reuse the teacher's split (seed and fractions from its sidecar): its test windows stay unseen by both
    split_seed = int(tdata.get("split_seed", data_cfg.seed))
    data_cfg = dataclasses.replace(data_cfg, val_frac=float(tdata.get("val_frac", data_cfg.val_frac)),
                                   test_frac=float(tdata.get("test_frac", data_cfg.test_frac)))
    if data_dir is None:
        data_dir = synthesize_corpus(data_cfg, out / "data")
        log(f"synthesised {data_cfg.n_windows} windows (seed {data_cfg.seed}) into {data_dir}")
    data_dir = Path(data_dir)
    fs = float(data_cfg.fs_ppg_hz)  # the configured model input rate; a teacher at another rate is an error
    data = load_data(data_dir, data_cfg, split_seed, fs, unlabelled=cfg.unlabelled, unlabelled_seed=cfg.unlabelled_seed,
                     pre=from_input_spec(teacher.meta.get("input")))
    check_input_spec(tspec, data.train, Path(teacher_path))
    if tdata.get("corpus_sha256") and tdata["corpus_sha256"] != data.info["corpus_sha256"]:
        data.info["teacher_corpus_differs"] = True  # noted in metrics: the teacher's test set is not this one
    # labels unset: the student may use exactly the windows the teacher was fine-tuned on (same budget, seed)
    labels, label_seed = cfg.labels, cfg.label_seed
    if labels is None and tdata.get("labels") is not None:
        labels, label_seed = int(tdata["labels"]), int(tdata.get("label_seed", cfg.label_seed))
    labelled_idx = stratified_subset(data.train.rhythm, labels, label_seed)
    if len(labelled_idx) < 2:
        raise EdgePPGError(f"distill.labels={labels} leaves {len(labelled_idx)} labelled training windows; need >= 2")
    data.info.update(labels=labels, label_seed=label_seed, n_train_labelled=int(len(labelled_idx)))
    t_load = time.perf_counter() - t0

    t0 = time.perf_counter()
    x = data.train.x if data.unlabelled is None else np.concatenate([data.train.x, data.unlabelled.x])
    cache_dir = Path(cfg.cache_dir) if cfg.cache_dir else None
    t_out, cache_info = cached_teacher_outputs(teacher.model, teacher.sha256, x, cache_dir)
    teacher_test = _pick(evaluate_windows(teacher.model, heads, data.test))
    t_teacher = time.perf_counter() - t0
    log(f"teacher outputs for {len(x)} windows ({cache_info['source']}); teacher test {_fmt(teacher_test)}")
    return Prepared(teacher, heads, data, labelled_idx, t_out, teacher_test, cache_info,
                    {"load": round(t_load, 2), "teacher_outputs_and_eval": round(t_teacher, 2)})


def run_preset(prep: Prepared, cfg: DistillConfig, spec: StudentSpec, seeds, runs_dir: Path, *, with_no_kd: bool = True,
               log: Callable[[str], None] = print, progress: bool = True) -> list[tuple[StudentRun, StudentRun | None]]:
    """KD (and no-KD) students of one spec for each seed.

    Run folders carry a hash of everything that shapes training besides fit's own fingerprint (objective
    knobs, label budget, data), so re-running with other KD settings never resumes a stale run.
    """
    with_feat = cfg.hint_weight > 0
    tag = run_tag(cfg, prep)
    kd_tr = kd_arrays(prep.data, spec.heads, prep.labelled_idx, prep.t_out, with_feat)
    n_rows = len(kd_tr["x"])
    sup_tr = supervised_arrays(prep.data, spec.heads, prep.labelled_idx, n_rows) if with_no_kd else None
    feat = prep.t_out["t_feat"]
    stats = (feat.mean(axis=0), feat.std(axis=0)) if with_feat else None
    out = []
    for seed in seeds:
        kd = train_student(spec, kd_tr, prep.data, cfg, seed=seed, kd=True, run_dir=runs_dir / f"{spec.name}_seed{seed}_kd_{tag}",
                           hint_stats=stats, teacher_features=feat.shape[1], progress=progress)
        log(f"{spec.name} seed {seed} KD    test {_fmt(kd.test)} ({kd.seconds:.0f} s)")
        base = None
        if with_no_kd:
            base = train_student(spec, sup_tr, prep.data, cfg, seed=seed, kd=False,
                                 run_dir=runs_dir / f"{spec.name}_seed{seed}_nokd_{tag}", progress=progress)
            log(f"{spec.name} seed {seed} no-KD test {_fmt(base.test)} ({base.seconds:.0f} s)")
        out.append((kd, base))
    return out


def run_tag(cfg: DistillConfig, prep: Prepared) -> str:
    knobs = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in ("seeds", "cache_dir", "fit", "student")}
    key = json.dumps({"cfg": knobs, "teacher": prep.teacher.sha256, "data": prep.data.info}, sort_keys=True, default=str)
    return hashlib.sha256(key.encode()).hexdigest()[:10]


def distill(cfg: DistillConfig, teacher_path: str | Path, data_dir: str | Path | None, out: str | Path, *,
            data_cfg: DataConfig | None = None, log: Callable[[str], None] = print,
            progress: bool = True) -> DistillResult:
    """Distil `teacher_path` into cfg.student on the corpus at data_dir (None: synthesise it into out/data)."""
    from edgeppg.train.checkpoint import save_checkpoint

    out = Path(out)
    data_cfg = data_cfg or DataConfig()
    if not cfg.seeds:
        raise EdgePPGError("distill.seeds is empty; give at least one seed (e.g. --seeds 0)")
    t_start = time.perf_counter()
    prep = prepare(cfg, teacher_path, data_dir, out, data_cfg, log)
    spec = make_student_spec(cfg, prep.teacher_heads, prep.data.train)
    t0 = time.perf_counter()
    runs = run_preset(prep, cfg, spec, cfg.seeds, out / "runs", log=log, progress=progress)
    t_train = time.perf_counter() - t0

    best = max((kd for kd, _ in runs), key=lambda r: _score(r.val))  # chosen on validation, never on test
    metrics = summarise(prep, spec, runs, cfg)
    metrics["saved_student"] = {"seed": best.seed, "test": best.test, "val": best.val,
                                "selected_by": "best validation val_score over seeds"}
    metrics["seconds"] = dict(prep.seconds, train_students=round(t_train, 2),
                              total=round(time.perf_counter() - t_start, 2))
    data_info = dict(prep.data.info)
    input_spec = {"fs_hz": data_info["fs_hz"], "window_s": data_info["window_s"], "channels": data_info["channels"],
                  "preprocessing": data_info["preprocessing"]}
    teacher_info = {"path": str(Path(prep.teacher.path).resolve()), "sha256": prep.teacher.sha256,
                    "arch": prep.teacher.arch, "params": metrics["teacher_params"], "test": prep.teacher_test}

    def student_info(run: StudentRun, kd: bool) -> dict:
        return {"preset": spec.name, "seed": run.seed, "params": spec.params(), "macs": spec.macs(), "kd": kd,
                "hr_mode": cfg.hr_mode, "labelled_windows": int(len(prep.labelled_idx))}

    student_path = save_checkpoint(
        out / "student.safetensors", best.model, train_config=dataclasses.asdict(cfg), metrics=best.test,
        parent_sha256=prep.teacher.sha256, input_spec=input_spec,
        extra={"data": data_info, "teacher": teacher_info, "student": student_info(best, True)})
    base = next((b for k, b in runs if k is best), None)
    if base is not None:  # the control, loadable like any checkpoint (predict/eval compare it on real PPG)
        metrics["student_no_kd_path"] = str(save_checkpoint(
            out / "student_no_kd.safetensors", base.model, train_config=dataclasses.asdict(cfg), metrics=base.test,
            parent_sha256=None, input_spec=input_spec,
            extra={"data": data_info, "teacher": teacher_info, "student": student_info(base, False)}))
    metrics["student_path"] = str(student_path)
    metrics_path = atomic_write_json(out / "metrics.json", metrics)
    log(f"student {spec.name}: {_fmt(metrics['student'])}; no-KD {_fmt(metrics['student_no_kd'])}; "
        f"teacher {_fmt(metrics['teacher'])} -> {student_path}")
    return DistillResult(out, student_path, metrics_path, metrics)


# ---------------------------------------------------------------- summaries

def _pick(m: dict) -> dict[str, float]:
    return {k: float(m[k]) for k in METRIC_KEYS if k in m and m[k] is not None}


def _score(m: dict) -> float:
    v = m.get("val_score")
    return float(v) if v is not None and math.isfinite(v) else float("-inf")


def _fmt(m: dict) -> str:
    return ", ".join(f"{k} {m[k]:.3f}" for k in ("rhythm_macro_f1", "hr_mae_bpm", "rr_mae_bpm") if k in m)


def mean_std(rows: list[dict[str, float]]) -> tuple[dict[str, float], dict[str, float]]:
    keys = [k for k in METRIC_KEYS if all(k in r for r in rows)]
    mean = {k: float(np.mean([r[k] for r in rows])) for k in keys}
    std = {k: float(np.std([r[k] for r in rows], ddof=1)) if len(rows) > 1 else 0.0 for k in keys}
    return mean, std


def kd_comparison(kd_rows: list[dict], base_rows: list[dict]) -> dict[str, Any]:
    """KD gain per metric (positive = KD better) against the seed-to-seed spread (larger of the two stds)."""
    kd_m, kd_s = mean_std(kd_rows)
    b_m, b_s = mean_std(base_rows)
    out: dict[str, Any] = {"seeds": len(kd_rows)}
    for k, sign in (("rhythm_macro_f1", 1.0), ("hr_mae_bpm", -1.0), ("rr_mae_bpm", -1.0)):
        if k in kd_m and k in b_m:
            gain = sign * (kd_m[k] - b_m[k])
            spread = max(kd_s[k], b_s[k])
            out[k] = {"gain": gain, "spread": spread,
                      "kd_better_beyond_spread": bool(gain > spread) if len(kd_rows) > 1 else None}
    verdicts = [v["kd_better_beyond_spread"] for k, v in out.items() if isinstance(v, dict)]
    out["kd_beats_no_kd"] = any(verdicts) if len(kd_rows) > 1 else None
    return out


def summarise(prep: Prepared, spec: StudentSpec, runs, cfg: DistillConfig) -> dict[str, Any]:
    kd_rows = [kd.test for kd, _ in runs]
    base_rows = [b.test for _, b in runs if b is not None]
    student, student_std = mean_std(kd_rows)
    teacher_params = int(sum(p.numel() for p in prep.teacher.model.parameters()))
    torch_params = int(sum(p.numel() for p in build_student(spec).parameters()))
    m: dict[str, Any] = {
        "teacher": prep.teacher_test, "student": student, "student_std": student_std,
        "teacher_params": teacher_params, "teacher_sha256": prep.teacher.sha256,
        "student_preset": spec.name, "student_params": spec.params(), "student_params_unfolded": torch_params,
        "student_macs": spec.macs(), "param_ratio": round(teacher_params / torch_params, 2),
        "seeds": [kd.seed for kd, _ in runs],
        "per_seed": [{"seed": kd.seed, "student": kd.test, "student_no_kd": b.test if b else None,
                      "best_epoch": {"kd": kd.best_epoch, "no_kd": b.best_epoch if b else None},
                      "seconds": {"kd": kd.seconds, "no_kd": b.seconds if b else None}} for kd, b in runs],
        "labelled_windows": int(len(prep.labelled_idx)), "train_windows": len(prep.data.train),
        "teacher_only_windows": int(len(prep.data.train) - len(prep.labelled_idx)
                                    + (len(prep.data.unlabelled) if prep.data.unlabelled is not None else 0)),
        "test_windows": len(prep.data.test), "data": prep.data.info, "teacher_cache": prep.cache_info,
        "config": dataclasses.asdict(cfg),
    }
    if base_rows:
        m["student_no_kd"], m["student_no_kd_std"] = mean_std(base_rows)
        m["kd_vs_no_kd"] = kd_comparison(kd_rows, base_rows)
    t = prep.teacher_test
    if "hr_mae_bpm" in t and "rhythm_macro_f1" in t:
        m["targets"] = {"hr_mae_within_teacher_plus_1bpm": bool(student["hr_mae_bpm"] <= t["hr_mae_bpm"] + 1.0),
                        "macro_f1_within_teacher_minus_0.03": bool(student["rhythm_macro_f1"] >= t["rhythm_macro_f1"] - 0.03),
                        "params_at_most_20k": spec.params() <= 20_000, "macs_at_most_2M": spec.macs() <= 2_000_000,
                        "ratio_at_least_50x": teacher_params / torch_params >= 50}
    return m
