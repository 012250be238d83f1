"""Full-integer int8 TFLite conversion, the model's I/O spec per head, and head-keyed runs for scoring.

The runtimes themselves (TFLM, LiteRT) and the arithmetic live in `edgeppg.int8`; this module only maps
their outputs to heads. TensorFlow is imported inside functions only (seconds of import time).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import numpy as np

from edgeppg.errors import EdgePPGError
from edgeppg.int8.fixedpoint import dequantize as quant_dequantize
from edgeppg.int8.fixedpoint import quantize
from edgeppg.int8.litert import LiteRTRunner
from edgeppg.int8.tflm import TFLMRunner
from edgeppg.models.student import StudentSpec

# Ops the firmware resolver must not need (TRANSPOSE/GATHER) or that mean float islands (QUANTIZE/DEQUANTIZE).
FORBIDDEN_OPS = ("TRANSPOSE", "GATHER", "QUANTIZE", "DEQUANTIZE")


def convert_int8(keras_model, calib_nwc: np.ndarray, seed: int = 0) -> bytes:
    """Keras -> int8 TFLite with int8 input AND output; calibration windows fed one by one in order."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(seed)  # the converter has no randomness we know of; pin it anyway
    calib_nwc = np.ascontiguousarray(calib_nwc, dtype=np.float32)

    def representative():
        for i in range(len(calib_nwc)):
            yield [calib_nwc[i:i + 1]]

    conv = tf.lite.TFLiteConverter.from_keras_model(keras_model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    with _quiet_fd(1), _quiet_fd(2):  # the converter prints the SavedModel signature and MLIR chatter
        return bytes(conv.convert())


@contextlib.contextmanager
def _quiet_fd(fd: int):
    saved = os.dup(fd)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), fd)
            yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


@dataclass(frozen=True)
class TensorQ:
    name: str
    index: int  # position in the model's input/output list
    shape: tuple[int, ...]
    dtype: str
    scale: float
    zero_point: int


def _q(d: dict, pos: int, name: str) -> TensorQ:
    scale, zp = d["quantization"]
    return TensorQ(name, pos, tuple(int(s) for s in d["shape"]), np.dtype(d["dtype"]).name, float(scale), int(zp))


def io_spec(blob: bytes, spec: StudentSpec) -> tuple[TensorQ, list[TensorQ]]:
    """Input and per-head outputs (in head order) with their position in the TFLite output list.

    The converter does not keep Keras output order (e.g. [hr, rhythm, rr]); the serving signature maps
    "output_<i>" (Keras output i = head i) to a tensor, whose position in the output list is the index.
    """
    it = LiteRTRunner(blob).interpreter
    ins = it.get_input_details()
    if len(ins) != 1:
        raise EdgePPGError(f"expected 1 TFLite input, found {len(ins)}")
    outs = it.get_output_details()
    pos_of_tensor = {d["index"]: i for i, d in enumerate(outs)}
    runner = it.get_signature_runner()
    sig_out = runner.get_output_details()
    heads = []
    for hi, h in enumerate(spec.heads):
        key = f"output_{hi}"
        if key not in sig_out:
            raise EdgePPGError(f"TFLite signature lacks {key} for head {h.name}; outputs are {sorted(sig_out)}")
        pos = pos_of_tensor[sig_out[key]["index"]]
        heads.append(_q(outs[pos], pos, h.name))
        if heads[-1].shape[-1] != h.n_out:
            raise EdgePPGError(f"TFLite output {pos} for head {h.name} has shape {heads[-1].shape}, expected (1, {h.n_out})")
    return _q(ins[0], 0, "ppg"), heads


def quantize_input(x_nct: np.ndarray, q: TensorQ) -> np.ndarray:
    """float (N, C, T) z-scored windows -> int8 (N, T, C), rounding half away from zero like TFLite's QUANTIZE."""
    return quantize(np.asarray(x_nct, np.float32).transpose(0, 2, 1), q.scale, q.zero_point)


def dequantize(y: np.ndarray, q: TensorQ) -> np.ndarray:
    return quant_dequantize(y, q.scale, q.zero_point)


def _by_head(outs: list[np.ndarray], n: int, out_q: list[TensorQ]) -> dict[str, np.ndarray]:
    return {q.name: outs[q.index].reshape(n, -1).astype(np.int8) for q in out_q}


def run_litert(blob: bytes, xq: np.ndarray, out_q: list[TensorQ], reference: bool = False) -> dict[str, np.ndarray]:
    """int8 (N, T, C) inputs -> {head: int8 (N, n_out)} with LiteRT (reference kernels if asked)."""
    return _by_head(LiteRTRunner(blob, reference).run(xq), len(xq), out_q)


def run_tflm(blob: bytes, xq: np.ndarray, out_q: list[TensorQ]) -> dict[str, np.ndarray]:
    return _by_head(TFLMRunner(blob).run(xq), len(xq), out_q)


def check_graph(ops: list[str], in_q: TensorQ, out_q: list[TensorQ]) -> list[str]:
    """Problems that would break or slow the firmware: forbidden ops, float I/O."""
    problems = [f"graph contains {op} ({ops.count(op)}x)" for op in FORBIDDEN_OPS if op in ops]
    if in_q.dtype != "int8":
        problems.append(f"input tensor is {in_q.dtype}, not int8")
    problems += [f"output {q.name} is {q.dtype}, not int8" for q in out_q if q.dtype != "int8"]
    return problems

