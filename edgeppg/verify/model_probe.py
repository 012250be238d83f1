"""Parse and run an untrusted model file in a CHILD process before TFLM, LiteRT or ONNX Runtime touch it here.

TFLM's and LiteRT's flatbuffer readers trust the file: a .tflite with 0 subgraphs, an out-of-range tensor
index or a bogus buffer offset can segfault the process that loads it. `probe_models` runs the structural
checks below, then builds each interpreter and invokes it once on zeros, in `python -m
edgeppg.verify.model_probe` under an address-space limit and a timeout. A crash, a hang or a refusal there
becomes one EdgePPGError line here; only a file that survived is opened in-process.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from edgeppg.errors import EdgePPGError

PROBE_TIMEOUT_S = 120.0
PROBE_MEMORY_BYTES = 3 << 30  # address-space limit of the child (TF-free interpreters need well under 1 GB)
PROBE_ARENA = 64 << 20  # the arena search in verify stops at the same size
MAX_TENSORS = 10_000
MAX_OPS = 10_000
MAX_ELEMENTS = 1 << 26  # per tensor


class _Bad(Exception):
    pass


def check_structure(blob: bytes) -> dict:
    """Every index the interpreters follow is in range; shapes and counts are bounded. Raises _Bad."""
    from edgeppg.int8.flatbuffer import read_model

    if len(blob) < 16 or blob[4:8] != b"TFL3":
        raise _Bad("is not a TFLite flatbuffer (no TFL3 identifier)")
    try:
        m = read_model(blob)
    except EdgePPGError as exc:  # any decode failure of a hostile buffer
        raise _Bad(f"is not a readable TFLite flatbuffer ({type(exc.__cause__).__name__})") from None
    subgraphs, codes, buffers = m.subgraphs or [], m.operatorCodes or [], m.buffers or []
    if len(subgraphs) != 1:
        raise _Bad(f"has {len(subgraphs)} subgraphs; edgeppg exports exactly 1")
    sg = subgraphs[0]
    tensors, ops = sg.tensors or [], sg.operators or []
    if not 0 < len(tensors) <= MAX_TENSORS or not 0 < len(ops) <= MAX_OPS:
        raise _Bad(f"has {len(tensors)} tensors and {len(ops)} operators (limits 1..{MAX_TENSORS}, 1..{MAX_OPS})")
    for i, t in enumerate(tensors):
        shape = list(t.shape) if t.shape is not None else []
        n = 1
        for s in shape:
            if not 0 <= int(s) <= MAX_ELEMENTS:
                raise _Bad(f"tensor {i} has dimension {int(s)}")
            n *= int(s)
        if n > MAX_ELEMENTS or len(shape) > 6:
            raise _Bad(f"tensor {i} has shape {shape[:8]} (over {MAX_ELEMENTS} elements or 6 dimensions)")
        if not 0 <= t.buffer < max(len(buffers), 1):
            raise _Bad(f"tensor {i} points at buffer {t.buffer} of {len(buffers)}")
    for name, idx in (("input", sg.inputs), ("output", sg.outputs)):
        idx = [] if idx is None else [int(v) for v in idx]
        if not idx or any(not 0 <= v < len(tensors) for v in idx):
            raise _Bad(f"has subgraph {name}s {idx[:8]} for {len(tensors)} tensors")
    for j, op in enumerate(ops):
        if not 0 <= op.opcodeIndex < len(codes):
            raise _Bad(f"operator {j} uses opcode {op.opcodeIndex} of {len(codes)}")
        for v in [*(op.inputs if op.inputs is not None else []), *(op.outputs if op.outputs is not None else [])]:
            if not -1 <= int(v) < len(tensors):
                raise _Bad(f"operator {j} refers to tensor {int(v)} of {len(tensors)}")
    return {"tensors": len(tensors), "operators": len(ops), "subgraphs": 1}


def _run_tflite(path: Path) -> None:
    import numpy as np

    from edgeppg.int8.litert import LiteRTRunner
    from edgeppg.int8.tflm import TFLMRunner

    blob = path.read_bytes()
    tm = TFLMRunner(blob, PROBE_ARENA)
    d = tm.input_details()
    tm.run_one(np.zeros(d["shape"], d["dtype"]))
    for reference in (True, False):
        lite = LiteRTRunner(blob, reference).interpreter
        for d in lite.get_input_details():
            lite.set_tensor(d["index"], np.zeros(d["shape"], d["dtype"]))
        lite.invoke()


def _run_onnx(path: Path) -> None:
    import numpy as np
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    feeds = {}
    for i in sess.get_inputs():
        shape = [d if isinstance(d, int) and 0 < d <= 1 << 16 else 1 for d in i.shape]
        feeds[i.name] = np.zeros(shape, np.float32 if "float" in i.type else np.int8)
    sess.run(None, feeds)


def _child(paths: list[str]) -> int:
    for p in map(Path, paths):
        try:
            if p.suffix == ".tflite":
                check_structure(p.read_bytes())
                _run_tflite(p)
            elif p.suffix == ".onnx":
                _run_onnx(p)
        except _Bad as exc:
            print(json.dumps({"file": p.name, "error": str(exc)}), flush=True)
            return 3
        except Exception as exc:  # noqa: BLE001 - every runtime refusal becomes the parent's one line
            msg = " ".join(str(exc).split())[:200]
            print(json.dumps({"file": p.name, "error": f"is refused by the runtime ({type(exc).__name__}: {msg})"}),
                  flush=True)
            return 3
    print(json.dumps({"ok": True}), flush=True)
    return 0


def _limit_memory() -> None:
    import resource

    try:
        resource.setrlimit(resource.RLIMIT_AS, (PROBE_MEMORY_BYTES, PROBE_MEMORY_BYTES))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ValueError, OSError):
        pass


def probe_models(paths: list[Path], fix: str) -> None:
    """Refuse (one line) any model file that a child process cannot parse, allocate and invoke."""
    if not paths:
        return
    import os
    import signal

    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", OMP_NUM_THREADS="1")
    try:
        proc = subprocess.run([sys.executable, "-m", "edgeppg.verify.model_probe", *map(str, paths)],
                              capture_output=True, text=True, timeout=PROBE_TIMEOUT_S, env=env,
                              preexec_fn=_limit_memory)
    except subprocess.TimeoutExpired:
        raise EdgePPGError(f"{', '.join(p.name for p in paths)}: loading the model did not finish in "
                           f"{PROBE_TIMEOUT_S:g} s in an isolated process; refusing it ({fix})") from None
    last = (proc.stdout.strip().splitlines() or [""])[-1]
    try:
        res = json.loads(last)
    except json.JSONDecodeError:
        res = {}
    if proc.returncode == 0 and res.get("ok"):
        return
    if "error" in res:
        raise EdgePPGError(f"{res.get('file')} {res['error']}; refusing the export ({fix})")
    if proc.returncode < 0:
        try:
            sig = signal.Signals(-proc.returncode).name
        except ValueError:
            sig = f"signal {-proc.returncode}"
        raise EdgePPGError(f"{', '.join(p.name for p in paths)} crashed the model runtime ({sig}) in an isolated "
                           f"process; the file is malformed or hostile, refusing it ({fix})")
    tail = " ".join((proc.stderr or "").split())[-200:]
    raise EdgePPGError(f"{', '.join(p.name for p in paths)} could not be loaded in an isolated process (exit "
                       f"{proc.returncode}{': ' + tail if tail else ''}); refusing it ({fix})")


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1:]))
