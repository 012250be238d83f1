"""Knowledge-distillation objectives (pure tensor functions + one Objective) and the teacher-output cache.

Teacher outputs are computed ONCE per window (`teacher_outputs`), kept in memory and optionally on disk
keyed by (teacher weights sha256, input-array sha256), then travel as ordinary training arrays:
  t_rhythm  (N, K) teacher logits        t_hr, t_rr  (N,) teacher value in physical units (BPM, breaths/min)
  t_feat    (N, F) teacher embedding     t_readable  (N,) teacher P(not noise): gates HR/RR on unlabelled windows
  labelled  (N,)   bool: the student may use this window's labels (False: teacher-only, "dark knowledge" window)

Per task the student loss mixes a soft (teacher) and a hard (label) term:
  rhythm        alpha * T^2 * KL(softmax(t/T) || softmax(s/T))  +  (1 - alpha) * CE(s, y)      (Hinton 2015)
  hr/rr regr.   labelled: hr_alpha * Huber(s, enc(t)) + (1 - hr_alpha) * Huber(s, enc(y)); teacher-only: Huber(s, enc(t))
  hr bins       the same with CE against Gauss(t; sigma) over the centres (soft) and the nearest bin of y (hard)
  (teacher-only windows are weighted by t_readable; hr_alpha = 0 trusts exact labels wherever they exist)
  hint          hint_weight * MSE(P s_feat, standardised t_feat)  (P: linear projection learned with the student)
and tasks are balanced as in the supervised objective (fixed weights or Kendall uncertainty).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from edgeppg.errors import EdgePPGError, unknown_name
from edgeppg.io import load_npz, save_npz
from edgeppg.models.heads import HeadSpec
from edgeppg.train.objectives import BALANCES, DEFAULT_WEIGHTS, head_loss, masked_mean

NOISE_CLASS = 4  # RHYTHM_LABELS.index("noise"): HR/RR are undefined there
_MEMORY: dict[tuple[str, str], dict[str, np.ndarray]] = {}
_MEMORY_MAX = 4  # a sweep reuses one teacher on one data set; keep a few entries, not every run


# ---------------------------------------------------------------- teacher-output cache

def model_heads(model: nn.Module) -> tuple[HeadSpec, ...]:
    """Head specs of any edgeppg model (ResNet1d: .head_specs / cfg.heads; Student: spec.heads)."""
    for get in (lambda m: m.head_specs, lambda m: m.cfg.heads, lambda m: m.spec.heads):
        try:
            return tuple(get(model))
        except AttributeError:
            continue
    raise EdgePPGError(f"{type(model).__name__} does not expose its heads; pass an edgeppg model")


def array_sha256(x: np.ndarray) -> str:
    """Content hash of an array (dtype + shape + bytes): the data half of the cache key."""
    a = np.ascontiguousarray(x)
    h = hashlib.sha256(f"{a.dtype.str}{a.shape}".encode())
    h.update(a.tobytes())
    return h.hexdigest()


def teacher_outputs(model: nn.Module, x: np.ndarray, batch_size: int = 256) -> dict[str, np.ndarray]:
    """One pass of the teacher over x (eval mode, no grad) -> the t_* arrays of the module docstring."""
    heads = {h.name: h for h in model_heads(model)}
    if "rhythm" not in heads:
        raise EdgePPGError("teacher has no 'rhythm' head; distillation needs a teacher following the heads contract")
    was_training = model.training
    model.eval()
    raw: dict[str, list[np.ndarray]] = {}
    feats: list[np.ndarray] = []
    try:
        with torch.no_grad():
            for i in range(0, len(x), batch_size):
                xb = torch.from_numpy(np.ascontiguousarray(x[i: i + batch_size], dtype=np.float32))
                for k, v in model(xb).items():
                    raw.setdefault(k, []).append(v.float().numpy())
                feats.append(model.features(xb).float().numpy())
    finally:
        model.train(was_training)
    raw_np = {k: np.concatenate(v) for k, v in raw.items()}
    logits = raw_np["rhythm"].astype(np.float32)
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    out = {"t_rhythm": logits, "t_feat": np.concatenate(feats).astype(np.float32),
           "t_readable": (1.0 - p[:, NOISE_CLASS]).astype(np.float32)}
    for name in ("hr", "rr"):
        if name in heads:
            out[f"t_{name}"] = heads[name].decode(raw_np[name]).astype(np.float32)
    return out


def cached_teacher_outputs(model: nn.Module, teacher_sha256: str, x: np.ndarray,
                           cache_dir: str | Path | None = None) -> tuple[dict[str, np.ndarray], dict]:
    """teacher_outputs, computed once per (teacher, data): memory first, then cache_dir, then the teacher.

    Returns (arrays, info) with info = {"key", "source": "memory" | "disk" | "computed", "path"}.
    """
    key = (teacher_sha256, array_sha256(x))
    name = f"teacher_{key[0][:16]}_{key[1][:16]}.npz"
    path = Path(cache_dir) / name if cache_dir else None
    if key in _MEMORY:
        return _MEMORY[key], {"key": list(key), "source": "memory", "path": str(path) if path else None}
    source = "computed"
    arrays = None
    if path is not None and path.is_file():
        try:
            arrays = load_npz(path)
            source = "disk"
        except Exception:  # noqa: BLE001 - a corrupt cache file is recomputed, never trusted
            arrays = None
        if arrays is not None and any(len(v) != len(x) for v in arrays.values()):
            arrays, source = None, "computed"
    if arrays is None:
        arrays = teacher_outputs(model, x)
        if path is not None:
            save_npz(path, arrays)
    while len(_MEMORY) >= _MEMORY_MAX:
        _MEMORY.pop(next(iter(_MEMORY)))
    _MEMORY[key] = arrays
    return arrays, {"key": list(key), "source": source, "path": str(path) if path else None}


def clear_memory_cache() -> None:
    _MEMORY.clear()


# ---------------------------------------------------------------- loss terms (pure)

def kd_soft_loss(s_logits: torch.Tensor, t_logits: torch.Tensor, temperature: float,
                 weight: torch.Tensor | None = None) -> torch.Tensor:
    """Hinton's soft-target term T^2 * KL(p_t^T || p_s^T), mean over windows (optionally weighted)."""
    log_ps = F.log_softmax(s_logits / temperature, dim=1)
    log_pt = F.log_softmax(t_logits / temperature, dim=1)
    kl = (log_pt.exp() * (log_pt - log_ps)).sum(dim=1)
    # T^2 keeps the soft gradients' scale independent of T (they shrink as 1/T^2 otherwise)
    kl = kl * temperature ** 2
    return kl.mean() if weight is None else masked_mean(kl, weight)


