"""A small, complete export folder with random seeded weights, for verify/check tests and demos.

It has every file `edgeppg export` writes that verify reads (int8 .tflite with int8 I/O, int8 ONNX,
heldout.npz, parity.json, manifest.json with real sha256s) and the exporter's own graph (`keras_twin(spec)` converted
and slimmed exactly as `edgeppg export` does, via edgeppg.bench.testmodel).
Its accuracy is meaningless (untrained); its sizes, arena and latencies are real measurements.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgeppg.data.windows import RHYTHM_LABELS, Windows, save_windows
from edgeppg.io import atomic_write_bytes, atomic_write_json, sha256_bytes, sha256_file
from edgeppg.models.heads import DEFAULT_HEADS
from edgeppg.models.student import StudentSpec, student_spec


def toy_windows(n: int, seed: int, samples: int = 512, fs_hz: float = 64.0) -> Windows:
    """z-scored pulse-like windows whose labels follow from the drawn heart rate (seeded)."""
    rng = np.random.default_rng(seed)
    t = np.arange(samples) / fs_hz
    hr = rng.uniform(45, 150, n)
    rr = rng.uniform(8, 25, n)
    f, fr = hr / 60.0, rr / 60.0
    x = (np.sin(2 * np.pi * f[:, None] * t) + 0.4 * np.sin(4 * np.pi * f[:, None] * t)) * (1 + 0.2 * np.sin(2 * np.pi * fr[:, None] * t))
    x += 0.2 * rng.standard_normal((n, samples))
    x = (x - x.mean(1, keepdims=True)) / (x.std(1, keepdims=True) + 1e-6)
    rhythm = np.where(hr < 60, 1, np.where(hr > 100, 2, 0))
    beats = [np.round(np.arange(0, t[-1], 1 / fi) * fs_hz).astype(np.int32) for fi in f]
    ptr = np.concatenate([[0], np.cumsum([len(b) for b in beats])])
    return Windows(x=x[:, None, :].astype(np.float32), fs_hz=fs_hz, rhythm=rhythm, hr_bpm=hr, hr_valid=np.ones(n, bool),
                   rr_bpm=rr, beat_idx=np.concatenate(beats), beat_ptr=ptr, window_id=np.arange(n),
                   record_id=np.arange(n) // 4, modality="ppg", normalised=True)


def _onnx_int8(spec: StudentSpec, out: Path, calib_nct: np.ndarray, seed: int) -> None:
    """A torch student of the same spec (random weights) -> ONNX -> ORT static QDQ int8 (latency only)."""
    import torch
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    from edgeppg.models.student import build_student

    torch.manual_seed(seed)
    m = build_student(spec).eval()

    class Flat(torch.nn.Module):  # ONNX export wants a tuple of outputs in head order
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return tuple(self.inner(x).values())

    fp32 = out / "student.onnx"
    torch.onnx.export(Flat(m), torch.zeros(1, spec.in_channels, spec.samples), str(fp32), dynamo=False, opset_version=17,
                      input_names=["ppg"], output_names=[h.name for h in spec.heads])

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter({"ppg": calib_nct[i:i + 1]} for i in range(len(calib_nct)))

        def get_next(self):
            return next(self.it, None)

    quantize_static(str(fp32), str(out / "student_int8.onnx"), Reader(), quant_format=QuantFormat.QDQ,
                    per_channel=True, activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)


def make_toy_export(out_dir: str | Path, preset: str = "s4k", seed: int = 0, n_heldout: int = 24,
                    n_calib: int = 32, onnx: bool = True) -> Path:
    """Write a toy export folder (see module doc) into out_dir and return it."""
    from ai_edge_litert.interpreter import Interpreter

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    spec = student_spec(preset)
    calib = toy_windows(n_calib, seed + 1).x
    held = toy_windows(n_heldout, seed + 2)
    from edgeppg.bench.testmodel import build_keras, convert_int8

    km = build_keras(spec, seed)
    tfl = convert_int8(km, calib.transpose(0, 2, 1))
    atomic_write_bytes(out / "student_int8.tflite", tfl)
    save_windows(out / "heldout.npz", held)
    if onnx:
        _onnx_int8(spec, out, calib, seed)

    it = Interpreter(model_content=tfl)
    it.allocate_tensors()
    ind = it.get_input_details()[0]
    outs = it.get_output_details()
    from edgeppg.export.tflite import io_spec

    _in_q, head_q = io_spec(tfl, spec)  # the exporter's own head -> output-position mapping
    order = {q.name: q.index for q in head_q}
    qp = lambda d: (float(d["quantization_parameters"]["scales"][0]), int(d["quantization_parameters"]["zero_points"][0]))  # noqa: E731

    outputs = []
    for h in DEFAULT_HEADS:
        s, z = qp(outs[order[h.name]])
        d = {"name": h.name, "index": order[h.name], "kind": h.kind, "dtype": "int8", "scale": s, "zero_point": z}
        d.update({k: v for k, v in h.manifest().items() if k in ("n_out", "labels", "unit", "decode")})
        outputs.append(d)

    # parity: fp32 from the Keras model, int8 from LiteRT, both on the held-out windows (toy: untrained)
    from edgeppg.metrics import task_metrics
    from edgeppg.int8.flatbuffer import graph_info as read_graph
    from edgeppg.verify.outputs import decode, output_specs
    from edgeppg.int8.fixedpoint import quantize

    x_nwc = held.x.transpose(0, 2, 1)
    from edgeppg.export.keras_twin import keras_predict

    raw = keras_predict(km, held.x, spec)
    fp32 = task_metrics({h.name: h.decode(np.asarray(raw[h.name])) for h in DEFAULT_HEADS}, held)
    s_in, z_in = qp(ind)
    q = quantize(x_nwc, s_in, z_in)
    res = []
    for i in range(len(q)):
        it.set_tensor(ind["index"], q[i:i + 1])
        it.invoke()
        res.append([it.get_tensor(d["index"]).copy() for d in outs])
    manifest_like = {"outputs": outputs}
    specs = output_specs(manifest_like, outs)
    int8 = task_metrics(decode(specs, [np.concatenate([r[k] for r in res]) for k in range(len(outs))]), held)
    keys = ("rhythm_macro_f1", "hr_mae_bpm", "rr_mae_bpm")
    atomic_write_json(out / "parity.json", {
        "torch_fp32": {k: fp32[k] for k in keys}, "int8_tflite": {k: int8[k] for k in keys},
        "tflite_ops": sorted(read_graph(out / "student_int8.tflite").ops),
        "note": "toy export: fp32 figures from the Keras model (no torch checkpoint)"})

    arts = {}
    for name in ("student_int8.tflite", "heldout.npz", "parity.json", "student.onnx", "student_int8.onnx"):
        p = out / name
        if p.is_file():
            arts[name] = {"bytes": p.stat().st_size, "sha256": sha256_file(p)}
    atomic_write_json(out / "manifest.json", {
        "schema": "edgeppg.manifest/1",
        "model": {"name": f"toy-{spec.name}", "params": spec.params(), "macs": spec.macs(),
                  "source_checkpoint_sha256": sha256_bytes(b"toy"), "student": spec.to_json()},
        "input": {"name": "ppg", "fs_hz": spec.fs_hz, "window_s": spec.samples / spec.fs_hz, "channels": spec.in_channels,
                  "shape": [1, spec.samples, spec.in_channels], "normalisation": {"kind": "zscore", "eps": 1e-6},
                  "polarity": "pulse-up", "dtype": "int8", "scale": s_in, "zero_point": z_in},
        "outputs": outputs,
        "artifacts": arts,
        "calibration": {"windows": n_calib, "seed": seed + 1, "ids_sha256": sha256_bytes(np.arange(n_calib).tobytes())},
        "versions": {},
        "note": "toy export (random seeded weights) from edgeppg.verify.toy — for tests and demos",
        "labels": list(RHYTHM_LABELS),
    })
    return out


def _versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for dist in ("tensorflow-cpu", "tensorflow", "onnxruntime", "torch", "ai-edge-litert", "tflite-micro"):
        try:
            out.append(version(dist))
        except PackageNotFoundError:
            out.append("-")
    return ",".join(out)


def cached_build(cache_root: str | Path, name: str, key: bytes, build, timeout_s: float = 600.0) -> Path:
    """Run build(dir) once per (name, key) under cache_root, shared by pytest-xdist workers; reuse afterwards.

    The folder is published by an atomic rename, so concurrent callers never see a half-built one. Callers
    that modify files must copy the folder first.
    """
    import hashlib
    import os
    import shutil
    import tempfile
    import time

    digest = hashlib.sha256(key + _versions().encode()).hexdigest()[:12]
    root = Path(cache_root)
    root.mkdir(parents=True, exist_ok=True)
    final, lock = root / f"{name}-{digest}", root / f"{name}-{digest}.lock"
    deadline = time.monotonic() + timeout_s
    while not (final / "manifest.json").is_file():
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:  # another worker is building it: wait, unless its lock is stale
            if time.time() - lock.stat().st_mtime > timeout_s:
                lock.unlink(missing_ok=True)
            elif time.monotonic() > deadline:
                raise TimeoutError(f"{final} not built within {timeout_s} s (lock {lock})")
            time.sleep(0.5)
            continue
        try:
            os.close(fd)
            tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=root))
            try:
                build(tmp / "export")
                if final.exists():
                    shutil.rmtree(final)
                os.replace(tmp / "export", final)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        finally:
            lock.unlink(missing_ok=True)
    return final


def cached_toy_export(cache_root: str | Path, preset: str = "s4k", seed: int = 0) -> Path:
    """The toy export, built once per cache root and keyed by this module's source and the arguments."""
    key = Path(__file__).read_bytes() + f"{preset}:{seed}".encode()
    return cached_build(cache_root, "edgeppg-toy", key, lambda d: make_toy_export(d, preset, seed))
