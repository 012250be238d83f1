"""`export_student`: checkpoint -> ONNX fp32/int8, int8 TFLite, C array, manifest, parity; all or nothing.

Every artifact is produced from one BN-folded float model (`FoldedStudent`), scored on the same held-out
windows by every backend, and gated: correctness checks (ONNX/Keras parity, TFLM == LiteRT reference,
clean int8 graph) always fail the export; accuracy tolerances fail it unless `allow_degradation`.
Files are assembled in a hidden sibling folder and renamed into place only when everything passed.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from edgeppg.config import ExportConfig
from edgeppg.errors import CheckFailed, EdgePPGError
from edgeppg.export import c_array, tflite
from edgeppg.export.data import ExportData, export_data, ids_sha256
from edgeppg.export.fold import FoldedStudent, fold_student
from edgeppg.export.manifest import artifact_entries, build_manifest
from edgeppg.export.onnx_export import export_onnx_fp32, quantize_onnx_int8, run_onnx
from edgeppg.export.slim import slim_tflite
from edgeppg.int8.flatbuffer import op_names
from edgeppg.int8.tflm import allocation_total
from edgeppg.faults import hold_point
from edgeppg.preprocess import from_input_spec
from edgeppg.names import check_model_name
from edgeppg.io import atomic_write_bytes, atomic_write_json, atomic_write_text
from edgeppg.metrics import decode_outputs, task_metrics

FILES = ("student.onnx", "student_int8.onnx", "student_int8.tflite", "model_data.c", "model_data.h",
         "heldout.npz", "parity.json", "manifest.json")
METRIC_KEYS = ("rhythm_macro_f1", "hr_mae_bpm", "rr_mae_bpm")
KERAS_PARITY_WINDOWS = 16  # the batch-1 Keras twin is slow to call; a few windows prove the weight transfer


@dataclass
class ExportResult:
    out_dir: Path
    manifest: dict[str, Any]
    parity: dict[str, Any]
    degradations: list[str]
    seconds: dict[str, float] = field(default_factory=dict)  # stage timings (kept out of the files: reruns are byte-identical)


@dataclass
class Built:
    """The artifacts of one set of float weights."""

    folded: FoldedStudent
    onnx_fp32: bytes
    onnx_int8: bytes
    tflite: bytes
    in_q: tflite.TensorQ
    out_q: list[tflite.TensorQ]
    ops: list[str]
    keras_max_abs_diff: float
    slim: dict = field(default_factory=dict)  # slim_tflite's report: converter bytes and bytes saved per item


def _sig(x: float, digits: int = 6) -> float | None:
    """Round to significant digits: keeps parity.json stable and readable."""
    if x is None or not math.isfinite(x):
        return None
    return float(f"{x:.{digits}g}")


def _torch_raw(model, x: np.ndarray, names: list[str], batch: int = 128) -> dict[str, np.ndarray]:
    parts = {n: [] for n in names}
    with torch.no_grad():
        for i in range(0, len(x), batch):
            out = model(torch.from_numpy(np.ascontiguousarray(x[i:i + batch])))
            for n in names:
                parts[n].append(out[n].numpy())
    return {n: np.concatenate(v) for n, v in parts.items()}


def _metrics(spec, raw: dict[str, np.ndarray], w) -> dict[str, float | None]:
    m = task_metrics(decode_outputs(spec.heads, raw), w)
    return {k: _sig(m[k]) for k in METRIC_KEYS if k in m}


@dataclass(frozen=True)
class ExportArch:
    """What export needs from one model family; ONNX, TFLite, C array, parity and manifest are arch-free.

    The inference-form model is an eval torch module returning {head: tensor} with a `.spec` (name, heads,
    samples, fs_hz, in_channels, to_json) like StudentSpec. A new family = one entry in ARCHS.
    """

    fold: Callable[[Any], Any]  # checkpoint model -> inference form (e.g. BatchNorm folded)
    keras: Callable[[Any], Any]  # inference form -> Keras twin with its weights (the TFLite converter's input)
    qat: Callable[..., tuple[Any, dict]] | None = None  # quantization-aware fine-tune; None: the family has none


def _student_keras(folded: FoldedStudent):
    from edgeppg.export.keras_twin import keras_twin, load_torch_weights

    km = keras_twin(folded.spec)
    load_torch_weights(km, folded)
    return km


def _student_qat(folded: FoldedStudent, *args):
    from edgeppg.export.qat import qat_finetune

    return qat_finetune(folded, *args)


ARCHS = {"student": ExportArch(fold_student, _student_keras, _student_qat)}  # checkpoint meta "arch" -> exporter


def build(folded: FoldedStudent, data: ExportData, cfg: ExportConfig, seed: int,
          arch: ExportArch = ARCHS["student"]) -> Built:
    """ONNX fp32 + int8, Keras twin (parity-checked) -> int8 TFLite, its I/O spec and op list."""
    import tensorflow as tf

    from edgeppg.export.keras_twin import keras_predict

    spec = folded.spec
    names = [h.name for h in spec.heads]
    onnx_fp32 = export_onnx_fp32(folded, cfg.opset)
    onnx_int8 = quantize_onnx_int8(onnx_fp32, data.calib.x)
    tf.keras.backend.clear_session()  # fresh layer-name counters: identical graphs (and bytes) on every run
    km = arch.keras(folded)
    xs = data.heldout.x[:KERAS_PARITY_WINDOWS]
    kout, tout = keras_predict(km, xs, spec), _torch_raw(folded, xs, names)
    keras_diff = max(float(np.abs(kout[n] - tout[n]).max()) for n in names)
    # Slim right after conversion, so everything below (I/O spec, scoring, gates, C array, manifest hashes)
    # sees the model that ships; slim_tflite refuses to return a model that reads differently.
    blob, slim_report = slim_tflite(tflite.convert_int8(km, data.calib.x.transpose(0, 2, 1), seed=seed))
    in_q, out_q = tflite.io_spec(blob, spec)
    return Built(folded, onnx_fp32, onnx_int8, blob, in_q, out_q, op_names(blob), keras_diff, slim_report)


# proving each mismatch costs an extra interpreter pair; more than this is a real bug. Ties grow with the outputs
# per window: an HR-bins head (64 logits) left 31 of 500 windows 1 LSB apart, every traced one a proven tie
MAX_EXPLAINED_WINDOWS = 64


def _ref_mismatches(b: Built, xq: np.ndarray, tflm: dict, ref: dict, names: list[str]) -> dict[str, Any]:
    """Windows where TFLM and LiteRT reference kernels differ, each traced to its first diverging op."""
    from edgeppg.export.rounding import explain

    diff = np.zeros(len(xq), bool)
    for n in names:
        diff |= (tflm[n] != ref[n]).any(axis=1)
    idx = np.flatnonzero(diff)
    found = [dict(window=int(i), **explain(b.tflite, xq[i:i + 1])) for i in idx[:MAX_EXPLAINED_WINDOWS]]
    unexplained = [f for f in found if not f["explained"]]
    return {"windows": int(len(idx)), "explained_as_rounding_tie": int(len(found) - len(unexplained)),
            "unexplained": unexplained + ([{"windows_not_traced": int(len(idx) - len(found))}]
                                          if len(idx) > len(found) else []),
            "details": found}


def score(b: Built, model, data: ExportData, qat_applied: bool = False) -> dict[str, Any]:
    """Every backend on the held-out windows -> the parity report.

    ONNX fp32 is compared with the checkpoint's own torch model (so BN folding is checked too), or with
    the fine-tuned float weights after QAT; task metrics' fp32 baseline is always the checkpoint.
    """
    spec = model.spec
    names = [h.name for h in spec.heads]
    w = data.heldout
    ref = _torch_raw(model, w.x, names)
    shipped = _torch_raw(b.folded, w.x, names) if qat_applied else ref
    onnx_fp = run_onnx(b.onnx_fp32, w.x, names)
    onnx_q = run_onnx(b.onnx_int8, w.x, names)
    xq = tflite.quantize_input(w.x, b.in_q)
    tflm = tflite.run_tflm(b.tflite, xq, b.out_q)
    lite_ref = tflite.run_litert(b.tflite, xq, b.out_q, reference=True)
    lite_opt = tflite.run_litert(b.tflite, xq, b.out_q, reference=False)
    lsb = lambda a, c: max(int(np.abs(a[n].astype(np.int32) - c[n].astype(np.int32)).max()) for n in names)  # noqa: E731
    deq = {q.name: tflite.dequantize(tflm[q.name], q) for q in b.out_q}
    mism = _ref_mismatches(b, xq, tflm, lite_ref, names)
    return {
        "onnx_fp32_max_abs_diff": _sig(max(float(np.abs(onnx_fp[n] - shipped[n]).max()) for n in names), 3),
        "torch_fp32": _metrics(spec, ref, w),
        "onnx_int8": _metrics(spec, onnx_q, w),
        "int8_tflite": _metrics(spec, deq, w),
        "tflite_ops": b.ops,
        "tflm_vs_litert_ref_max_lsb": lsb(tflm, lite_ref),
        "tflm_vs_litert_ref_mismatch": mism,
        "litert_vs_tflm_max_lsb": lsb(tflm, lite_opt),
        "keras_fp32_max_abs_diff": _sig(b.keras_max_abs_diff, 3),
        "tflite_int8_vs_fp32_max_abs_diff": {n: _sig(float(np.abs(deq[n] - shipped[n]).max()), 4) for n in names},
        "heldout_windows": len(w),
        "tflm_arena_bytes": allocation_total(b.tflite, xq[:1])[0],  # TFLM's reported total, not the minimum arena
        "tflite_bytes": len(b.tflite),
        "tflite_slim": b.slim,
    }


def gate(parity: dict, b: Built, cfg: ExportConfig) -> tuple[list[str], list[str]]:
    """(hard failures, accuracy degradations) — each a sentence naming the check and by how much."""
    hard = [f"TFLite graph: {p}" for p in tflite.check_graph(b.ops, b.in_q, b.out_q)]
    d = parity["onnx_fp32_max_abs_diff"]
    if d is None or d > cfg.max_onnx_abs_diff:
        hard.append(f"ONNX fp32 vs torch max abs diff {d} > {cfg.max_onnx_abs_diff:g}")
    d = parity["keras_fp32_max_abs_diff"]
    if d is None or d > cfg.max_onnx_abs_diff:
        hard.append(f"Keras twin fp32 vs torch max abs diff {d} > {cfg.max_onnx_abs_diff:g}")
    mm = parity["tflm_vs_litert_ref_mismatch"]
    if mm["unexplained"]:
        hard.append(f"TFLM vs LiteRT reference kernels differ by up to {parity['tflm_vs_litert_ref_max_lsb']} LSB on "
                    f"{mm['windows']} held-out windows, not explained by requantization rounding ties (first: "
                    f"{mm['unexplained'][0]})")
    soft = []
    fp, q = parity["torch_fp32"], parity["int8_tflite"]
    if fp.get("hr_mae_bpm") is not None and q.get("hr_mae_bpm") is not None:
        inc = q["hr_mae_bpm"] - fp["hr_mae_bpm"]
        if inc > cfg.max_hr_mae_increase_bpm:
            soft.append(f"int8 TFLite HR MAE is {inc:.3f} BPM worse than fp32 ({fp['hr_mae_bpm']:.3f} -> "
                        f"{q['hr_mae_bpm']:.3f}; tolerance {cfg.max_hr_mae_increase_bpm:g})")
    if fp.get("rhythm_macro_f1") is not None and q.get("rhythm_macro_f1") is not None:
        drop = fp["rhythm_macro_f1"] - q["rhythm_macro_f1"]
        if drop > cfg.max_f1_drop:
            soft.append(f"int8 TFLite rhythm macro-F1 is {drop:.4f} lower than fp32 ({fp['rhythm_macro_f1']:.4f} -> "
                        f"{q['rhythm_macro_f1']:.4f}; tolerance {cfg.max_f1_drop:g})")
    return hard, soft


def _old_slot(out: Path) -> Path:
    return out.with_name(f".{out.name}.old")


def _publish(staging: Path, out: Path) -> None:
    """Swap the finished folder into place (an old export there is replaced whole).

    Crash-safe with `_recover`: killed between the two renames, the old export waits in a fixed-name slot
    and the next export puts it back (or drops it once a new one is in place)."""
    if out.exists():
        old = _old_slot(out)
        if old.exists():
            shutil.rmtree(old)
        os.replace(out, old)
        hold_point("export-swap")
        os.replace(staging, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, out)


def _recover(out: Path) -> None:
    """Undo what a killed export left beside `out`: restore the old folder if `out` is missing, drop stale staging."""
    old = _old_slot(out)
    if old.is_dir():
        if out.exists():
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(old, out)
    import re

    mkdtemp_name = re.compile(rf"\.{re.escape(out.name)}\.[A-Za-z0-9_]{{6,16}}\.tmp")
    for stale in out.parent.glob(f".{out.name}.*.tmp"):  # staging folders of killed exports (mkdtemp names)
        if stale.is_dir() and mkdtemp_name.fullmatch(stale.name):
            shutil.rmtree(stale, ignore_errors=True)


_OWN_EXTRA = {".edgeppg", "verify", "bench.json", "firmware"}  # what edgeppg itself puts beside the FILES of an export


def _is_legacy_export(out: Path) -> bool:
    """An export folder written before the .edgeppg marker: edgeppg's manifest schema and only edgeppg's files."""
    import json

    try:
        doc = json.loads((out / "manifest.json").read_text()[:1 << 20])
    except (OSError, ValueError, RecursionError):
        return False
    return (isinstance(doc, dict) and doc.get("schema") == "edgeppg.manifest/1"
            and all(p.name in FILES or p.name in _OWN_EXTRA for p in out.iterdir()))


def _check_out(out: Path) -> None:
    """Refuse before any work: --out is a file, unwritable, or a non-empty folder that is not an edgeppg export
    (an export is replaced whole, so only a folder edgeppg made may be replaced)."""
    from edgeppg.outdir import check_writable, has_marker, only_markers

    check_writable(out, "--out")
    if not out.is_dir() or only_markers(out) or has_marker(out) or _is_legacy_export(out):
        return
    raise EdgePPGError(f"--out {out} is a non-empty folder edgeppg did not create (no .edgeppg marker); an export "
                       "replaces its folder whole, so choose a new or empty folder")


def _write(folder: Path, name: str, b: Built, data: ExportData, parity: dict, ckpt, cfg: ExportConfig,
           quantization: dict, degradations: list[str]) -> dict:
    from edgeppg.data.windows import save_windows

    atomic_write_bytes(folder / "student.onnx", b.onnx_fp32)
    atomic_write_bytes(folder / "student_int8.onnx", b.onnx_int8)
    atomic_write_bytes(folder / "student_int8.tflite", b.tflite)
    atomic_write_text(folder / "model_data.h", c_array.model_data_h(name, len(b.tflite), b.in_q, b.out_q))
    atomic_write_text(folder / "model_data.c", c_array.model_data_c(name, b.tflite))
    save_windows(folder / "heldout.npz", data.heldout)
    atomic_write_json(folder / "parity.json", parity)
    manifest = build_manifest(
        name=name, spec=b.folded.spec, ckpt_sha256=ckpt.sha256, in_q=b.in_q, out_q=b.out_q,
        preprocessing=from_input_spec(ckpt.meta.get("input")).to_json(),
        artifacts=artifact_entries(folder, [f for f in FILES if f != "manifest.json"]),
        calibration={"windows": len(data.calib), "seed": cfg.calib_seed, "ids_sha256": ids_sha256(data.calib),
                     "split": "train", "method": "minmax", "window_ids": data.calib.window_id.tolist()},
        heldout={"file": "heldout.npz", "windows": len(data.heldout), "ids_sha256": ids_sha256(data.heldout),
                 "split": "test"},
        data_source=data.source, quantization=quantization,
        runtime={"tflm_arena_bytes": parity["tflm_arena_bytes"], "tflite_ops": b.ops, "opset": cfg.opset,
                 "tflite_slim": b.slim},
        allow_degradation=cfg.allow_degradation, failures=degradations)
    atomic_write_json(folder / "manifest.json", manifest)
    return manifest


def export_student(ckpt_path: str | os.PathLike, out_dir: str | os.PathLike, cfg: ExportConfig,
                   data: Any = None, log=None) -> ExportResult:
    """Export a student checkpoint; raises CheckFailed (nothing written) when a check or tolerance fails."""
    from edgeppg.train.checkpoint import load_checkpoint

    say = log or (lambda msg: None)
    t0 = time.perf_counter()
    out = Path(out_dir)
    _recover(out)
    _check_out(out)
    from edgeppg.export.data import resolve_student

    ckpt_path = resolve_student(ckpt_path)  # a shipped student's name works like its path
    ckpt = load_checkpoint(ckpt_path)
    arch = ARCHS.get(ckpt.meta.get("arch"))
    if arch is None:
        raise EdgePPGError(f"{ckpt_path} is a {ckpt.meta.get('arch')!r} checkpoint; export knows "
                           f"{', '.join(map(repr, sorted(ARCHS)))} (edgeppg.export.pipeline.ARCHS)")
    model, spec = ckpt.model.eval(), ckpt.model.spec
    name = check_model_name(cfg.name or spec.name, "model name (--name / [export] name / the checkpoint's spec)")
    seed = cfg.calib_seed
    torch.manual_seed(seed)
    np.random.seed(seed)
    data = export_data(data, ckpt.meta, spec, cfg, ckpt_path=ckpt_path)
    secs = {"data": time.perf_counter() - t0}
    say(f"data: {len(data.calib)} calibration (train) / {len(data.heldout)} held-out (test) windows"
        + (f" ({data.origin})" if data.origin else ""))

    t = time.perf_counter()
    b = build(arch.fold(model), data, cfg, seed, arch)
    parity = score(b, model, data)
    hard, soft = gate(parity, b, cfg)
    secs["ptq"] = time.perf_counter() - t
    qat_info: dict[str, Any] = {"applied": False}
    if not hard and soft and cfg.qat and arch.qat is not None:
        if data.train is None:
            raise EdgePPGError("post-training int8 missed a tolerance (" + "; ".join(soft) + "); " + data.qat_missing)
        say("post-training int8 missed a tolerance: " + "; ".join(soft) + " -> quantization-aware fine-tune")
        t = time.perf_counter()
        folded_q, qat_info = arch.qat(b.folded, data.train.x, data.calib.x, cfg, seed)
        qat_info["ptq_degradations"] = soft
        b = build(folded_q, data, cfg, seed, arch)
        parity = score(b, model, data, qat_applied=True)
        hard, soft = gate(parity, b, cfg)
        secs["qat"] = time.perf_counter() - t
    parity["qat"] = qat_info
    parity["tolerances"] = {"max_onnx_abs_diff": cfg.max_onnx_abs_diff, "max_hr_mae_increase_bpm": cfg.max_hr_mae_increase_bpm,
                            "max_f1_drop": cfg.max_f1_drop,
                            "tflm_vs_litert_ref": "0 LSB, except 1-LSB requantization ties proven per window (rounding.py)"}
    parity["failures"] = hard + soft
    parity["passed"] = not (hard + soft)
    if hard or (soft and not cfg.allow_degradation):
        hint = "" if hard else (" Retry with --qat (quantization-aware fine-tune) or accept the loss with "
                                "--allow-degradation." if not cfg.qat else " Accept the loss with --allow-degradation.")
        raise CheckFailed(f"export of {Path(ckpt_path).name} failed {len(hard + soft)} check(s): "
                          + "; ".join(hard + soft) + f". Nothing was written to {out}." + hint)
    quantization = {"tflite": "full-integer int8 (TFLITE_BUILTINS_INT8), int8 input and output",
                    "weights": "int8 per-channel symmetric (conv), per-tensor (fully connected)",
                    "activations": "int8 per-tensor asymmetric", "onnx": "QDQ static, per-channel weights, MinMax",
                    "keras_layout": "conv as 1xk Conv2D on [1, 1, T, C]", "qat": qat_info}

    t = time.perf_counter()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        manifest = _write(staging, name, b, data, parity, ckpt, cfg, quantization, soft)
        from edgeppg.firmware.library import write_for_export

        write_for_export(staging, say)  # firmware/: the drop-in C library (its own MANIFEST.json; manifest unchanged)
        from edgeppg.outdir import write_marker

        write_marker(staging, "export")  # the next export may replace this folder; nothing else of the user's
        umask = os.umask(0)
        os.umask(umask)
        staging.chmod(0o777 & ~umask)  # mkdtemp makes 0700; the export should look like any new folder
        _publish(staging, out)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    secs["write"] = time.perf_counter() - t
    secs["total"] = time.perf_counter() - t0
    return ExportResult(out_dir=out, manifest=manifest, parity=parity, degradations=soft, seconds=secs)
