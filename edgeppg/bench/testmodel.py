"""A stand-in int8 .tflite built from a StudentSpec, for tests and demos before `edgeppg export` exists.

Same route as the exporter (DESIGN §5), through its own code: `keras_twin(spec)` + `convert_int8` + slimming,
full-integer with int8 input and output. Weights are random but seeded, BN-free (as if folded).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from edgeppg.io import atomic_write_bytes, atomic_write_json, sha256_file
from edgeppg.models.student import StudentSpec, student_spec


def build_keras(spec: StudentSpec, seed: int = 0):
    """The exporter's own Keras twin of `spec` with seeded random weights and biases (as if BN were folded).

    Using `edgeppg.export.keras_twin` keeps stand-ins on exactly the graph shape that `edgeppg export` ships.
    """
    import tensorflow as tf

    from edgeppg.export.keras_twin import keras_twin

    tf.keras.utils.set_random_seed(seed)
    model = keras_twin(spec)
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        w = layer.get_weights()
        if len(w) == 2:  # kernel + bias: He-scaled kernel, small random bias so bias paths are exercised
            fan_in = int(np.prod(w[0].shape[:-1])) if w[0].ndim > 1 else 1
            kernel = rng.normal(0.0, np.sqrt(2.0 / max(fan_in, 1)), w[0].shape).astype(np.float32)
            layer.set_weights([kernel, rng.uniform(-0.1, 0.1, w[1].shape).astype(np.float32)])
    return model


def synthetic_windows(n: int, samples: int = 512, channels: int = 1, seed: int = 0) -> np.ndarray:
    """Standardised pulse-like float windows (N, T, C): a sinusoid with harmonics plus noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(samples) / 64.0
    f = rng.uniform(0.8, 3.0, (n, 1))
    ph = rng.uniform(0, 2 * np.pi, (n, 1))
    x = np.sin(2 * np.pi * f * t + ph) + 0.4 * np.sin(4 * np.pi * f * t + 2 * ph) + 0.3 * rng.standard_normal((n, samples))
    x = (x - x.mean(1, keepdims=True)) / (x.std(1, keepdims=True) + 1e-6)
    return np.repeat(x[:, :, None], channels, axis=2).astype(np.float32)


def convert_int8(model, calib: np.ndarray) -> bytes:
    """Exactly the exporter's route: int8 conversion, then the same flatbuffer slimming."""
    from edgeppg.export.slim import slim_tflite
    from edgeppg.export.tflite import convert_int8 as export_convert

    return slim_tflite(export_convert(model, calib))[0]


def make_test_export(out_dir: str | os.PathLike, preset: str = "s12k", seed: int = 0, n_calib: int = 32,
                     n_test: int = 0) -> Path:
    """Write an export-like dir: student_int8.tflite + manifest.json (+ test.npz of float windows if n_test)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    spec = student_spec(preset)
    model = build_keras(spec, seed)
    tfl = convert_int8(model, synthetic_windows(n_calib, spec.samples, spec.in_channels, seed))
    atomic_write_bytes(out / "student_int8.tflite", tfl)
    arts = {"student_int8.tflite": {"bytes": len(tfl), "sha256": sha256_file(out / "student_int8.tflite")}}
    if n_test:
        from edgeppg.io import save_npz
        save_npz(out / "test.npz", {"x": synthetic_windows(n_test, spec.samples, spec.in_channels, seed + 1000)})
        arts["test.npz"] = {"bytes": (out / "test.npz").stat().st_size, "sha256": sha256_file(out / "test.npz")}
    atomic_write_json(out / "manifest.json", {
        "schema": "edgeppg.manifest/1",
        "model": {"name": spec.name, "params": spec.params(), "macs": spec.macs(), "student": spec.to_json()},
        "input": {"name": "ppg", "shape": [1, spec.samples, spec.in_channels], "dtype": "int8"},
        "artifacts": arts,
        "note": "stand-in test export (random seeded weights) from edgeppg.bench.testmodel",
    })
    return out
