"""Checkpoints: safetensors weights (never pickle) + a JSON sidecar that alone rebuilds the model.

    <name>.safetensors   tensors (fp32, or fp16 for small release files)
    <name>.json          {"schema", "arch", "model_config", "weights_sha256", "train_config", "metrics",
                          "parent_sha256", "input": {fs_hz, window_s, channels}, "versions", ...}

Loading verifies the weights' sha256 against the sidecar (tampered/corrupt files are refused), refuses
pickle / torch.save files outright, and checks the architecture before touching any model.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save
from torch import nn

from edgeppg import __version__
from edgeppg.errors import EdgePPGError
from edgeppg.io import atomic_write_bytes, atomic_write_json, read_json_doc, sha256_bytes, to_jsonable
from edgeppg.models.registry import build_from_config, config_json

SCHEMA = "edgeppg.checkpoint/1"


@dataclass
class Checkpoint:
    model: nn.Module
    meta: dict[str, Any]
    path: Path

    @property
    def sha256(self) -> str:
        return self.meta["weights_sha256"]

    @property
    def arch(self) -> str:
        return self.meta["arch"]


def sidecar_path(path: Path) -> Path:
    return Path(path).with_suffix(".json")


def save_checkpoint(path: str | Path, model: nn.Module, *, train_config: Any = None, metrics: dict | None = None,
                    parent_sha256: str | None = None, input_spec: dict | None = None, extra: dict | None = None,
                    half: bool = False) -> Path:
    """Write weights then sidecar, each atomically; returns the .safetensors path."""
    path = Path(path)
    if path.suffix != ".safetensors":
        path = path.with_suffix(".safetensors")
    arch, cfg = config_json(model)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    if half:  # release files: fp16 floats keep the repo small; loading casts back to fp32
        state = {k: (v.half() if v.is_floating_point() else v) for k, v in state.items()}
    # one metadata key: safetensors writes several keys in hash order, which made file bytes vary run to run
    blob = st_save(state, metadata={"edgeppg": json.dumps({"arch": arch, "schema": SCHEMA}, sort_keys=True)})
    meta = {
        "schema": SCHEMA, "arch": arch, "model_config": cfg, "weights_sha256": sha256_bytes(blob),
        "weights_file": path.name, "weights_dtype": "float16" if half else "float32",
        "params": int(sum(p.numel() for p in model.parameters())),
        "train_config": to_jsonable(train_config.__dict__ if hasattr(train_config, "__dataclass_fields__") else train_config),
        "metrics": metrics or {}, "parent_sha256": parent_sha256, "input": input_spec or {},
        "versions": {"edgeppg": __version__, "torch": torch.__version__},
    }
    if extra:
        meta.update(extra)
    atomic_write_bytes(path, blob)
    atomic_write_json(sidecar_path(path), meta)
    return path


def _sniff(path: Path, head: bytes) -> None:
    """Refuse non-safetensors files before any parser sees them (pickle payloads must never run)."""
    if head[4:8] == b"TFL3":  # a flatbuffer's root offset comes first, then the TFLite file identifier
        raise EdgePPGError(f"{path} is a TFLite model (an export artifact), not a checkpoint; pass the student "
                           f".safetensors it was exported from (with its .json sidecar; shipped: {_shipped_hint()})")
    if head[:1] == b"\x08" and head[8:9] != b"{":  # ONNX ModelProto opens with field 1 (ir_version), tag 0x08
        raise EdgePPGError(f"{path} is an ONNX model (an export artifact), not a checkpoint; pass the .safetensors "
                           f"it was exported from (with its .json sidecar; shipped: {_shipped_hint()})")
    if head[:2] in (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05") or head[:1] in (b"(", b"c", b"]", b"}"):
        raise EdgePPGError(f"{path} is a pickle file; edgeppg loads weights only from .safetensors "
                           f"(convert a trusted state dict with torch.load(weights_only=True) + safetensors.torch.save_file)")
    if head[:4] == b"PK\x03\x04":
        raise EdgePPGError(f"{path} is a torch.save/zip archive; edgeppg loads weights only from .safetensors "
                           f"(convert a trusted state dict with torch.load(weights_only=True) + safetensors.torch.save_file)")
    if len(head) < 9:
        raise EdgePPGError(f"{path} is truncated ({len(head)} bytes); re-download or re-train it")
    (n,) = struct.unpack("<Q", head[:8])
    if head[8:9] != b"{" or n > 100_000_000:
        raise EdgePPGError(f"{path} is not a safetensors file (bad header); pass a checkpoint written by edgeppg")


def _shipped_hint() -> str:
    """The shipped checkpoints by path (so the hint is right for every caller, name-resolving or not)."""
    from edgeppg.models.registry import MODELS_DIR

    files = sorted(MODELS_DIR.glob("*.safetensors"))
    return ", ".join(f"models/{f.name}" for f in files) or "none in this install"


_FIX = "a checkpoint is <name>.safetensors + its <name>.json sidecar; restore both or re-train"
MAX_WEIGHTS_BYTES = 512 << 20  # 128M fp32 values: far above any edgeppg model; bigger files are refused unread
MAX_HEADER_BYTES = 16 << 20


def _sidecar_schema():
    from edgeppg.models.schema import ARCH_SCHEMAS
    from edgeppg.schema import HEX64, Enum, Int, Json, Obj, Str

    return Obj({"schema": Str(), "arch": Enum(*ARCH_SCHEMAS), "model_config": Obj({}),
                "weights_sha256": Str(HEX64), "weights_file": Str(max_len=255), "params": Int(0, 10**10),
                "weights_dtype": Enum("float32", "float16"), "input": Json(), "data": Json(), "metrics": Json()},
               required=("arch", "model_config", "weights_sha256"))


def read_meta(path: str | Path) -> dict:
    """The sidecar, validated: types and ranges of every key a loader uses, and a bounded model size."""
    from edgeppg.models.schema import ARCH_SCHEMAS, MAX_PARAMS, estimate_params
    from edgeppg.schema import validate

    path = Path(path)
    side = sidecar_path(path)
    meta = read_json_doc(side, SCHEMA, "checkpoint sidecar", _FIX)
    meta = validate(meta, _sidecar_schema(), f"checkpoint sidecar {side}", _FIX)
    meta["model_config"] = validate(meta["model_config"], ARCH_SCHEMAS[meta["arch"]],
                                    f"checkpoint sidecar {side} model_config", _FIX)
    n = estimate_params(meta["arch"], meta["model_config"])
    if n > MAX_PARAMS:
        raise EdgePPGError(f"checkpoint sidecar {side} describes a model of about {n:,} parameters, over the "
                           f"{MAX_PARAMS:,} limit; refusing to allocate it ({_FIX})")
    return meta


def _read_weights(path: Path) -> bytes:
    """The .safetensors bytes, with size and header length checked before the file is read whole."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(16)
            _sniff(path, head)
            (n,) = struct.unpack("<Q", head[:8])
            if n > MAX_HEADER_BYTES or 8 + n > size:
                raise EdgePPGError(f"{path} declares a {n}-byte safetensors header in a {size}-byte file "
                                   f"(limit {MAX_HEADER_BYTES}); the file is corrupt or hostile")
            if size > MAX_WEIGHTS_BYTES:
                raise EdgePPGError(f"{path} is {size} bytes, over the {MAX_WEIGHTS_BYTES}-byte limit for edgeppg "
                                   "checkpoints; refusing to read it")
            fh.seek(0)
            return fh.read()
    except OSError as exc:
        raise EdgePPGError(f"checkpoint {path} cannot be read ({exc.strerror}); pass a readable .safetensors file") from None


