"""Types and ranges for model configs read from files (checkpoint sidecars, export manifests).

A sidecar's `model_config` decides how much memory building the model takes, so it is validated and its
parameter count bounded BEFORE any tensor is allocated (a width of 10^6 is refused, not attempted).
"""

from __future__ import annotations

from edgeppg.schema import Bool, Enum, Float, Int, List, Obj, Str

NAME = r"[A-Za-z0-9_.-]{1,64}"
MAX_PARAMS = 20_000_000  # 80 MB of fp32 weights: far above any teacher/student edgeppg trains
MAX_CHANNELS = 4096
MAX_SAMPLES = 1 << 16
MAX_OUT = 4096

HEAD = Obj({"name": Str(NAME), "kind": Enum("classes", "regression", "bins"), "n_out": Int(1, MAX_OUT),
            "labels": List(Str(max_len=64), 0, MAX_OUT), "unit": Str(max_len=64),
            "mul": Float(-1e6, 1e6, nonzero=True), "add": Float(-1e6, 1e6),
            "centers": List(Float(-1e6, 1e6), 0, MAX_OUT)},
           required=("name", "kind", "n_out"), extra=None)
HEADS = List(HEAD, 1, 16)

BLOCK = Obj({"kind": Enum("conv", "dws"), "out_ch": Int(1, MAX_CHANNELS), "kernel": Int(1, 255),
             "stride": Int(1, 16), "residual": Bool(), "act": Enum("relu", "relu6")},
            required=("kind", "out_ch", "kernel"), extra=None)

STUDENT = Obj({"name": Str(NAME), "blocks": List(BLOCK, 1, 64), "in_channels": Int(1, 64),
               "samples": Int(8, MAX_SAMPLES), "fs_hz": Float(0.1, 100_000, positive=True), "heads": HEADS},
              required=("name", "blocks", "heads"), extra=None)

RESNET = Obj({"depth": Int(1, 200), "width": Int(1, 512), "in_channels": Int(1, 64), "samples": Int(8, MAX_SAMPLES),
              "fs_hz": Float(0.1, 100_000, positive=True), "kernels": List(Int(1, 255), 1, 8),
              "stem_kernel": Int(1, 255), "stem_stride": Int(1, 16), "stem_pool": Bool(),
              "dropout": Float(0.0, 1.0), "heads": HEADS}, extra=None)

ARCH_SCHEMAS = {"student": STUDENT, "resnet1d": RESNET}


def estimate_params(arch: str, cfg: dict) -> int:
    """Upper-bound-ish parameter count of a validated config (no torch): used to refuse memory bombs."""
    heads = sum(int(h["n_out"]) for h in cfg.get("heads", [])) or 8
    if arch == "student":
        total, c = 0, int(cfg.get("in_channels", 1))
        for b in cfg["blocks"]:
            o, k = int(b["out_ch"]), int(b["kernel"])
            total += (o * c * k if b["kind"] == "conv" else c * k + c * o) + 4 * (o + c)
            c = o
        return total + c * heads + heads
    width, c = int(cfg.get("width", 16)), int(cfg.get("in_channels", 1))
    kernels = cfg.get("kernels") or [7, 5, 5, 3]
    depth = int(cfg.get("depth", 18))
    blocks = max(1, depth // 8)  # resnet18: 2 blocks per stage, resnet34: up to 6
    total = c * width * int(cfg.get("stem_kernel", 7))
    c = width
    for i, k in enumerate(kernels):
        o = width * 2 ** i
        total += blocks * (c * o * k + o * o * k + c * o + 4 * o)
        c = o
    return total + c * heads + heads
