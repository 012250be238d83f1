"""Frozen, typed configuration: one loader (TOML/dict -> dataclasses) with strict key and type checks.

Each stage owns one dataclass here; library calls take that dataclass, never a raw dict.
Presets (`smoke`, `default`, `full`) are TOML files in edgeppg/presets/ layered over the dataclass defaults.
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Optional

from edgeppg.errors import EdgePPGError, unknown_name
from edgeppg.names import check_model_name

PRESETS = ("smoke", "default", "full")


@dataclass(frozen=True)
class FitConfig:
    """The one training loop's knobs (pretrain, finetune and distill all use it)."""

    epochs: int = 20
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 1e-4
    schedule: str = "onecycle"  # "onecycle" | "cosine" | "constant"
    warmup_frac: float = 0.1
    patience: int = 5  # early-stopping patience in epochs (0 = off)
    monitor: str = "val_score"  # metric name maximised for early stopping / best checkpoint
    grad_clip: float = 1.0
    seed: int = 0
    num_threads: int = 2
    progress: bool = True


@dataclass(frozen=True)
class DataConfig:
    """The built-in corpus: paired synthetic ECG/PPG plus (optionally) real recordings from the catalog."""

    n_windows: int = 6000  # the default preset uses 12000: generator /2's sensor domain needs more
    seed: int = 1
    window_s: float = 8.0
    fs_ppg_hz: float = 64.0
    fs_ecg_hz: float = 250.0
    val_frac: float = 0.15
    test_frac: float = 0.15
    use_real: bool = True  # add catalog recordings (auto-labelled HR) to ECG pretraining when installed
    sensor_domain: bool = True  # PPG sensor randomisation (rates, ADC, polarity, wander); False = generator /1 PPG


@dataclass(frozen=True)
class PretrainConfig:
    model: str = "resnet18"
    width: int = 16
    input_fs_hz: float = 64.0
    loss_balance: str = "uncertainty"  # "fixed" | "uncertainty"
    fit: FitConfig = field(default_factory=lambda: FitConfig(epochs=8))


@dataclass(frozen=True)
class FinetuneConfig:
    init: str = "ecg-resnet18"  # shipped checkpoint name, a path, or "scratch"
    # probe | partial | discriminative | gradual | full | scratch. "full": ECG->PPG needs the low layers to adapt
    # (z-scored QRS spikes vs smooth pulses); discriminative's 39x smaller stem LR lost the gain at 300 labels
    strategy: str = "full"
    labels: Optional[int] = None  # limit labelled PPG windows (None = all)
    label_seed: int = 0  # which (class-stratified) labelled subset --labels picks
    freeze_stages: int = 2  # for "partial"
    lr_decay: float = 0.4  # per-stage LR factor for "discriminative": stem gets decay**4 (0.4 -> 39x smaller)
    loss_balance: str = "uncertainty"
    model: str = "resnet18"  # architecture when init = "scratch" (a checkpoint init keeps its own)
    width: int = 16
    # model-input band-pass (Hz) before the per-window z-score, written into every checkpoint and export
    # manifest (edgeppg/preprocess.py); () = z-score only. Real wrist PPG rides on wander many times the pulse.
    bandpass_hz: tuple[float, ...] = (0.5, 4.0)
    # PPG teacher (and so student) heads. "rr" is left out: on PPG it predicted about a constant (MAE 4.27
    # breaths/min against 4.22 for always saying the median), so shipping it would show a number that means nothing
    heads: tuple[str, ...] = ("rhythm", "hr")
    fit: FitConfig = field(default_factory=lambda: FitConfig(epochs=10))


@dataclass(frozen=True)
class DistillConfig:
    # s12k: fits the nRF52840 budget (27 KB .tflite, ~9 ms) and reads real PPG far better than s5k (docs/design.md §5)
    student: str = "s12k"
    temperature: float = 4.0
    alpha: float = 0.7  # weight of the soft (teacher) term in the rhythm loss
    hr_mode: str = "regression"  # "regression" | "bins"
    hr_alpha: float = 0.0  # teacher's share of the HR/RR target on labelled windows (teacher-only windows: all); measured best at 0
    hr_sigma_bpm: float = 3.0  # width of the Gaussian soft target over HR bins (hr_mode = "bins")
    hint_weight: float = 0.0
    loss_balance: str = "fixed"
    seeds: tuple[int, ...] = (0,)
    labels: Optional[int] = None  # labelled train windows the student may use (None: the teacher's budget from its sidecar, else all); the rest are teacher-only
    label_seed: int = 0  # which windows keep their labels (stratified, fixed across student seeds)
    unlabelled: int = 0  # extra synthetic PPG windows labelled only by the teacher (default preset: 12000)
    unlabelled_seed: int = 1001  # generator seed for those windows (differs from data.seed: new windows)
    cache_dir: Optional[str] = None  # also keep teacher outputs on disk here (keyed by teacher + data sha256)
    fit: FitConfig = field(default_factory=lambda: FitConfig(epochs=30, lr=5e-3, batch_size=128))


