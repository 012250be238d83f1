"""Quantization-aware fine-tune: the fallback when post-training int8 misses a tolerance.

Fake quantization follows TFLite's int8 scheme on the BN-folded graph (`FoldedStudent` hooks):
per-channel symmetric weights in [-127, 127] for convs, per-tensor symmetric for the FC heads (what the
converter emits for FULLY_CONNECTED), per-tensor asymmetric activations in [-128, 127] with ranges from
calibration then an EMA, quantized where TFLite requantizes (input, after every fused conv+ReLU, before
and after each residual ADD, after MEAN, each head). The loss makes the fake-quant model match the float
model's raw outputs (KL for class heads, MSE otherwise), so no labels are needed and the target is
exactly "int8 behaves like fp32". The fine-tuned float weights are then exported with the usual PTQ.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from edgeppg.config import ExportConfig
from edgeppg.export.fold import FoldedStudent


def _qparams(lo: float, hi: float) -> tuple[float, int]:
    """TFLite asymmetric int8 params for a float range (range always includes 0)."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    scale = max((hi - lo) / 255.0, 1e-8)
    zp = int(np.clip(round(-128 - lo / scale), -128, 127))
    return scale, zp


class QATStudent(FoldedStudent):
    def __init__(self, folded: FoldedStudent, momentum: float = 0.95):
        super().__init__(folded.spec, {k: v.detach() for k, v in folded.p.items()})
        self.momentum = momentum
        self.ranges: dict[str, list[float]] = {}
        self.observe = True
        self.fake = False

    def _wq(self, name: str, w: torch.Tensor) -> torch.Tensor:
        if not self.fake:
            return w
        if name.startswith("head_"):
            s = (w.detach().abs().max() / 127.0).clamp_min(1e-12)
            return torch.fake_quantize_per_tensor_affine(w, float(s), 0, -127, 127)
        s = (w.detach().abs().reshape(w.shape[0], -1).amax(dim=1) / 127.0).clamp_min(1e-12)
        return torch.fake_quantize_per_channel_affine(w, s, torch.zeros_like(s, dtype=torch.int32), 0, -127, 127)

    def _aq(self, name: str, x: torch.Tensor) -> torch.Tensor:
        if self.observe:
            lo, hi = float(x.detach().min()), float(x.detach().max())
            if name not in self.ranges:
                self.ranges[name] = [lo, hi]
            else:
                r, m = self.ranges[name], self.momentum
                r[0], r[1] = m * r[0] + (1 - m) * lo, m * r[1] + (1 - m) * hi
        if not self.fake:
            return x
        scale, zp = _qparams(*self.ranges[name])
        return torch.fake_quantize_per_tensor_affine(x, scale, zp, -128, 127)


def _match_loss(spec, q: dict, t: dict) -> torch.Tensor:
    loss = 0.0
    for h in spec.heads:
        if h.kind in ("classes", "bins"):
            loss = loss + F.kl_div(F.log_softmax(q[h.name], 1), F.softmax(t[h.name], 1), reduction="batchmean")
        else:
            loss = loss + F.mse_loss(q[h.name], t[h.name])
    return loss


def qat_finetune(folded: FoldedStudent, train_x: np.ndarray, calib_x: np.ndarray, cfg: ExportConfig,
                 seed: int) -> tuple[FoldedStudent, dict]:
    """Short fake-quant fine-tune; returns a new float FoldedStudent and a summary for the manifest."""
    torch.manual_seed(seed)
    teacher = folded.eval()
    q = QATStudent(folded).train()
    with torch.no_grad():  # initial activation ranges: plain min/max over the calibration windows
        q.momentum = 0.0
        q.observe, q.fake = True, False
        lo_hi: dict[str, list[float]] = {}
        for i in range(0, len(calib_x), 64):
            q(torch.from_numpy(calib_x[i:i + 64]))
            for k, (lo, hi) in q.ranges.items():
                cur = lo_hi.setdefault(k, [lo, hi])
                cur[0], cur[1] = min(cur[0], lo), max(cur[1], hi)
        q.ranges = lo_hi
        q.momentum = 0.95
    q.fake = True
    opt = torch.optim.AdamW(q.parameters(), lr=cfg.qat_lr, weight_decay=0.0)
    rng = np.random.default_rng(seed)
    losses = []
    for step in range(cfg.qat_steps):
        idx = rng.choice(len(train_x), min(cfg.qat_batch, len(train_x)), replace=False)
        xb = torch.from_numpy(np.ascontiguousarray(train_x[idx]))
        with torch.no_grad():
            tgt = teacher(xb)
        q.observe = step < cfg.qat_steps // 2  # freeze ranges for the second half so weights settle to them
        loss = _match_loss(q.spec, q(xb), tgt)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    out = FoldedStudent(q.spec, {k: v.detach() for k, v in q.p.items()}).eval()
    k = max(1, len(losses) // 10)
    return out, {"applied": True, "steps": cfg.qat_steps, "lr": cfg.qat_lr, "batch": cfg.qat_batch, "seed": seed,
                 "loss_first": float(np.mean(losses[:k])), "loss_last": float(np.mean(losses[-k:]))}
