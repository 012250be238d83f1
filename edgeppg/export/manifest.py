"""manifest.json (docs/design.md §4): what firmware, `verify` and `bench` read instead of the checkpoint."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path
from typing import Any

from edgeppg import __version__
from edgeppg.data.signal import ZSCORE_EPS
from edgeppg.export.tflite import TensorQ
from edgeppg.io import sha256_file
from edgeppg.models.student import StudentSpec

SCHEMA = "edgeppg.manifest/1"


def _version(*dists: str) -> str | None:
    for d in dists:
        try:
            return metadata.version(d)
        except metadata.PackageNotFoundError:
            continue
    return None


def versions() -> dict[str, str | None]:
    return {"edgeppg": __version__, "torch": _version("torch"), "tensorflow": _version("tensorflow-cpu", "tensorflow"),
            "onnx": _version("onnx"), "onnxruntime": _version("onnxruntime"), "numpy": _version("numpy"),
            "ai_edge_litert": _version("ai-edge-litert"), "tflite_micro": _version("tflite-micro")}


def artifact_entries(folder: Path, files: list[str]) -> dict[str, dict[str, Any]]:
    return {f: {"bytes": (folder / f).stat().st_size, "sha256": sha256_file(folder / f)} for f in sorted(files)}


def build_manifest(*, name: str, spec: StudentSpec, ckpt_sha256: str, in_q: TensorQ, out_q: list[TensorQ],
                   artifacts: dict, calibration: dict, heldout: dict, data_source: dict, quantization: dict,
                   runtime: dict, allow_degradation: bool, failures: list[str],
                   preprocessing: dict | None = None) -> dict[str, Any]:
    outputs = []
    for h, q in zip(spec.heads, out_q):
        entry = h.manifest()
        entry.update(index=q.index, shape=list(q.shape), dtype=q.dtype, scale=q.scale, zero_point=q.zero_point)
        outputs.append(entry)
    return {
        "schema": SCHEMA,
        "model": {"name": name, "params": spec.params(), "macs": spec.macs(), "source_checkpoint_sha256": ckpt_sha256,
                  "student": spec.to_json()},
        "input": {"name": "ppg", "fs_hz": spec.fs_hz, "window_s": spec.samples / spec.fs_hz, "channels": spec.in_channels,
                  "shape": list(in_q.shape), "layout": "NWC",
                  "normalisation": {"kind": "zscore", "eps": ZSCORE_EPS, "ddof": 0, "per": "window and channel"},
                  # every step from raw samples to the float input, exactly (edgeppg/preprocess.py)
                  "preprocessing": preprocessing or {"kind": "zscore", "fs_hz": spec.fs_hz,
                                                     "window_s": spec.samples / spec.fs_hz, "eps": ZSCORE_EPS},
                  "polarity": "pulse-up", "dtype": in_q.dtype, "scale": in_q.scale, "zero_point": in_q.zero_point,
                  "onnx_shape": ["batch", spec.in_channels, spec.samples]},
        "outputs": outputs,
        "artifacts": artifacts,
        "calibration": calibration,
        "heldout": heldout,
        # the corpus is identified by content hash; a local path would make the manifest machine-dependent
        "data": {k: v for k, v in data_source.items() if k != "corpus_dir"},
        "quantization": quantization,
        "runtime": runtime,
        "versions": versions(),
        "allow_degradation": allow_degradation,
        "degradations": failures,
    }