@dataclass(frozen=True)
class ExportConfig:
    calib_windows: int = 256
    calib_seed: int = 0
    opset: int = 17
    qat: bool = False
    allow_degradation: bool = False
    max_hr_mae_increase_bpm: float = 0.3
    max_f1_drop: float = 0.01
    max_onnx_abs_diff: float = 1e-4
    heldout_windows: int = 500  # TEST-split windows scored by every backend and shipped as heldout.npz
    name: str = ""  # model name in the manifest and C symbols ("" = the student preset name)
    qat_steps: int = 300  # quantization-aware fine-tune length when PTQ misses a tolerance and qat = true
    qat_lr: float = 1e-4
    qat_batch: int = 32


@dataclass(frozen=True)
class BenchConfig:
    targets: tuple[str, ...] = ("host", "qemu-m4")
    windows: int = 100


@dataclass(frozen=True)
class RealConfig:
    """The `real` stage after export: the int8 student (LiteRT) and the fp32 teacher on the installed real-PPG
    sources (edgeppg.evaluate); "skipped: not installed" when there are none."""
    enabled: bool = True
    teacher: bool = True  # also score the fp32 teacher beside the int8 student
    derived: bool = True  # also the degraded-sensor rows
    max_sources: Optional[int] = None  # first N original sources (None: all)
    max_windows: Optional[int] = None  # first N windows of each source (None: all)


