"""The one .tflite reader: flatbuffer -> a small graph IR (tensors with quantization and constant data, ops with
their options, MACs), plus the object-API access that model edits (slimming, exposing outputs) build on.

One schema for everything: the one inside the tflite-micro wheel, i.e. what the device's interpreter parses.
It imports in a fraction of a second (TensorFlow's copy pulls in all of TensorFlow) and is a superset of the
converter's schema, so reading and re-packing a converted model loses no field.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgeppg.errors import EdgePPGError

_DTYPES = {0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 6: "bool", 7: "int16", 9: "int8",
           10: "float64"}
_ACT = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6"}
MAC_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")


def schema():
    try:
        from tflite_micro.tensorflow.lite.micro.python import schema_py_generated
    except ImportError as exc:  # pragma: no cover - pinned dependency
        raise EdgePPGError("reading .tflite needs the tflite-micro wheel: pip install tflite-micro") from exc
    return schema_py_generated


def read_model(blob: bytes):
    """The flatbuffer as mutable schema objects (ModelT), for edits that are packed back with `pack_model`."""
    try:
        return schema().ModelT.InitFromPackedBuf(bytearray(blob), 0)
    except Exception as exc:  # noqa: BLE001 - a corrupt flatbuffer raises anything from struct to IndexError
        raise EdgePPGError(f"not a readable .tflite flatbuffer: {exc}") from exc


def pack_model(model, builder=None) -> bytes:
    """ModelT -> .tflite bytes ("TFL3" identifier); `builder` lets a caller control serialisation (slim)."""
    import flatbuffers

    b = builder or flatbuffers.Builder(1024)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


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
    kind: str  # builtin name, e.g. "CONV_2D"; "CUSTOM(name)" for custom ops
    inputs: list[int]
    outputs: list[int]
    options: dict = field(default_factory=dict)  # builtin options by schema field name (strideW, padding, ...)
    macs: int = 0

    @property
    def fused_activation(self) -> str:
        code = self.options.get("fusedActivationFunction", 0)
        if code not in _ACT:
            raise EdgePPGError(f"op {self.index} ({self.kind}): unsupported fused activation id {code}")
        return _ACT[code]


@dataclass
class Graph:
    """Subgraph 0 in full; op counts and MACs cover every subgraph."""

    tensors: list[Tensor]
    ops: list[Op]
    inputs: list[int]
    outputs: list[int]
    subgraphs: int = 1
    op_counts: dict[str, int] = field(default_factory=dict)  # op name -> count, sorted by name
    macs: int = 0  # multiply-accumulates per inference (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED)
    weight_bytes: int = 0  # constant buffer payload (weights, biases, shapes, metadata)


@dataclass(frozen=True)
class GraphInfo:
    ops: dict[str, int]  # op name -> count
    macs: int
    weight_bytes: int


def op_macs(kind: str, out_shape, w_shape) -> int:
    """MACs of one op from its shapes (TFLite layouts: conv weights OHWI, depthwise 1HWO, FC OI)."""
    if kind not in MAC_OPS:
        return 0
    out = int(np.prod(out_shape))
    if kind == "CONV_2D":  # every output element sums KH*KW*I_per_group products
        return out * w_shape[1] * w_shape[2] * w_shape[3]
    if kind == "DEPTHWISE_CONV_2D":
        return out * w_shape[1] * w_shape[2]
    return out * w_shape[-1]


def _shape(t) -> tuple[int, ...]:
    return tuple(int(d) for d in (t.shape if t.shape is not None else []))


def _op_kind(model, op, names: dict[int, str]) -> str:
    oc = model.operatorCodes[op.opcodeIndex]
    code = max(oc.builtinCode, oc.deprecatedBuiltinCode)  # schema 3a: small codes live in the deprecated field
    kind = names.get(code, f"BUILTIN_{code}")
    if kind == "CUSTOM":
        kind = f"CUSTOM({oc.customCode.decode() if oc.customCode else '?'})"
    return kind


def load_graph(src: str | Path | bytes) -> Graph:
    """Parse a .tflite (path or bytes). Reads everything, judges nothing: each consumer checks what it supports."""
    if isinstance(src, (bytes, bytearray)):
        buf, where = bytes(src), "model"
    else:
        path = Path(src)
        if not path.is_file():
            raise EdgePPGError(f"model file not found: {path}")
        buf, where = path.read_bytes(), str(path)
    try:
        model = read_model(buf)
    except EdgePPGError as exc:
        raise EdgePPGError(f"{where} is {exc}") from None
    if not model.subgraphs:
        raise EdgePPGError(f"{where}: the model has no subgraph")
    sch = schema()
    names = {v: k for k, v in vars(sch.BuiltinOperator).items() if not k.startswith("_") and isinstance(v, int)}
    types = {v: k for k, v in vars(sch.TensorType).items() if not k.startswith("_") and isinstance(v, int)}
    counts: Counter[str] = Counter()
    macs = 0
    for sg in model.subgraphs:
        for op in sg.operators or []:
            kind = _op_kind(model, op, names)
            counts[kind] += 1
            if kind in MAC_OPS:
                macs += op_macs(kind, _shape(sg.tensors[op.outputs[0]]), _shape(sg.tensors[op.inputs[1]]))
    g = model.subgraphs[0]

    tensors = []
    for i, t in enumerate(g.tensors):
        q = t.quantization
        scale = np.asarray(q.scale if q is not None and q.scale is not None else [], dtype=np.float32)
        zp = np.asarray(q.zeroPoint if q is not None and q.zeroPoint is not None else [], dtype=np.int64)
        dtype = _DTYPES.get(t.type) or types.get(t.type, f"type{t.type}").lower()  # e.g. "string": no numpy view
        data = None
        b = model.buffers[t.buffer] if t.buffer < len(model.buffers) else None
        if b is not None:
            raw = None
            if b.data is not None and len(b.data):
                raw = np.asarray(b.data, dtype=np.uint8).tobytes()
            elif getattr(b, "offset", 0) and getattr(b, "size", 0):  # large-model buffers live after the flatbuffer
                raw = buf[b.offset:b.offset + b.size]
            if raw is not None and t.type in _DTYPES:
                data = np.frombuffer(raw, dtype=dtype).reshape(_shape(t)).copy()
        name = t.name.decode() if isinstance(t.name, bytes) else str(t.name)
        tensors.append(Tensor(i, name, _shape(t), dtype, scale, zp, data))

    ops = []
    for k, op in enumerate(g.operators or []):
        kind = _op_kind(model, op, names)
        opts = dict(vars(op.builtinOptions)) if op.builtinOptions is not None else {}
        ins, outs = [int(i) for i in op.inputs], [int(i) for i in op.outputs]
        m = op_macs(kind, tensors[outs[0]].shape, tensors[ins[1]].shape) if kind in MAC_OPS else 0
        ops.append(Op(k, kind, ins, outs, opts, m))

    weight_bytes = sum(len(b.data) for b in model.buffers if b.data is not None)
    return Graph(tensors, ops, [int(i) for i in g.inputs], [int(i) for i in g.outputs], len(model.subgraphs),
                 dict(sorted(counts.items())), int(macs), int(weight_bytes))


def graph_info(src: str | Path | bytes) -> GraphInfo:
    """What the artifact that goes to the device contains: op kinds (resolver / flash estimate), MACs, sizes."""
    g = load_graph(src)
    return GraphInfo(g.op_counts, g.macs, g.weight_bytes)


def op_names(src: str | Path | bytes) -> list[str]:
    """Operators of subgraph 0 in execution order (e.g. ['RESHAPE', 'PAD', 'CONV_2D', ...])."""
    return [op.kind for op in load_graph(src).ops]


def with_all_outputs(blob: bytes) -> bytes:
    """The same model with every op's first output also a model output (after the original outputs, in op order)."""
    m = read_model(blob)
    sg = m.subgraphs[0]
    orig = [int(i) for i in sg.outputs]
    extra = [int(op.outputs[0]) for op in sg.operators if int(op.outputs[0]) not in orig]
    sg.outputs = np.array(orig + extra, dtype=np.int32)
    return pack_model(m)
