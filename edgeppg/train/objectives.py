"""The supervised multi-task objective and its loss balancing.

Targets (built by `edgeppg.train.predict.make_targets`):
  classes head  <name>          int64 class index, -1 = unknown (ignored)
  regression    <name>_z        float32 normalised target (HeadSpec.encode), <name>_valid bool mask
  bins          <name>_bin      int64 nearest-centre index, -1 = unknown (ignored)
HR uses the "hr_valid" mask; RR uses "rr_valid" when present, else "hr_valid" (no beats, no breathing rate).

Balancing:
  fixed        L = sum_i w_i L_i
  uncertainty  Kendall, Gal & Cipolla 2018 with s_i = log sigma_i^2 learned:
               classification exp(-s) L + s/2, regression exp(-s) L / 2 + s/2
Every head's term stays in the graph even when its batch mask is empty (x 0), so DistributedDataParallel
always sees a gradient for every trainable parameter.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from edgeppg.errors import EdgePPGError, unknown_name
from edgeppg.models.heads import HeadSpec

BALANCES = ("fixed", "uncertainty")
DEFAULT_WEIGHTS = {"rhythm": 1.0, "hr": 1.0, "rr": 0.5}


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over mask; 0 (still differentiable) when the mask is empty."""
    m = mask.to(values.dtype)
    return (values * m).sum() / m.sum().clamp_min(1.0)


def head_loss(head: HeadSpec, raw: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """One head's loss on one batch (see module docstring for the target keys)."""
    if head.kind in ("classes", "bins"):
        key = head.name if head.kind == "classes" else f"{head.name}_bin"
        if key not in batch:
            raise EdgePPGError(f"objective needs target {key!r} for head {head.name!r}; build targets with make_targets")
        y = batch[key].long()
        valid = y >= 0
        ce = F.cross_entropy(raw, y.clamp_min(0), reduction="none")
        return masked_mean(ce, valid)
    if head.kind == "regression":
        key = f"{head.name}_z"
        if key not in batch:
            raise EdgePPGError(f"objective needs target {key!r} for head {head.name!r}; build targets with make_targets")
        y = batch[key].float()
        valid = batch.get(f"{head.name}_valid", batch.get("hr_valid"))
        valid = torch.isfinite(y) if valid is None else (valid.bool() & torch.isfinite(y))
        # Huber on z (1 z-unit = 50 BPM for HR): robust to the odd mislabelled window, L2 near the target
        err = F.smooth_l1_loss(raw[:, 0], torch.nan_to_num(y), reduction="none", beta=0.1)
        return masked_mean(err, valid)
    raise EdgePPGError(f"unknown head kind {head.kind!r} for head {head.name!r}")


class SupervisedObjective:
    """Multi-task supervised loss over `heads` with fixed or uncertainty weighting."""

    def __init__(self, heads: tuple[HeadSpec, ...], balance: str = "uncertainty",
                 weights: dict[str, float] | None = None):
        if balance not in BALANCES:
            raise unknown_name("loss balance", balance, BALANCES)
        self.heads = tuple(heads)
        self.balance = balance
        w = dict(DEFAULT_WEIGHTS, **(weights or {}))
        self.weights = {h.name: float(w.get(h.name, 1.0)) for h in self.heads}
        # one log-variance per head; only trained (and only returned by parameters()) under "uncertainty"
        self.log_vars = nn.Parameter(torch.zeros(len(self.heads)))

    def parameters(self) -> list[nn.Parameter]:
        return [self.log_vars] if self.balance == "uncertainty" else []

    def loss(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        out = model(batch["x"])
        total = torch.zeros((), device=batch["x"].device)
        parts: dict[str, float] = {}
        for i, h in enumerate(self.heads):
            li = head_loss(h, out[h.name], batch)
            if self.balance == "fixed":
                total = total + self.weights[h.name] * li
                parts[f"w_{h.name}"] = self.weights[h.name]
            else:
                s = self.log_vars[i]
                half = 1.0 if h.kind in ("classes", "bins") else 0.5
                # fixed weight still scales the task (0 switches a head off), the learned term balances it
                total = total + self.weights[h.name] * (half * torch.exp(-s) * li + 0.5 * s)
                parts[f"w_{h.name}"] = float(half * torch.exp(-s).detach())
            parts[f"loss_{h.name}"] = float(li.detach())
        return total, parts