def soft_bin_targets(values: torch.Tensor, centers: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian soft label over bin centres (B, n_bins), rows summing to 1."""
    d = (values[:, None] - centers[None, :]) / sigma
    return torch.softmax(-0.5 * d * d, dim=1)


def hint_loss(s_proj: torch.Tensor, t_feat: torch.Tensor) -> torch.Tensor:
    """FitNets-style hint: MSE between projected student features and (standardised) teacher features."""
    return F.mse_loss(s_proj, t_feat)


# ---------------------------------------------------------------- the objective

class DistillObjective:
    """Objective (fit protocol) for a student learning from cached teacher outputs plus whatever labels exist.

    `hint_stats` = (mean, std) of the teacher features over the training set: the hint target is
    standardised so its scale does not depend on the teacher's width or BN statistics.
    """

    def __init__(self, heads: tuple[HeadSpec, ...], *, temperature: float = 4.0, alpha: float = 0.7,
                 hr_alpha: float = 0.5, hr_sigma_bpm: float = 3.0, hint_weight: float = 0.0,
                 student_features: int = 0, teacher_features: int = 0,
                 hint_stats: tuple[np.ndarray, np.ndarray] | None = None, balance: str = "fixed",
                 weights: dict[str, float] | None = None, seed: int = 0):
        if balance not in BALANCES:
            raise unknown_name("loss balance", balance, BALANCES)
        if not (0.0 <= alpha <= 1.0 and 0.0 <= hr_alpha <= 1.0):
            raise EdgePPGError(f"alpha and hr_alpha must be in [0, 1], got {alpha} and {hr_alpha}")
        self.heads = tuple(heads)
        self.temperature, self.alpha, self.hr_alpha = float(temperature), float(alpha), float(hr_alpha)
        self.hr_sigma = float(hr_sigma_bpm)
        self.balance = balance
        w = dict(DEFAULT_WEIGHTS, **(weights or {}))
        self.weights = {h.name: float(w.get(h.name, 1.0)) for h in self.heads}
        self.log_vars = nn.Parameter(torch.zeros(len(self.heads)))
        self.hint_weight = float(hint_weight)
        self.proj = None
        if self.hint_weight > 0:
            if student_features < 1 or teacher_features < 1 or hint_stats is None:
                raise EdgePPGError("hint loss needs student/teacher feature sizes and teacher feature statistics")
            g = torch.Generator().manual_seed(seed)  # the projection's init is seeded like the student's
            self.proj = nn.Linear(student_features, teacher_features)
            with torch.no_grad():
                bound = 1.0 / student_features ** 0.5
                self.proj.weight.uniform_(-bound, bound, generator=g)
                self.proj.bias.zero_()
            self.t_mean = torch.as_tensor(hint_stats[0], dtype=torch.float32)
            self.t_std = torch.as_tensor(hint_stats[1], dtype=torch.float32).clamp_min(1e-3)

    def parameters(self) -> list[nn.Parameter]:
        out = [self.log_vars] if self.balance == "uncertainty" else []
        return out + (list(self.proj.parameters()) if self.proj is not None else [])

    def _head_term(self, h: HeadSpec, raw: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        if h.kind == "classes":
            hard = head_loss(h, raw, batch)
            if f"t_{h.name}" not in batch:
                return hard
            soft = kd_soft_loss(raw, batch[f"t_{h.name}"], self.temperature)
            return self.alpha * soft + (1.0 - self.alpha) * hard
        t = batch.get(f"t_{h.name}")
        if t is None:
            return head_loss(h, raw, batch)
        return self._value_term(h, raw, batch, t)

    def _value_term(self, h: HeadSpec, raw: torch.Tensor, batch: dict[str, torch.Tensor], t: torch.Tensor) -> torch.Tensor:
        """HR/RR: labelled windows mix label and teacher (hr_alpha); teacher-only windows learn the teacher's value,
        weighted by its P(not noise). A labelled "unreadable" window teaches neither."""
        labelled = batch["labelled"].bool()
        valid = batch.get(f"{h.name}_valid", batch["hr_valid"]).bool() & labelled
        t_ok = torch.isfinite(t)
        t = torch.nan_to_num(t.float())
        if h.kind == "regression":
            soft = F.smooth_l1_loss(raw[:, 0], (t - h.add) / h.mul, reduction="none", beta=0.1)
            y = torch.nan_to_num(batch[f"{h.name}_z"].float())
            hard = F.smooth_l1_loss(raw[:, 0], y, reduction="none", beta=0.1)
        else:
            centers = torch.as_tensor(h.centers, dtype=raw.dtype)
            logp = F.log_softmax(raw, dim=1)
            soft = -(soft_bin_targets(t, centers, self.hr_sigma) * logp).sum(dim=1)
            hard = F.nll_loss(logp, batch[f"{h.name}_bin"].long().clamp_min(0), reduction="none")
        a = self.hr_alpha
        per = torch.where(valid, (1.0 - a) * hard + a * torch.where(t_ok, soft, hard), soft)
        weight = torch.where(labelled, valid.float(), batch["t_readable"].float() * t_ok.float())
        return masked_mean(per, weight)

    def loss(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        x = batch["x"]
        if self.proj is not None and isinstance(getattr(model, "heads", None), nn.ModuleDict):
            feat = model.features(x)  # one backbone pass feeds both the heads and the hint
            out = {h.name: model.heads[h.name](feat) for h in self.heads}
        else:
            out = model(x)
            feat = model.features(x) if self.proj is not None else None
        total = torch.zeros((), device=x.device)
        parts: dict[str, float] = {}
        for i, h in enumerate(self.heads):
            li = self._head_term(h, out[h.name], batch)
            if self.balance == "fixed":
                total = total + self.weights[h.name] * li
            else:
                s = self.log_vars[i]
                half = 1.0 if h.kind in ("classes", "bins") else 0.5
                total = total + self.weights[h.name] * (half * torch.exp(-s) * li + 0.5 * s)
            parts[f"loss_{h.name}"] = float(li.detach())
        if self.proj is not None:
            target = (batch["t_feat"].float() - self.t_mean) / self.t_std
            lh = hint_loss(self.proj(feat), target)
            total = total + self.hint_weight * lh
            parts["loss_hint"] = float(lh.detach())
        return total, parts
