"""ONNX fp32 (legacy TorchScript exporter: the smallest clean graph) and ORT static int8 (QDQ, per-channel).

The exported module is the BN-folded `FoldedStudent`, so the graph is Conv/Relu/Add/ReduceMean/Gemm with
no BatchNormalization whatever the exporter's fusion passes do. Input "ppg" is (N, C, T) with a dynamic
batch axis; outputs are named by head, in head order.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch

from edgeppg.errors import EdgePPGError
from edgeppg.export.fold import FoldedStudent, HeadTuple

# Ops a clean student graph may contain; anything else means the export changed shape.
CLEAN_ONNX_OPS = {"Conv", "Relu", "Clip", "Add", "ReduceMean", "Gemm", "Flatten", "Squeeze", "Reshape", "MatMul"}


def export_onnx_fp32(model: FoldedStudent, opset: int) -> bytes:
    """Serialized, checker-validated ONNX fp32 model."""
    import onnx

    spec = model.spec
    names = [h.name for h in spec.heads]
    wrapped = HeadTuple(model).eval()
    dummy = torch.zeros(1, spec.in_channels, spec.samples)
    buf = io.BytesIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")  # deprecation notice for the legacy exporter (chosen on purpose)
        torch.onnx.export(wrapped, (dummy,), buf, dynamo=False, opset_version=opset, input_names=["ppg"],
                          output_names=names, do_constant_folding=True,
                          dynamic_axes={"ppg": {0: "batch"}, **{n: {0: "batch"} for n in names}})
    proto = onnx.load_from_string(buf.getvalue())
    _undo_initializer_dedup(proto)
    proto.producer_name = "edgeppg"  # fixed producer fields: identical bytes across torch patch releases
    onnx.checker.check_model(proto, full_check=True)
    ops = sorted({n.op_type for n in proto.graph.node})
    extra = [o for o in ops if o not in CLEAN_ONNX_OPS]
    if extra:
        raise EdgePPGError(f"ONNX graph has unexpected ops {extra}; the student export is not clean")
    return proto.SerializeToString()


def _undo_initializer_dedup(proto) -> None:
    """The exporter merges equal initializers (e.g. all-zero biases) behind Identity nodes, which ORT's
    quantizer then cannot treat as Conv biases; give each consumer its own copy instead."""
    from onnx import numpy_helper

    inits = {t.name: t for t in proto.graph.initializer}
    keep = []
    for node in proto.graph.node:
        if node.op_type == "Identity" and node.input[0] in inits:
            arr = numpy_helper.to_array(inits[node.input[0]])
            proto.graph.initializer.append(numpy_helper.from_array(arr.copy(), node.output[0]))
        else:
            keep.append(node)
    del proto.graph.node[:]
    proto.graph.node.extend(keep)


def onnx_session(blob: bytes):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1  # one thread: deterministic reductions, and the cores are shared
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    return ort.InferenceSession(blob, so, providers=["CPUExecutionProvider"])


def run_onnx(blob: bytes, x_nct: np.ndarray, names: list[str], batch: int = 64) -> dict[str, np.ndarray]:
    sess = onnx_session(blob)
    parts = {n: [] for n in names}
    for i in range(0, len(x_nct), batch):
        ys = sess.run(names, {"ppg": np.ascontiguousarray(x_nct[i:i + batch], np.float32)})
        for n, y in zip(names, ys):
            parts[n].append(y)
    return {n: np.concatenate(v) for n, v in parts.items()}


class _CalibReader:
    """ORT CalibrationDataReader over fixed windows, one per call, in the recorded order."""

    def __init__(self, x_nct: np.ndarray):
        self.x = np.ascontiguousarray(x_nct, np.float32)
        self.i = 0

    def get_next(self):
        if self.i >= len(self.x):
            return None
        self.i += 1
        return {"ppg": self.x[self.i - 1:self.i]}

    def rewind(self):
        self.i = 0


def quantize_onnx_int8(fp32: bytes, calib_nct: np.ndarray) -> bytes:
    """Static QDQ int8: per-channel symmetric weights, per-tensor int8 activations, MinMax calibration."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    with tempfile.TemporaryDirectory(prefix="edgeppg-ortq-") as tmp:
        src, dst = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        src.write_bytes(fp32)
        reader = _CalibReader(calib_nct)
        quantize_static(str(src), str(dst), reader, quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax,
                        extra_options={"ActivationSymmetric": False, "WeightSymmetric": True})
        return dst.read_bytes()
