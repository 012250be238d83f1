"""The teacher: a 1-D pre-activation ResNet ("v2" blocks) with kernels 7/5/5/3 per stage.

As in Weimann & Conrad 2021 (ECG transfer to small-data rhythm tasks): four stages of pre-activation
basic blocks (BN-ReLU-conv-BN-ReLU-conv + shortcut), widths w, 2w, 4w, 8w, stride 2 from stage 2 on.
The backbone (stem + stages + final BN-ReLU + global average pool) is separate from the task heads,
so a pretrained backbone can be handed to a new task on its own (`model.backbone`, `model.features`).

Registry names: "resnet18" (2-2-2-2 blocks) and "resnet34" (3-4-6-3 blocks).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import nn

from edgeppg.errors import EdgePPGError, unknown_name
from edgeppg.models.heads import DEFAULT_HEADS, HeadSpec, heads_from_json, heads_to_json

DEPTHS: dict[int, tuple[int, ...]] = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}
STAGE_KERNELS = (7, 5, 5, 3)


@dataclass(frozen=True)
class ResNet1dConfig:
    depth: int = 18
    width: int = 16  # channels of the first stage; stage i has width * 2**i
    in_channels: int = 1
    samples: int = 512
    fs_hz: float = 64.0
    kernels: tuple[int, ...] = STAGE_KERNELS
    stem_kernel: int = 7
    stem_stride: int = 2
    stem_pool: bool = True  # max-pool (k3, s2) after the stem as in ResNet: halves the cost of every stage
    dropout: float = 0.1  # before the heads only
    heads: tuple[HeadSpec, ...] = DEFAULT_HEADS

    def __post_init__(self):
        if self.depth not in DEPTHS:
            raise EdgePPGError(f"resnet1d depth {self.depth} not supported; valid depths: {', '.join(map(str, DEPTHS))}")
        if len(self.kernels) != len(DEPTHS[self.depth]):
            raise EdgePPGError(f"resnet1d needs {len(DEPTHS[self.depth])} stage kernels, got {self.kernels}")
        if any(k % 2 == 0 for k in (*self.kernels, self.stem_kernel)):
            raise EdgePPGError(f"resnet1d kernels must be odd, got stem {self.stem_kernel}, stages {self.kernels}")
        if self.width < 1 or self.in_channels < 1:
            raise EdgePPGError(f"resnet1d width and in_channels must be >= 1, got {self.width}, {self.in_channels}")

    @property
    def blocks(self) -> tuple[int, ...]:
        return DEPTHS[self.depth]

    @property
    def features(self) -> int:
        return self.width * 2 ** (len(self.blocks) - 1)

    def to_json(self) -> dict:
        d = dataclasses.asdict(self)
        d["kernels"] = list(self.kernels)
        d["heads"] = heads_to_json(self.heads)
        return d

    @staticmethod
    def from_json(d: dict) -> "ResNet1dConfig":
        d = dict(d)
        d["kernels"] = tuple(d.get("kernels", STAGE_KERNELS))
        d["heads"] = heads_from_json(d["heads"]) if "heads" in d else DEFAULT_HEADS
        known = {f.name for f in dataclasses.fields(ResNet1dConfig)}
        extra = set(d) - known
        if extra:
            raise EdgePPGError(f"resnet1d config has unknown keys {sorted(extra)}; the checkpoint is from another version")
        return ResNet1dConfig(**d)


class PreActBlock(nn.Module):
    """BN-ReLU-conv(k, stride)-BN-ReLU-conv(k) + shortcut (1x1 conv on the pre-activated input when shape changes)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int):
        super().__init__()
        pad = (kernel - 1) // 2
        self.bn1 = nn.BatchNorm1d(c_in)
        self.act1 = nn.ReLU()
        self.conv1 = nn.Conv1d(c_in, c_out, kernel, stride, pad, bias=False)
        self.bn2 = nn.BatchNorm1d(c_out)
        self.act2 = nn.ReLU()
        self.conv2 = nn.Conv1d(c_out, c_out, kernel, 1, pad, bias=False)
        self.shortcut = nn.Conv1d(c_in, c_out, 1, stride, bias=False) if (stride != 1 or c_in != c_out) else None

    def forward(self, x):
        a = self.act1(self.bn1(x))
        skip = self.shortcut(a) if self.shortcut is not None else x
        y = self.conv1(a)
        y = self.conv2(self.act2(self.bn2(y)))
        return y + skip