def load_state(path: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    """Verified tensors + sidecar, without building a model."""
    path = Path(path)
    if not path.is_file():
        raise EdgePPGError(f"checkpoint {path} not found; pass a .safetensors file written by edgeppg "
                           f"(shipped: {_shipped_hint()})")
    blob = _read_weights(path)
    meta = read_meta(path)
    actual = sha256_bytes(blob)
    if actual != meta.get("weights_sha256"):
        raise EdgePPGError(f"{path} does not match its sidecar (sha256 {actual[:12]}… != {str(meta.get('weights_sha256'))[:12]}…): "
                           f"the file is corrupt, truncated or was modified; restore it or re-train")
    try:
        state = st_load(blob)
    except Exception as exc:  # noqa: BLE001 - safetensors raises several types for malformed files
        raise EdgePPGError(f"{path} is not a readable safetensors file ({exc}); re-download or re-train it") from None
    return {k: (v.float() if v.is_floating_point() else v) for k, v in state.items()}, meta


def load_checkpoint(path: str | Path, expect_arch: str | None = None) -> Checkpoint:
    """Rebuild the model from the sidecar config and load verified weights (strict)."""
    path = Path(path)
    state, meta = load_state(path)
    if expect_arch and meta.get("arch") != expect_arch:
        raise EdgePPGError(f"{path} is a {meta.get('arch')!r} checkpoint, expected {expect_arch!r}")
    try:
        model = build_from_config(meta["arch"], meta["model_config"])
    except (TypeError, ValueError, KeyError, IndexError, ZeroDivisionError) as exc:
        raise EdgePPGError(f"{path}: its sidecar's {meta['arch']} model_config cannot build a model "
                           f"({type(exc).__name__}: {str(exc)[:120]}); the checkpoint is inconsistent") from None
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise EdgePPGError(f"{path} weights do not fit its declared {meta['arch']} config ({first}); the checkpoint is inconsistent") from None
    model.eval()
    return Checkpoint(model=model, meta=meta, path=path)
