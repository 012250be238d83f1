"""Name -> model registries. Unknown names raise an error listing the valid ones.

Architectures (`arch` in a checkpoint sidecar) map to a builder taking the model's JSON config, so a
checkpoint file alone rebuilds its model. Shipped pretrained checkpoints are looked up by name in models/.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Callable

from torch import nn

from edgeppg.errors import unknown_name

# arch -> "module:function(config_json) -> nn.Module"; imported lazily (the teacher pulls in more code).
ARCHS: dict[str, str] = {
    "student": "edgeppg.models.student:from_config_json",
    "resnet1d": "edgeppg.models.resnet1d:from_config_json",
}

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"


def builder(arch: str) -> Callable[[dict], nn.Module]:
    if arch not in ARCHS:
        raise unknown_name("architecture", arch, ARCHS)
    module, fn = ARCHS[arch].split(":")
    return getattr(importlib.import_module(module), fn)


def build_from_config(arch: str, config: dict) -> nn.Module:
    return builder(arch)(config)


def config_json(model: nn.Module) -> tuple[str, dict]:
    """(arch, config json) of a model built by this package."""
    arch = getattr(model, "arch", None)
    if arch not in ARCHS:
        raise TypeError(f"{type(model).__name__} is not an edgeppg model (no known .arch)")
    return arch, model.config_json()


def pretrained_names() -> list[str]:
    return sorted(p.stem for p in MODELS_DIR.glob("*.safetensors"))


def resolve_pretrained(name_or_path: str) -> Path:
    """A shipped checkpoint name (e.g. 'ecg-resnet18') or a path to a .safetensors file."""
    p = Path(name_or_path)
    if p.suffix == ".safetensors" or p.exists():
        return p
    cand = MODELS_DIR / f"{name_or_path}.safetensors"
    if cand.exists():
        return cand
    raise unknown_name("pretrained checkpoint", name_or_path, pretrained_names() or ["(none shipped yet)"])
