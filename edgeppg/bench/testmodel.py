"""A stand-in int8 .tflite built from a StudentSpec, for tests and demos before `edgeppg export` exists.

Same route as the exporter (DESIGN §5): a Keras twin with explicit ZeroPadding1D + valid convs, converted
full-integer with int8 input and output. Weights are random but seeded, BN-free (as if folded).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from edgeppg.io import atomic_write_bytes, atomic_write_json, sha256_file
from edgeppg.models.student import StudentSpec, student_spec


def build_keras(spec: StudentSpec, seed: int = 0):
    import tensorflow as tf

    tf.keras.utils.set_random_seed(seed)
    L = tf.keras.layers
    init = tf.keras.initializers.HeNormal(seed=seed)
    binit = tf.keras.initializers.RandomUniform(-0.1, 0.1, seed=seed + 1)
    x_in = tf.keras.Input((spec.samples, spec.in_channels), name="ppg")
    x = x_in

    def act(name):
        return L.ReLU(6.0) if name == "relu6" else L.ReLU()

    for b in spec.blocks:
        skip = x
        if b.kind == "conv":
            y = L.ZeroPadding1D(b.pad)(x) if b.pad else x
            y = L.Conv1D(b.out_ch, b.kernel, b.stride, "valid", kernel_initializer=init, bias_initializer=binit)(y)
        else:
            y = L.ZeroPadding1D(b.pad)(x) if b.pad else x
            y = L.DepthwiseConv1D(b.kernel, b.stride, "valid", depthwise_initializer=init, bias_initializer=binit)(y)
            y = act(b.act)(y)
            y = L.Conv1D(b.out_ch, 1, kernel_initializer=init, bias_initializer=binit)(y)
        if b.residual:
            y = L.Add()([y, skip])
        x = act(b.act)(y)
    f = L.GlobalAveragePooling1D()(x)
    outs = [L.Dense(h.n_out, name=h.name, bias_initializer=binit)(f) for h in spec.heads]
    return tf.keras.Model(x_in, outs)


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
    import tensorflow as tf

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([calib[i:i + 1]] for i in range(len(calib)))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    return conv.convert()


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
        "model": {"name": spec.name, "params": spec.params(), "macs": spec.macs()},
        "input": {"name": "ppg", "shape": [1, spec.samples, spec.in_channels], "dtype": "int8"},
        "artifacts": arts,
        "note": "stand-in test export (random seeded weights) from edgeppg.bench.testmodel",
    })
    return out
