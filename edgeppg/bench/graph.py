"""Read an int8 .tflite into a small IR with exact TFLM quantization parameters.

Parsing uses TensorFlow's own flatbuffer schema (tensor order, options and buffers come from the file,
never from assumptions). The arithmetic that turns float scales into integer multipliers mirrors the
TFLM reference kernels' Prepare() step (QuantizeMultiplier, activation ranges), so generated C can be
bit-exact with the TFLM interpreter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgeppg.errors import EdgePPGError

# TFLite builtin ops this generator lowers to C kernels. Anything else is rejected by name.
SUPPORTED_OPS = ("PAD", "PADV2", "RESHAPE", "EXPAND_DIMS", "SQUEEZE", "CONV_2D", "DEPTHWISE_CONV_2D", "ADD",
                 "MEAN", "FULLY_CONNECTED", "QUANTIZE", "RELU", "RELU6")
_ALIAS_OPS = ("RESHAPE", "EXPAND_DIMS", "SQUEEZE")  # same bytes, new shape: no code, shared buffer
_ACT = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6"}


@dataclass
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str
    scale: np.ndarray  # float32, one per channel or one
    zero_point: np.ndarray  # int64
    data: np.ndarray | None  # constant tensors only

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize

    @property
    def s(self) -> np.float32:
        return np.float32(self.scale[0])

    @property
    def zp(self) -> int:
        return int(self.zero_point[0]) if len(self.zero_point) else 0


@dataclass
class Op:
    index: int
    kind: str
    inputs: list[int]
    outputs: list[int]
    options: dict = field(default_factory=dict)


@dataclass
class Graph:
    tensors: list[Tensor]
    ops: list[Op]
    inputs: list[int]
    outputs: list[int]
    description: str = ""


_DTYPES = {0: "float32", 2: "int32", 3: "uint8", 4: "int64", 9: "int8", 7: "int16"}


def _schema():
    try:
        from tensorflow.lite.python import schema_py_generated as schema
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise EdgePPGError("reading .tflite needs TensorFlow's schema: pip install tensorflow-cpu") from exc
    return schema


def load_graph(path: str | Path) -> Graph:
    """Parse subgraph 0 of a .tflite file; reject unsupported ops and non-int8 activations by name."""
    schema = _schema()
    path = Path(path)
    if not path.is_file():
        raise EdgePPGError(f"model file not found: {path}")
    buf = path.read_bytes()
    try:
        model = schema.ModelT.InitFromPackedBuf(buf, 0)
    except Exception as exc:
        raise EdgePPGError(f"{path} is not a readable .tflite flatbuffer: {exc}") from exc
    if len(model.subgraphs) != 1:
        raise EdgePPGError(f"{path}: {len(model.subgraphs)} subgraphs; the firmware generator supports exactly 1")
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    g = model.subgraphs[0]

    tensors = []
    for i, t in enumerate(g.tensors):
        q = t.quantization
        scale = np.asarray(q.scale if q is not None and q.scale is not None else [], dtype=np.float32)
        zp = np.asarray(q.zeroPoint if q is not None and q.zeroPoint is not None else [], dtype=np.int64)
        data = None
        b = model.buffers[t.buffer] if t.buffer < len(model.buffers) else None
        dtype = _DTYPES.get(t.type)
        if dtype is None:
            raise EdgePPGError(f"{path}: tensor {i} ({t.name!r}) has unsupported type id {t.type}")
        if b is not None:
            raw = None
            if b.data is not None and len(b.data):
                raw = np.asarray(b.data, dtype=np.uint8).tobytes()
            elif getattr(b, "offset", 0) and getattr(b, "size", 0):  # large-model buffers live after the flatbuffer
                raw = buf[b.offset:b.offset + b.size]
            if raw is not None:
                shape = tuple(int(d) for d in (t.shape if t.shape is not None else []))
                data = np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
        name = t.name.decode() if isinstance(t.name, bytes) else str(t.name)
        tensors.append(Tensor(i, name, tuple(int(d) for d in (t.shape if t.shape is not None else [])), dtype,
                              scale, zp, data))

    ops = []
    for k, op in enumerate(g.operators):
        oc = model.operatorCodes[op.opcodeIndex]
        code = max(oc.builtinCode, oc.deprecatedBuiltinCode)
        kind = names.get(code, f"builtin#{code}")
        if kind == "CUSTOM":
            kind = f"CUSTOM({oc.customCode.decode() if oc.customCode else '?'})"
        if kind not in SUPPORTED_OPS:
            raise EdgePPGError(f"{path}: op {k} is {kind}, which the firmware generator does not support "
                               f"(supported: {', '.join(SUPPORTED_OPS)})")
        opts = {}
        if op.builtinOptions is not None:
            opts = {kk: vv for kk, vv in vars(op.builtinOptions).items()}
        ops.append(Op(k, kind, [int(i) for i in op.inputs], [int(i) for i in op.outputs], opts))

    graph = Graph(tensors, ops, [int(i) for i in g.inputs], [int(i) for i in g.outputs],
                  model.description.decode() if isinstance(model.description, bytes) else str(model.description or ""))
    for ti in graph.inputs + graph.outputs:
        t = tensors[ti]
        if t.dtype != "int8":
            raise EdgePPGError(f"{path}: model {'input' if ti in graph.inputs else 'output'} {t.name!r} is {t.dtype}; "
                               "the firmware path needs a full-integer model with int8 input and output "
                               "(converter: inference_input_type=inference_output_type=tf.int8)")
    for op in ops:
        for ti in op.inputs[:1] + op.outputs:
            if tensors[ti].dtype != "int8":
                raise EdgePPGError(f"{path}: op {op.index} ({op.kind}) has a {tensors[ti].dtype} activation "
                                   f"{tensors[ti].name!r}; only int8 activations are supported")
    return graph


# ---- TFLM Prepare() arithmetic ------------------------------------------------------------------------------

def tflite_round(x: float) -> int:
    """std::round: half away from zero (Python's round() is half-to-even, which would differ)."""
    return int(math.floor(abs(x) + 0.5)) * (1 if x >= 0 else -1)


def quantize_multiplier(real: float) -> tuple[int, int]:
    """TFLite QuantizeMultiplier: real = m * 2^(shift-31), m in [2^30, 2^31)."""
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    m = tflite_round(q * (1 << 31))
    if m == (1 << 31):
        m //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return int(m), int(shift)


def activation_range(act: str, scale: np.float32, zp: int) -> tuple[int, int]:
    """CalculateActivationRangeQuantized for int8 (float32 division, as in the C++)."""
    def q(f):
        return zp + tflite_round(float(np.float32(f) / np.float32(scale)))
    lo, hi = -128, 127
    if act == "RELU":
        return max(lo, q(0.0)), hi
    if act == "RELU6":
        return max(lo, q(0.0)), min(hi, q(6.0))
    if act == "RELU_N1_TO_1":
        return max(lo, q(-1.0)), min(hi, q(1.0))
    if act == "NONE":
        return lo, hi
    raise EdgePPGError(f"unsupported fused activation {act}")


def fused_act(op: Op) -> str:
    code = op.options.get("fusedActivationFunction", 0)
    if code not in _ACT:
        raise EdgePPGError(f"op {op.index} ({op.kind}): unsupported fused activation id {code}")
    return _ACT[code]


def is_alias(op: Op) -> bool:
    return op.kind in _ALIAS_OPS
