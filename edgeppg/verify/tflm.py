"""TFLite Micro on the host: the golden int8 reference, its exact arena figure, and a timed run.

The tflite-micro Python interpreter runs the same C++ reference kernels a device build uses. Its arena use
is only reported by `print_allocations()` to the C-level stderr, so fd 2 is redirected to a temp file
around the calls. The smallest working arena is larger than the reported allocation total (the memory
planner needs scratch in the arena tail while planning), so it is found by bisection and confirmed:
the minimum works, minimum - 1 and minimum - 16 fail to allocate.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from edgeppg.errors import EdgePPGError

_TOTAL_RE = re.compile(r"Arena allocation total (\d+) bytes")
_MAX_ARENA = 64 << 20  # beyond this no microcontroller target is plausible; stop doubling


@contextlib.contextmanager
def capture_fd2() -> Iterator[list[str]]:
    """Redirect the process-level stderr (fd 2, where C++ MicroPrintf writes) into a list of lines."""
    out: list[str] = []
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield out
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            out.extend(tmp.read().decode("utf-8", errors="replace").splitlines())


def _new(model: bytes, arena: int):
    from tflite_micro import runtime

    return runtime.Interpreter.from_bytes(model, arena_size=int(arena))


def try_arena(model: bytes, arena: int, x: np.ndarray) -> tuple[bool, list[str]]:
    """Does the model allocate AND run one inference in an `arena`-byte arena? (+ TFLM's messages)."""
    with capture_fd2() as lines:
        try:
            it = _new(model, arena)
            it.set_input(x, 0)
            it.invoke()
            ok = True
        except RuntimeError:
            ok = False
    return ok, lines


def allocation_total(model: bytes, arena: int, x: np.ndarray) -> tuple[int, list[str]]:
    """TFLM's own record of arena bytes in use after one inference (RecordingMicroAllocator)."""
    with capture_fd2() as lines:
        it = _new(model, arena)
        it.set_input(x, 0)
        it.invoke()
        it.print_allocations()
    totals = [int(m.group(1)) for m in map(_TOTAL_RE.search, lines) if m]
    if not totals:
        raise EdgePPGError("TFLM printed no 'Arena allocation total' line; the tflite-micro package may have changed "
                           "its print_allocations() format")
    return totals[-1], lines


@dataclass(frozen=True)
class ArenaResult:
    arena_bytes: int  # smallest arena in which the model allocates and runs
    allocation_total_bytes: int  # what TFLM's allocator reports in use
    minus_1_fails: bool
    minus_16_fails: bool
    trials: int
    allocation_report: tuple[str, ...]


def find_min_arena(model: bytes, x: np.ndarray) -> ArenaResult:
    """Smallest working arena by bisection between the reported total (a lower bound) and a working size."""
    trials = 0
    hi = max(64 << 10, 16 * len(model))
    while True:
        ok, msgs = try_arena(model, hi, x)
        trials += 1
        if ok:
            break
        if hi >= _MAX_ARENA:
            detail = "; ".join(m for m in msgs if m.strip())[:300]
            raise EdgePPGError(f"TFLM cannot run this model even with a {hi}-byte arena ({detail}); "
                               "check the op list against the TFLM op resolver")
        hi *= 2
    total, report = allocation_total(model, hi, x)
    lo = total - 1
    # The allocator used `total` bytes, so anything below fails; confirm rather than assume.
    while lo > 0:
        ok, _ = try_arena(model, lo, x)
        trials += 1
        if not ok:
            break
        hi, lo = lo, lo // 2
    while hi - lo > 1:  # invariant: lo fails, hi works
        mid = (lo + hi) // 2
        ok, _ = try_arena(model, mid, x)
        trials += 1
        hi, lo = (mid, lo) if ok else (hi, mid)
    m1 = not try_arena(model, hi - 1, x)[0]
    m16 = not try_arena(model, hi - 16, x)[0]
    lines = tuple(ln.replace("[RecordingMicroAllocator] ", "") for ln in report if "RecordingMicroAllocator" in ln)
    return ArenaResult(hi, total, m1, m16, trials + 2, lines)


class TFLMRunner:
    """One TFLM interpreter with a fixed arena: int8 in, int8 outputs by TFLite output index."""

    def __init__(self, model: bytes, arena: int):
        with capture_fd2() as lines:
            try:
                self._it = _new(model, arena)
            except RuntimeError:
                self._it = None
        if self._it is None:
            raise EdgePPGError(f"TFLM failed to allocate a {arena}-byte arena: {'; '.join(lines)[:300]}")
        self.n_outputs = 0
        with capture_fd2():  # the probe past the last output makes TFLM print an error line
            while True:  # the Python API has no output count; probe until the index is out of range
                try:
                    self._it.get_output_details(self.n_outputs)
                except Exception:  # noqa: BLE001 - pybind raises different types per version
                    break
                self.n_outputs += 1

    def input_details(self) -> dict:
        return self._it.get_input_details(0)

    def output_details(self, i: int) -> dict:
        return self._it.get_output_details(i)

    def run_one(self, q: np.ndarray) -> list[np.ndarray]:
        self._it.set_input(q, 0)
        self._it.invoke()
        return [np.array(self._it.get_output(i)) for i in range(self.n_outputs)]

    def run(self, q: np.ndarray) -> list[np.ndarray]:
        """q: (N, *input_shape[1:]) int8 -> per output (N, ...) int8, one window per invoke as on a device."""
        outs = [self.run_one(q[i:i + 1]) for i in range(len(q))]
        return [np.concatenate([o[k] for o in outs]) for k in range(self.n_outputs)]
