"""Task heads shared by teacher and student, and how their raw outputs decode to labels/BPM.

Model contract: `model(x)` with x float32 (B, C, T) returns an ordered dict {head.name: raw tensor}
  classes     -> logits (B, n_out)
  regression  -> z (B, 1); value = z * mul + add   (targets are normalised the same way for training)
  bins        -> logits (B, n_out) over `centers`; value = softmax-weighted mean of centers
`model.features(x)` returns the pooled embedding (B, F) used by probes and hint losses.
Exported graphs keep this head order, so outputs[i] in TFLite/ONNX is heads[i].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgeppg.data.windows import RHYTHM_LABELS


@dataclass(frozen=True)
class HeadSpec:
    name: str
    kind: str  # "classes" | "regression" | "bins"
    n_out: int
    labels: tuple[str, ...] = ()
    unit: str = ""
    mul: float = 1.0
    add: float = 0.0
    centers: tuple[float, ...] = ()

    def decode(self, raw: np.ndarray) -> np.ndarray:
        """Raw float outputs (B, n_out) -> class index (classes) or physical value (regression/bins)."""
        raw = np.asarray(raw, dtype=np.float64).reshape(len(raw), -1)
        if self.kind == "classes":
            return raw.argmax(axis=1)
        if self.kind == "regression":
            return raw[:, 0] * self.mul + self.add
        if self.kind == "bins":
            p = np.exp(raw - raw.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            return p @ np.asarray(self.centers)
        raise ValueError(f"unknown head kind {self.kind!r}")

    def encode(self, value: np.ndarray) -> np.ndarray:
        """Physical value -> regression target z (inverse of decode for kind=regression)."""
        return (np.asarray(value, dtype=np.float32) - self.add) / self.mul

    def manifest(self) -> dict:
        d = {"name": self.name, "kind": self.kind, "n_out": self.n_out}
        if self.kind == "classes":
            d["labels"] = list(self.labels)
        elif self.kind == "regression":
            d.update(unit=self.unit, decode={"kind": "affine", "mul": self.mul, "add": self.add})
        else:
            d.update(unit=self.unit, decode={"kind": "bins", "centers_bpm": list(self.centers)})
        return d


RHYTHM_HEAD = HeadSpec("rhythm", "classes", len(RHYTHM_LABELS), labels=RHYTHM_LABELS)
HR_HEAD = HeadSpec("hr", "regression", 1, unit="bpm", mul=50.0, add=100.0)
RR_HEAD = HeadSpec("rr", "regression", 1, unit="breaths/min", mul=6.0, add=15.0)
DEFAULT_HEADS: tuple[HeadSpec, ...] = (RHYTHM_HEAD, HR_HEAD, RR_HEAD)
HEADS_BY_NAME = {h.name: h for h in DEFAULT_HEADS}


def heads_named(names) -> tuple[HeadSpec, ...]:
    """Head specs by name (config), in the given order; unknown names list the valid ones."""
    from edgeppg.errors import unknown_name

    out = []
    for n in names:
        if n not in HEADS_BY_NAME:
            raise unknown_name("head", n, HEADS_BY_NAME)
        out.append(HEADS_BY_NAME[n])
    if not out or out[0].name != "rhythm":
        from edgeppg.errors import EdgePPGError
        raise EdgePPGError(f"heads {list(names)!r} must start with 'rhythm' (the quality gate reads its noise class)")
    return tuple(out)


def hr_bins_head(lo: float = 30.0, hi: float = 220.0, n: int = 64) -> HeadSpec:
    return HeadSpec("hr", "bins", n, unit="bpm", centers=tuple(np.linspace(lo, hi, n).round(3).tolist()))


def heads_to_json(heads) -> list[dict]:
    return [dict(h.__dict__, labels=list(h.labels), centers=list(h.centers)) for h in heads]


def heads_from_json(items) -> tuple[HeadSpec, ...]:
    return tuple(HeadSpec(**dict(d, labels=tuple(d.get("labels", ())), centers=tuple(d.get("centers", ())))) for d in items)
