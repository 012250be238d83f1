"""BatchNorm folded into conv weights/bias: the float model that actually ships.

`FoldedStudent` is the PyTorch twin of what ONNX, Keras and TFLite see (conv+bias, ReLU, ADD, MEAN, FC).
It has two hook methods, `_wq` (weights) and `_aq` (activations), that are identities here and become
fake-quantizers in the QAT fine-tune (edgeppg.export.qat), so the float and QAT graphs cannot drift.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from edgeppg.models.student import Student, StudentSpec


def fold_bn(weight: torch.Tensor, bn: nn.BatchNorm1d) -> tuple[torch.Tensor, torch.Tensor]:
    """conv(no bias) -> BN (eval) == conv with w * g / sqrt(var + eps) and bias beta - mean * g / sqrt(var + eps)."""
    scale = bn.weight.detach() / torch.sqrt(bn.running_var.detach() + bn.eps)
    w = weight.detach() * scale.reshape(-1, *([1] * (weight.dim() - 1)))
    b = bn.bias.detach() - bn.running_mean.detach() * scale
    return w.float().clone(), b.float().clone()


class FoldedStudent(nn.Module):
    """forward(x (B,C,T)) -> {head: raw}, same as `Student` in eval mode, with BN folded away.

    Parameters per block i: `b{i}_dw_w/b` (depthwise, dws blocks only) and `b{i}_w/b` (full or pointwise conv).
    """

    def __init__(self, spec: StudentSpec, params: dict[str, torch.Tensor]):
        super().__init__()
        self.spec = spec
        self.p = nn.ParameterDict({k: nn.Parameter(v.detach().clone().float()) for k, v in params.items()})

    # --- hooks the QAT subclass overrides (identity for float inference)
    def _wq(self, name: str, w: torch.Tensor) -> torch.Tensor:
        return w

    def _aq(self, name: str, x: torch.Tensor) -> torch.Tensor:
        return x

    @staticmethod
    def _act(kind: str, x: torch.Tensor) -> torch.Tensor:
        return F.relu6(x) if kind == "relu6" else F.relu(x)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        p = self.p
        x = self._aq("input", x)
        for i, b in enumerate(self.spec.blocks):
            skip = x
            if b.kind == "dws":
                y = F.conv1d(x, self._wq(f"b{i}_dw_w", p[f"b{i}_dw_w"]), p[f"b{i}_dw_b"], b.stride, b.pad,
                             groups=x.shape[1])
                y = self._aq(f"b{i}_dw", self._act(b.act, y))
                y = F.conv1d(y, self._wq(f"b{i}_w", p[f"b{i}_w"]), p[f"b{i}_b"])
            else:
                y = F.conv1d(x, self._wq(f"b{i}_w", p[f"b{i}_w"]), p[f"b{i}_b"], b.stride, b.pad)
            if b.residual:
                y = self._aq(f"b{i}_pre_add", y) + skip  # TFLite quantizes the conv output before ADD
            x = self._aq(f"b{i}", self._act(b.act, y))
        return self._aq("mean", x.mean(dim=-1))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        f = self.features(x)
        return {h.name: self._aq(f"head_{h.name}", F.linear(f, self._wq(f"head_{h.name}_w", self.p[f"head_{h.name}_w"]),
                                                             self.p[f"head_{h.name}_b"]))
                for h in self.spec.heads}


def folded_params(model: Student) -> dict[str, torch.Tensor]:
    """BN-folded tensors of an eval-mode `Student`, keyed as FoldedStudent expects."""
    out: dict[str, torch.Tensor] = {}
    for i, blk in enumerate(model.blocks):
        if blk.dw is not None:
            out[f"b{i}_dw_w"], out[f"b{i}_dw_b"] = fold_bn(blk.dw.weight, blk.dw_bn)
        out[f"b{i}_w"], out[f"b{i}_b"] = fold_bn(blk.conv.weight, blk.bn)
    for h in model.spec.heads:
        lin = model.heads[h.name]
        out[f"head_{h.name}_w"] = lin.weight.detach().float().clone()
        out[f"head_{h.name}_b"] = lin.bias.detach().float().clone()
    return out


def fold_student(model: Student) -> FoldedStudent:
    return FoldedStudent(model.spec, folded_params(model)).eval()


class HeadTuple(nn.Module):
    """dict outputs -> tuple in head order, for exporters that name outputs positionally."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.names = [h.name for h in model.spec.heads]

    def forward(self, x):
        out = self.model(x)
        return tuple(out[n] for n in self.names)