@dataclass(frozen=True)
class PipelineConfig:
    preset: str = "default"
    seed: int = 0
    pretrain_from_scratch: bool = False  # True: run `pretrain` instead of using the shipped ECG checkpoint
    data: DataConfig = field(default_factory=DataConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    bench: BenchConfig = field(default_factory=BenchConfig)
    real: RealConfig = field(default_factory=RealConfig)
    budget: str = "examples/budget_nrf52840.toml"


# ---------------------------------------------------------------- loader

def _type_ok(value: Any, tp: Any) -> tuple[bool, Any]:
    """Check/convert one value against a (simple) annotation; returns (ok, converted)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return True, None
        for a in args:
            if a is type(None):
                continue
            ok, conv = _type_ok(value, a)
            if ok:
                return True, conv
        return False, value
    if origin is tuple:
        (elem, *_rest) = typing.get_args(tp) or (Any,)
        if not isinstance(value, (list, tuple)):
            return False, value
        out = []
        for v in value:
            ok, conv = _type_ok(v, elem)
            if not ok:
                return False, value
            out.append(conv)
        return True, tuple(out)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False, value
        return True, float(value)
    if tp is int:
        return (isinstance(value, int) and not isinstance(value, bool)), value
    if tp is bool:
        return isinstance(value, bool), value
    if tp is str:
        return isinstance(value, str), value
    if tp is Any:
        return True, value
    return isinstance(value, tp), value


def from_dict(cls, data: dict[str, Any], where: str = ""):
    """Build dataclass `cls` from `data`, layering over defaults. Unknown keys and wrong types are errors."""
    if not isinstance(data, dict):
        raise EdgePPGError(f"config section [{where or cls.__name__}] must be a table, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in data.items():
        path = f"{where}.{key}" if where else key
        if key not in fields:
            raise EdgePPGError(
                f"unknown config key {path!r}; valid keys{' in [' + where + ']' if where else ''}: {', '.join(fields)}"
            )
        tp = hints[key]
        if dataclasses.is_dataclass(tp):
            # layer over this field's own default (e.g. distill's fit has its own lr), not the class defaults
            f = fields[key]
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING else tp()
            if not isinstance(value, dict):
                raise EdgePPGError(f"config section [{path}] must be a table, got {value!r}")
            kwargs[key] = from_dict(tp, merge(_shallow(default), value), path)
            continue
        ok, conv = _type_ok(value, tp)
        if not ok:
            raise EdgePPGError(f"config key {path!r} must be {_type_name(tp)}, got {value!r}")
        kwargs[key] = conv
    obj = cls(**kwargs)
    validate(obj, where)
    return obj


def _shallow(obj) -> dict:
    return {f.name: (_shallow(getattr(obj, f.name)) if dataclasses.is_dataclass(getattr(obj, f.name)) else getattr(obj, f.name))
            for f in dataclasses.fields(obj)}


def _type_name(tp) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def to_dict(obj) -> dict:
    return dataclasses.asdict(obj)


def validate(obj, where: str = "") -> None:
    """Impossible values rejected at load time, named with their key."""
    def bad(key, msg):
        raise EdgePPGError(f"config key {where + '.' if where else ''}{key} {msg}")

    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            if f.name in ("epochs", "batch_size", "n_windows", "calib_windows", "windows", "runs", "num_threads",
                          "heldout_windows", "qat_steps", "qat_batch", "max_sources", "max_windows") and v < 1:
                bad(f.name, f"must be >= 1, got {v}")
            if f.name in ("lr", "window_s", "fs_ppg_hz", "fs_ecg_hz", "input_fs_hz", "temperature") and v <= 0:
                bad(f.name, f"must be > 0, got {v}")
            if f.name in ("val_frac", "test_frac", "alpha", "hr_alpha", "warmup_frac") and not (
                    0 <= v < 1 or (f.name in ("alpha", "hr_alpha") and v == 1)):
                bad(f.name, f"must be in [0, 1), got {v}")
    _check_ranges(obj, bad)
    if isinstance(obj, DataConfig) and obj.val_frac + obj.test_frac >= 0.9:
        bad("val_frac + test_frac", "leave too little training data (must be < 0.9)")
    if isinstance(obj, FinetuneConfig):
        from edgeppg.models.heads import heads_named
        heads_named(obj.heads)
    if isinstance(obj, ExportConfig) and obj.name:
        check_model_name(obj.name, f"config key {where + '.' if where else ''}name:")
    if isinstance(obj, FitConfig) and obj.schedule not in ("onecycle", "cosine", "constant"):
        raise unknown_name("schedule", obj.schedule, ("onecycle", "cosine", "constant"))


# Bounds that keep a hostile or mistyped config from reaching numpy/torch (seed 10^32, lr = nan, epochs = 10^12,
# n_windows = 10^9): checked at load time with the key's name, before any stage starts.
_SEED_MAX = 2**32 - 1
_INT_RANGES: dict[str, tuple[int, int]] = {
    "seed": (0, _SEED_MAX), "label_seed": (0, _SEED_MAX), "unlabelled_seed": (0, _SEED_MAX), "calib_seed": (0, _SEED_MAX),
    "epochs": (1, 100_000), "batch_size": (1, 65_536), "num_threads": (1, 1024), "patience": (0, 100_000),
    "n_windows": (1, 1_000_000), "calib_windows": (1, 1_000_000), "heldout_windows": (1, 1_000_000),
    "windows": (1, 1_000_000), "qat_steps": (1, 10_000_000), "qat_batch": (1, 65_536), "width": (1, 512),
    "freeze_stages": (0, 4), "labels": (1, 10_000_000), "unlabelled": (0, 1_000_000), "opset": (13, 21),
}
_FLOAT_RANGES: dict[str, tuple[float, float]] = {
    "lr": (0.0, 10.0), "weight_decay": (0.0, 10.0), "grad_clip": (0.0, 1e6), "lr_decay": (0.0, 1.0),
    "window_s": (0.0, 3600.0), "fs_ppg_hz": (0.0, 100_000.0), "fs_ecg_hz": (0.0, 100_000.0),
    "input_fs_hz": (0.0, 100_000.0), "temperature": (0.0, 1000.0), "hr_sigma_bpm": (0.0, 1000.0),
    "hint_weight": (0.0, 1e6), "max_hr_mae_increase_bpm": (0.0, 1e6), "max_f1_drop": (0.0, 1.0),
    "max_onnx_abs_diff": (0.0, 1e6), "qat_lr": (0.0, 10.0),
}


def _check_ranges(obj, bad) -> None:
    import math

    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        vals = v if isinstance(v, tuple) else (v,)
        for x in vals:
            if isinstance(x, bool) or not isinstance(x, (int, float)):
                continue
            if isinstance(x, float) and not math.isfinite(x):
                bad(f.name, f"must be a finite number, got {x}")
            name = "seed" if f.name == "seeds" else f.name
            if isinstance(x, int) and name in _INT_RANGES:
                lo, hi = _INT_RANGES[name]
                if not lo <= x <= hi:
                    bad(f.name, f"must be in [{lo}, {hi}], got {str(x)[:40]}")
            if name in _FLOAT_RANGES:
                lo, hi = _FLOAT_RANGES[name]
                if not lo <= x <= hi:
                    bad(f.name, f"must be in [{lo:g}, {hi:g}], got {x:g}")
        if isinstance(v, tuple) and len(v) > 64:
            bad(f.name, f"must have at most 64 items, got {len(v)}")
        if isinstance(v, str) and len(v) > 4096:
            bad(f.name, f"must be at most 4096 characters, got {len(v)}")


def preset_dict(name: str) -> dict:
    if name not in PRESETS:
        raise unknown_name("preset", name, PRESETS)
    text = resources.files("edgeppg").joinpath("presets", f"{name}.toml").read_text()
    return tomllib.loads(text)


def load_config(preset: str = "default", path: str | Path | None = None, overrides: dict | None = None) -> PipelineConfig:
    """Preset TOML, then the user's TOML file, then CLI overrides -> one frozen PipelineConfig."""
    data = preset_dict(preset)
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise EdgePPGError(f"config file {path} not found; pass an existing TOML file to --config")
        if path.stat().st_size > 1 << 20:
            raise EdgePPGError(f"config file {path} is over 1 MiB; a config is a short TOML file")
        try:
            user = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError) as exc:
            raise EdgePPGError(f"config file {path} is not valid TOML: {str(exc)[:200]}") from None
        data = merge(data, user)
    if overrides:
        data = merge(data, overrides)
    data.setdefault("preset", preset)
    return from_dict(PipelineConfig, data)


def section(cfg: PipelineConfig, name: str):
    return getattr(cfg, name)
