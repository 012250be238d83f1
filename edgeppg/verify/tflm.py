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
    crashed_trials: int  # trials where the TFLM Python wrapper crashed the probe process (counted as "fails")
    allocation_report: tuple[str, ...]


class ArenaProbe:
    """Arena trials in a child process: the tflite-micro wrapper can SEGFAULT on some too-small arenas
    (seen at ~half the needed size), which must not take verify (or pytest) down with it.

    A crash counts as "does not work" and the child is restarted for the next trial.
    """

    def __init__(self, model: bytes, x: np.ndarray):
        self._dir = tempfile.TemporaryDirectory(prefix="edgeppg-arena-")
        self._model = Path(self._dir.name) / "model.tflite"
        self._x = Path(self._dir.name) / "x.npy"
        self._model.write_bytes(model)
        np.save(self._x, np.ascontiguousarray(x), allow_pickle=False)
        self._proc = None
        self.trials = 0
        self.crashes = 0

    def _start(self):
        import subprocess

        self._proc = subprocess.Popen([sys.executable, "-m", "edgeppg.verify.arena_probe", str(self._model), str(self._x)],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)

    def works(self, arena: int) -> bool:
        self.trials += 1
        if self._proc is None or self._proc.poll() is not None:
            self._start()
        try:
            self._proc.stdin.write(f"{int(arena)}\n")
            self._proc.stdin.flush()
            line = self._proc.stdout.readline().strip()
        except BrokenPipeError:
            line = ""
        if line in ("ok", "fail"):
            return line == "ok"
        self.crashes += 1  # the child died on this arena
        self._proc.wait()
        self._proc = None
        return False

    def close(self):
        if self._proc is not None and self._proc.poll() is None:
            self._proc.stdin.close()
            self._proc.wait(timeout=30)
        self._dir.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def find_min_arena(model: bytes, x: np.ndarray) -> ArenaResult:
    """Smallest working arena: bisection between a failing size below TFLM's reported total and a working size.

    The reported total is only a guide: the minimum was measured both above it (planner scratch in the
    arena tail) and up to 8 bytes below it (alignment slack counted in the total).
    """
    with ArenaProbe(model, x) as probe:
        hi = max(64 << 10, 16 * len(model))
        while not probe.works(hi):
            if hi >= _MAX_ARENA:
                raise EdgePPGError(f"TFLM cannot run this model even with a {hi}-byte arena; check the op list "
                                   "against the TFLM op resolver (`edgeppg verify` prints the ops)")
            hi *= 2
        total, report = allocation_total(model, hi, x)
        step = 16
        lo = total - step
        while probe.works(lo):  # walk down in growing steps until a size fails (never jumps far below)
            hi, step = lo, step * 2
            lo = max(1, total - step)
            if lo == 1:
                raise EdgePPGError(f"TFLM runs this model in {hi} bytes though it reports {total} in use; "
                                   "the arena search cannot find a failing size")
        if hi > total:
            hi = total if probe.works(total) else hi
        while hi - lo > 1:  # invariant: lo fails, hi works
            mid = (lo + hi) // 2
            hi, lo = (mid, lo) if probe.works(mid) else (hi, mid)
        m1 = not probe.works(hi - 1)
        m16 = not probe.works(hi - 16)
        trials, crashes = probe.trials, probe.crashes
    lines = tuple(ln.replace("[RecordingMicroAllocator] ", "") for ln in report if "RecordingMicroAllocator" in ln)
    return ArenaResult(hi, total, m1, m16, trials, crashes, lines)


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
