"""The student family, defined once as a spec (list of blocks).

The PyTorch module here and the Keras/TFLite twin in edgeppg.export are both built from the same
`StudentSpec`, so they cannot drift. Only ops that int8 TFLite and TFLM run well: conv (1xk), depthwise
conv, ReLU/ReLU6 (one module per activation), residual ADD, global MEAN, FULLY_CONNECTED.

Padding is explicit and symmetric, (k-1)//2 per side, because Keras "same" with stride 2 pads
differently from PyTorch and silently changes the values.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import nn

from edgeppg.errors import EdgePPGError, unknown_name
from edgeppg.models.heads import DEFAULT_HEADS, HeadSpec, heads_from_json, heads_to_json


@dataclass(frozen=True)
class Block:
    kind: str  # "conv": full conv k | "dws": depthwise k + pointwise 1x1
    out_ch: int
    kernel: int
    stride: int = 1
    residual: bool = False  # add the block input before the last activation (stride 1, same width only)
    act: str = "relu"  # "relu" | "relu6"

    @property
    def pad(self) -> int:
        return (self.kernel - 1) // 2


@dataclass(frozen=True)
class StudentSpec:
    name: str
    blocks: tuple[Block, ...]
    in_channels: int = 1
    samples: int = 512
    fs_hz: float = 64.0
    heads: tuple[HeadSpec, ...] = DEFAULT_HEADS

    def __post_init__(self):
        c = self.in_channels
        for i, b in enumerate(self.blocks):
            if b.kind not in ("conv", "dws"):
                raise EdgePPGError(f"student {self.name}: block {i} kind {b.kind!r} not in conv, dws")
            if b.act not in ("relu", "relu6"):
                raise EdgePPGError(f"student {self.name}: block {i} activation {b.act!r} not in relu, relu6")
            if b.kernel % 2 == 0:
                raise EdgePPGError(f"student {self.name}: block {i} kernel must be odd, got {b.kernel}")
            if b.residual and (b.stride != 1 or b.out_ch != c):
                raise EdgePPGError(f"student {self.name}: block {i} residual needs stride 1 and {c} == {b.out_ch} channels")
            c = b.out_ch

    @property
    def features(self) -> int:
        return self.blocks[-1].out_ch

    def lengths(self) -> list[int]:
        """Time length after each block."""
        t, out = self.samples, []
        for b in self.blocks:
            t = (t + 2 * b.pad - b.kernel) // b.stride + 1
            out.append(t)
        return out

    def macs(self) -> int:
        """Multiply-accumulates per inference (convs + FC; BN folded, adds/means ignored)."""
        total, c = 0, self.in_channels
        for b, t in zip(self.blocks, self.lengths()):
            if b.kind == "conv":
                total += t * b.out_ch * c * b.kernel
            else:
                total += t * c * b.kernel + t * c * b.out_ch
            c = b.out_ch
        return total + sum(self.features * h.n_out for h in self.heads)

    def params(self) -> int:
        """Parameters after BN folding (what ships): weights + one bias per output channel."""
        total, c = 0, self.in_channels
        for b in self.blocks:
            if b.kind == "conv":
                total += b.out_ch * c * b.kernel + b.out_ch
            else:
                total += c * b.kernel + c + c * b.out_ch + b.out_ch
            c = b.out_ch
        return total + sum(self.features * h.n_out + h.n_out for h in self.heads)

    def to_json(self) -> dict:
        d = dataclasses.asdict(self)
        d["blocks"] = [dataclasses.asdict(b) for b in self.blocks]
        d["heads"] = heads_to_json(self.heads)
        return d

    @staticmethod
    def from_json(d: dict) -> "StudentSpec":
        d = dict(d)
        d["blocks"] = tuple(Block(**b) for b in d["blocks"])
        d["heads"] = heads_from_json(d["heads"])
        return StudentSpec(**d)


def _act(name: str) -> nn.Module:
    return nn.ReLU6() if name == "relu6" else nn.ReLU()


class StudentBlock(nn.Module):
    def __init__(self, c_in: int, b: Block):
        super().__init__()
        self.residual = b.residual
        if b.kind == "conv":
            self.dw = None
            self.conv = nn.Conv1d(c_in, b.out_ch, b.kernel, b.stride, b.pad, bias=False)
            self.bn = nn.BatchNorm1d(b.out_ch)
        else:
            self.dw = nn.Conv1d(c_in, c_in, b.kernel, b.stride, b.pad, groups=c_in, bias=False)
            self.dw_bn = nn.BatchNorm1d(c_in)
            self.dw_act = _act(b.act)  # one module per activation: reused modules break int8 export
            self.conv = nn.Conv1d(c_in, b.out_ch, 1, bias=False)
            self.bn = nn.BatchNorm1d(b.out_ch)
        self.act = _act(b.act)

    def forward(self, x):
        y = x
        if self.dw is not None:
            y = self.dw_act(self.dw_bn(self.dw(y)))
        y = self.bn(self.conv(y))
        if self.residual:
            y = y + x
        return self.act(y)


class Student(nn.Module):
    """Spec-built student. forward(x (B,C,T)) -> {head: raw}; features(x) -> (B, F)."""

    def __init__(self, spec: StudentSpec):
        super().__init__()
        self.spec = spec
        blocks, c = [], spec.in_channels
        for b in spec.blocks:
            blocks.append(StudentBlock(c, b))
            c = b.out_ch
        self.blocks = nn.Sequential(*blocks)
        self.heads = nn.ModuleDict({h.name: nn.Linear(c, h.n_out) for h in spec.heads})

    def features(self, x):
        return self.blocks(x).mean(dim=-1)

    def forward(self, x):
        f = self.features(x)
        return {h.name: self.heads[h.name](f) for h in self.spec.heads}


def _dws(c, k=5, s=1, r=False):
    return Block("dws", c, k, s, residual=r)


# Presets sized by MACs as well as parameters (docs/design.md §7: ~0.4 M MACs fits 20 ms on a 64 MHz M4F).
STUDENT_PRESETS: dict[str, StudentSpec] = {
    "s2k": StudentSpec("s2k", (Block("conv", 8, 9, 4), _dws(16, 5, 2), _dws(16, 5, 2), _dws(24, 5, 2), _dws(32, 5, 2))),
    "s4k": StudentSpec("s4k", (Block("conv", 12, 9, 4), _dws(16, 5, 2), _dws(24, 5, 2), _dws(24, 5, 1, True),
                               _dws(32, 5, 2), _dws(40, 3, 2))),
    # ~0.22 M MACs (~10 ms at 64 MHz); the default before real-PPG evaluation (12 BPM on real windows)
    "s5k": StudentSpec("s5k", (Block("conv", 12, 9, 2), _dws(16, 7, 2), _dws(24, 7, 2), _dws(24, 5, 1, True),
                               _dws(32, 5, 2), _dws(32, 5, 1, True), _dws(32, 3, 2))),
    "s12k": StudentSpec("s12k", (Block("conv", 16, 9, 4), _dws(24, 5, 2), _dws(24, 5, 1, True), _dws(32, 5, 2),
                                 _dws(32, 5, 1, True), _dws(48, 5, 2), _dws(48, 5, 1, True), _dws(64, 3, 2))),
    "s25k": StudentSpec("s25k", (Block("conv", 24, 9, 4), _dws(32, 5, 2), _dws(32, 5, 1, True), _dws(48, 5, 2),
                                 _dws(48, 5, 1, True), _dws(64, 5, 2), _dws(64, 5, 1, True), _dws(96, 3, 2))),
    "s50k": StudentSpec("s50k", (Block("conv", 32, 9, 2), _dws(48, 5, 2), _dws(48, 5, 1, True), _dws(64, 5, 2),
                                 _dws(64, 5, 1, True), _dws(96, 5, 2), _dws(96, 5, 1, True), _dws(128, 3, 2),
                                 _dws(128, 3, 1, True))),
}
DEFAULT_STUDENT = "s12k"


def student_spec(name: str, heads: tuple[HeadSpec, ...] | None = None, in_channels: int = 1,
                 samples: int = 512, fs_hz: float = 64.0) -> StudentSpec:
    if name not in STUDENT_PRESETS:
        raise unknown_name("student preset", name, STUDENT_PRESETS)
    spec = STUDENT_PRESETS[name]
    return dataclasses.replace(spec, heads=heads or spec.heads, in_channels=in_channels, samples=samples, fs_hz=fs_hz)


def build_student(spec: StudentSpec) -> Student:
    return Student(spec)


if __name__ == "__main__":
    for n in STUDENT_PRESETS:
        s = student_spec(n)
        m = Student(s)
        y = m(torch.zeros(2, 1, 512))
        print(f"{n:6s} params={s.params():7d} torch_params={sum(p.numel() for p in m.parameters()):7d} "
              f"macs={s.macs():9d} lengths={s.lengths()}")


Student.arch = "student"
Student.config_json = lambda self: self.spec.to_json()


def from_config_json(d: dict) -> Student:
    return Student(StudentSpec.from_json(d))
