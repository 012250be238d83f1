"""Golden outputs from the TFLM Python interpreter (the reference kernels the firmware must match)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from edgeppg.errors import EdgePPGError


def tflm_interpreter(tflite_path: str | os.PathLike, arena_size: int = 1 << 20):
    try:
        from tflite_micro.python.tflite_micro import runtime
    except ImportError:
        try:
            from tflite_micro import runtime  # type: ignore[no-redef]
        except ImportError as exc:
            raise EdgePPGError("the golden reference needs the TFLM interpreter: pip install tflite-micro") from exc
    return runtime.Interpreter.from_file(str(Path(tflite_path)), arena_size=arena_size)


def tflm_outputs(tflite_path: str | os.PathLike, windows: np.ndarray, n_outputs: int) -> list[list[np.ndarray]]:
    """windows: (N, *input_shape[1:]) int8. Returns, per window, the int8 outputs in model output order."""
    interp = tflm_interpreter(tflite_path)
    shape = tuple(interp.get_input_details(0)["shape"])
    res = []
    for w in windows:
        interp.set_input(np.asarray(w, dtype=np.int8).reshape(shape), 0)
        interp.invoke()
        res.append([np.asarray(interp.get_output(i), dtype=np.int8).reshape(-1).copy() for i in range(n_outputs)])
    return res