class Backbone(nn.Module):
    """stem (conv + max-pool) -> stages -> BN-ReLU -> global average pool: (B, C, T) -> (B, F)."""

    def __init__(self, cfg: ResNet1dConfig):
        super().__init__()
        self.cfg = cfg  # the backbone alone says what input it expects (hand-off to fine-tuning)
        w = cfg.width
        self.stem = nn.Conv1d(cfg.in_channels, w, cfg.stem_kernel, cfg.stem_stride, (cfg.stem_kernel - 1) // 2, bias=False)
        self.pool = nn.MaxPool1d(3, 2, 1) if cfg.stem_pool else nn.Identity()
        stages, c = [], w
        for i, (n, k) in enumerate(zip(cfg.blocks, cfg.kernels)):
            c_out = w * 2 ** i
            blocks = [PreActBlock(c, c_out, k, 1 if i == 0 else 2)]
            blocks += [PreActBlock(c_out, c_out, k, 1) for _ in range(n - 1)]
            stages.append(nn.Sequential(*blocks))
            c = c_out
        self.stages = nn.ModuleList(stages)
        self.post_bn = nn.BatchNorm1d(c)  # v2 nets need a final BN-ReLU: blocks output un-normalised sums
        self.post_act = nn.ReLU()

    def groups(self) -> list[tuple[str, nn.Module]]:
        """Ordered parameter groups, input side first: stem, stage1..4, post (used by partial/discriminative/gradual)."""
        out = [("stem", self.stem)]
        out += [(f"stage{i + 1}", s) for i, s in enumerate(self.stages)]
        out.append(("post", self.post_bn))
        return out

    def forward(self, x):
        y = self.pool(self.stem(x))
        for s in self.stages:
            y = s(y)
        return self.post_act(self.post_bn(y)).mean(dim=-1)


class ResNet1d(nn.Module):
    """forward(x (B,C,T)) -> {head: raw}; features(x) -> (B, F)."""

    arch = "resnet1d"

    def __init__(self, cfg: ResNet1dConfig):
        super().__init__()
        self.cfg = cfg
        self.backbone = Backbone(cfg)
        self.dropout = nn.Dropout(cfg.dropout)
        self.heads = nn.ModuleDict({h.name: nn.Linear(cfg.features, h.n_out) for h in cfg.heads})
        self._init()

    def _init(self):
        for m in self.modules():
            if isinstance(m, nn.Conv1d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm1d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        for h in self.heads.values():
            nn.init.normal_(h.weight, std=0.01)
            nn.init.zeros_(h.bias)

    @property
    def head_specs(self) -> tuple[HeadSpec, ...]:
        return self.cfg.heads

    def config_json(self) -> dict:
        return self.cfg.to_json()

    def features(self, x):
        return self.backbone(x)

    def forward(self, x):
        f = self.dropout(self.features(x))
        return {h.name: self.heads[h.name](f) for h in self.cfg.heads}


def from_config_json(d: dict) -> ResNet1d:
    return ResNet1d(ResNet1dConfig.from_json(d))


# Registry: name -> depth. Width and input shape are arguments, so one name covers a family.
RESNET_MODELS: dict[str, int] = {"resnet18": 18, "resnet34": 34}


def resnet_config(name: str, *, width: int = 16, in_channels: int = 1, samples: int = 512, fs_hz: float = 64.0,
                  heads: tuple[HeadSpec, ...] | None = None, dropout: float = 0.1) -> ResNet1dConfig:
    if name not in RESNET_MODELS:
        raise unknown_name("model", name, RESNET_MODELS)
    return ResNet1dConfig(depth=RESNET_MODELS[name], width=width, in_channels=in_channels, samples=samples,
                          fs_hz=fs_hz, heads=heads or DEFAULT_HEADS, dropout=dropout)


def build_resnet(name: str, **kwargs) -> ResNet1d:
    return ResNet1d(resnet_config(name, **kwargs))


def count_params(model: nn.Module) -> int:
    return int(sum(p.numel() for p in model.parameters()))


if __name__ == "__main__":
    import time

    for n in RESNET_MODELS:
        for w in (8, 16, 32):
            m = build_resnet(n, width=w)
            x = torch.randn(64, 1, 512)
            t0 = time.perf_counter()
            out = m(x)
            sum(v.sum() for v in out.values()).backward()
            dt = time.perf_counter() - t0
            print(f"{n} width={w:3d} params={count_params(m):8d} fwd+bwd batch64 {dt * 1000:.0f} ms ({64 / dt:.0f} win/s)")
