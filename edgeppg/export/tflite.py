"""Full-integer int8 TFLite conversion and the three ways edgeppg runs the result.

- LiteRT (`ai_edge_litert`, the successor of tflite-runtime) with optimized or reference kernels;
- the TFLM Python interpreter (`tflite_micro`), which runs only what TFLM supports and is the golden
  reference for firmware; its arena use is only printed to the C stderr, so fd 2 is captured.
TensorFlow is imported inside functions only (seconds of import time).
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeppg.errors import CheckFailed, EdgePPGError
from edgeppg.models.student import StudentSpec
from edgeppg.quant import dequantize as quant_dequantize
from edgeppg.quant import quantize

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


def litert_interpreter(blob: bytes, reference: bool = False):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    kind = OpResolverType.BUILTIN_REF if reference else OpResolverType.BUILTIN
    it = Interpreter(model_content=blob, experimental_op_resolver_type=kind, num_threads=1)
    it.allocate_tensors()
    return it


def op_names(blob: bytes) -> list[str]:
    """Operators of the graph in execution order (e.g. ['RESHAPE', 'PAD', 'CONV_2D', ...])."""
    it = litert_interpreter(blob, reference=True)  # no default XNNPACK delegate folding ops into DELEGATE
    return [d["op_name"] for d in it._get_ops_details()]


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
    it = litert_interpreter(blob)
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


def run_litert(blob: bytes, xq: np.ndarray, out_q: list[TensorQ], reference: bool = False) -> dict[str, np.ndarray]:
    """int8 (N, T, C) inputs -> {head: int8 (N, n_out)} with LiteRT (reference kernels if asked)."""
    it = litert_interpreter(blob, reference)
    i_in = it.get_input_details()[0]["index"]
    outs = it.get_output_details()
    res = {q.name: np.zeros((len(xq), q.shape[-1]), np.int8) for q in out_q}
    for n in range(len(xq)):
        it.set_tensor(i_in, xq[n:n + 1])
        it.invoke()
        for q in out_q:
            res[q.name][n] = it.get_tensor(outs[q.index]["index"]).reshape(-1)
    return res


def tflm_interpreter(blob: bytes, arena_size: int | None = None):
    from tflite_micro import runtime

    try:
        return runtime.Interpreter.from_bytes(blob, arena_size=arena_size or max(256 * 1024, 10 * len(blob)))
    except Exception as exc:  # noqa: BLE001 - TFLM raises RuntimeError/ValueError for unsupported ops
        raise CheckFailed(f"the int8 model does not run in TFLM ({str(exc).strip().splitlines()[0]}); "
                          f"the firmware would fail the same way") from None


def run_tflm(blob: bytes, xq: np.ndarray, out_q: list[TensorQ]) -> dict[str, np.ndarray]:
    it = tflm_interpreter(blob)
    res = {q.name: np.zeros((len(xq), q.shape[-1]), np.int8) for q in out_q}
    for n in range(len(xq)):
        it.set_input(xq[n:n + 1], 0)
        it.invoke()
        for q in out_q:
            res[q.name][n] = np.asarray(it.get_output(q.index)).reshape(-1)
    return res


def tflm_arena_bytes(blob: bytes, x1: np.ndarray) -> int:
    """Arena bytes TFLM actually allocates for this model (parsed from print_allocations on fd 2)."""
    it = tflm_interpreter(blob)
    it.set_input(x1, 0)
    it.invoke()
    with tempfile.TemporaryFile() as tmp:
        saved = os.dup(2)
        try:
            os.dup2(tmp.fileno(), 2)
            it.print_allocations()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        tmp.seek(0)
        text = tmp.read().decode(errors="replace")
    m = re.search(r"Arena allocation total (\d+) bytes", text)
    if not m:
        raise EdgePPGError(f"could not read the TFLM arena size from print_allocations (got {text[:200]!r})")
    return int(m.group(1))


def check_graph(ops: list[str], in_q: TensorQ, out_q: list[TensorQ]) -> list[str]:
    """Problems that would break or slow the firmware: forbidden ops, float I/O."""
    problems = [f"graph contains {op} ({ops.count(op)}x)" for op in FORBIDDEN_OPS if op in ops]
    if in_q.dtype != "int8":
        problems.append(f"input tensor is {in_q.dtype}, not int8")
    problems += [f"output {q.name} is {q.dtype}, not int8" for q in out_q if q.dtype != "int8"]
    return problems

