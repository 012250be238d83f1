"""What a .tflite flatbuffer actually contains: op kinds (for the op resolver / flash estimate) and MACs.

Parsed with the flatbuffer schema that ships inside the tflite-micro wheel, so the numbers describe the
artifact that goes to the device, not the PyTorch spec it came from.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class GraphInfo:
    ops: dict[str, int]  # op name -> count
    macs: int  # multiply-accumulates per inference: CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED
    tensors: int
    weight_bytes: int  # constant buffer payload (weights, biases, shapes)


def _op_names() -> dict[int, str]:
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb

    return {v: k for k, v in vars(fb.BuiltinOperator).items() if not k.startswith("_") and isinstance(v, int)}


def read_graph(path: str | Path) -> GraphInfo:
    from tflite_micro import runtime

    model = runtime.convert_bytearray_to_object(bytearray(Path(path).read_bytes()))
    names = _op_names()
    ops: Counter[str] = Counter()
    macs = 0
    tensors = 0
    for sg in model.subgraphs:
        tensors += len(sg.tensors or [])
        for op in sg.operators or []:
            code = runtime.get_builtin_code_from_operator_code(model.operatorCodes[op.opcodeIndex])
            name = names.get(code, f"BUILTIN_{code}")
            ops[name] += 1
            macs += _op_macs(name, sg, op)
    weight_bytes = sum(len(b.data) for b in model.buffers if b.data is not None)
    return GraphInfo(dict(sorted(ops.items())), int(macs), tensors, int(weight_bytes))


def _shape(sg, idx: int) -> list[int]:
    t = sg.tensors[idx]
    return [int(s) for s in (t.shape if t.shape is not None else [])]


def _op_macs(name: str, sg, op) -> int:
    """MACs of one op from its tensor shapes (TFLite layouts: conv weights OHWI, depthwise 1HWO, FC OI)."""
    if name not in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
        return 0
    out = _shape(sg, op.outputs[0])
    w = _shape(sg, op.inputs[1])
    if name == "CONV_2D":  # every output element sums KH*KW*I_per_group products
        return int(np.prod(out)) * w[1] * w[2] * w[3]
    if name == "DEPTHWISE_CONV_2D":
        return int(np.prod(out)) * w[1] * w[2]
    return int(np.prod(out)) * w[-1]
