"""LiteRT (ai-edge-litert, the successor of tflite-runtime) on the host, single-threaded, one window per call.

`reference=True` selects the BUILTIN_REF kernels, the ones TFLM must match (up to proven rounding ties);
otherwise the optimized BUILTIN kernels with LiteRT's default XNNPACK delegate (AUTO is the same resolver).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from edgeppg.errors import EdgePPGError


class LiteRTRunner:
    def __init__(self, model: bytes | str | os.PathLike, reference: bool = False):
        try:
            from ai_edge_litert.interpreter import Interpreter, OpResolverType
        except ImportError as exc:  # pragma: no cover - pinned dependency
            raise EdgePPGError(f"ai-edge-litert is not installed ({exc}); run `make setup`") from None
        kind = OpResolverType.BUILTIN_REF if reference else OpResolverType.BUILTIN
        src = {"model_content": bytes(model)} if isinstance(model, (bytes, bytearray)) else {"model_path": str(Path(model))}
        self.interpreter = Interpreter(**src, experimental_op_resolver_type=kind, num_threads=1)
        self.interpreter.allocate_tensors()
        self._in = self.interpreter.get_input_details()[0]["index"]
        self._outs = [d["index"] for d in self.interpreter.get_output_details()]
        self.n_outputs = len(self._outs)

    def input_details(self) -> dict:
        return self.interpreter.get_input_details()[0]

    def output_details(self, i: int) -> dict:
        """Details of TFLite output i (the order `run` returns outputs in)."""
        return self.interpreter.get_output_details()[i]

    def run_one(self, q: np.ndarray) -> list[np.ndarray]:
        self.interpreter.set_tensor(self._in, q)
        self.interpreter.invoke()
        return [self.interpreter.get_tensor(i).copy() for i in self._outs]

    def run(self, q: np.ndarray) -> list[np.ndarray]:
        """q: (N, *input_shape[1:]) int8 -> per output (N, ...), one window per invoke."""
        outs = [self.run_one(q[i:i + 1]) for i in range(len(q))]
        return [np.concatenate([o[k] for o in outs]) for k in range(self.n_outputs)]
