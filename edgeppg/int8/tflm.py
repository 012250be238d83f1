"""TFLite Micro on the host: the golden int8 reference the firmware must match, and its two arena figures.

The tflite-micro Python interpreter runs the same C++ reference kernels a device build uses. It reports its
arena use only through `print_allocations()` on the C-level stderr, so fd 2 is captured around the calls.

Two arena quantities, deliberately kept apart (docs/design.md §7):
- `allocation_total`: what TFLM's RecordingMicroAllocator reports in use after one inference
  (the manifest's `runtime.tflm_arena_bytes`);
- `find_min_arena`: the smallest arena in which the model allocates and runs (verify's `arena_bytes`), found
  by bisection. It can exceed the total (the planner needs scratch in the arena tail while planning) or fall
  a few bytes below it (alignment slack counted in the total), so firmware should be sized by this one.

Run as `python -m edgeppg.int8.tflm MODEL X.npy`, it is the child process of `ArenaProbe`.
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

from edgeppg.errors import CheckFailed, EdgePPGError

_TOTAL_RE = re.compile(r"Arena allocation total (\d+) bytes")
_MAX_ARENA = 64 << 20  # beyond this no microcontroller target is plausible; stop doubling


def roomy_arena(model: bytes) -> int:
    """An arena far larger than any int8 model here needs: for runs whose outputs, not memory, are wanted."""
    return max(256 * 1024, 10 * len(model))


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
    try:
        from tflite_micro import runtime
    except ImportError as exc:  # pragma: no cover - pinned dependency
        raise EdgePPGError("the golden reference needs the TFLM interpreter: pip install tflite-micro") from exc
    return runtime.Interpreter.from_bytes(model, arena_size=int(arena))


class TFLMRunner:
    """One TFLM interpreter with a fixed arena: int8 in, int8 outputs by TFLite output index."""

    def __init__(self, model: bytes | str | os.PathLike, arena: int | None = None):
        model = model if isinstance(model, (bytes, bytearray)) else Path(model).read_bytes()
        arena = int(arena or roomy_arena(model))
        with capture_fd2() as lines:
            try:
                self._it = _new(model, arena)
                err = ""
            except Exception as exc:  # noqa: BLE001 - TFLM raises RuntimeError/ValueError for unsupported ops or a short arena
                self._it, err = None, str(exc).strip()
        if self._it is None:
            why = "; ".join([ln for ln in (err.splitlines()[:1] + lines) if ln.strip()])[:300]
            raise CheckFailed(f"the int8 model does not run in TFLM with a {arena}-byte arena ({why}); "
                              "the firmware would fail the same way")
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

    def print_allocations(self) -> list[str]:
        with capture_fd2() as lines:
            self._it.print_allocations()
        return lines


def tflm_outputs(tflite_path: str | os.PathLike, windows: np.ndarray, n_outputs: int) -> list[list[np.ndarray]]:
    """windows: (N, *input_shape[1:]) int8. Per window, the flattened int8 outputs in model output order."""
    r = TFLMRunner(tflite_path)
    shape = tuple(r.input_details()["shape"])
    res = []
    for w in windows:
        outs = r.run_one(np.asarray(w, dtype=np.int8).reshape(shape))
        res.append([np.asarray(o, dtype=np.int8).reshape(-1).copy() for o in outs[:n_outputs]])
    return res


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


def allocation_total(model: bytes, x: np.ndarray, arena: int | None = None) -> tuple[int, list[str]]:
    """TFLM's own record of arena bytes in use after one inference (RecordingMicroAllocator), and its report."""
    r = TFLMRunner(model, arena)
    with capture_fd2():
        r.run_one(x)
    lines = r.print_allocations()
    totals = [int(m.group(1)) for m in map(_TOTAL_RE.search, lines) if m]
    if not totals:
        raise EdgePPGError("TFLM printed no 'Arena allocation total' line; the tflite-micro package may have changed "
                           f"its print_allocations() format (got {' '.join(lines)[:200]!r})")
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

        self._proc = subprocess.Popen([sys.executable, "-m", "edgeppg.int8.tflm", str(self._model), str(self._x)],
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
    arena tail) and up to 8 bytes below it (alignment slack counted in the total). Confirmed: the minimum
    works, minimum - 1 and minimum - 16 fail to allocate.
    """
    with ArenaProbe(model, x) as probe:
        hi = max(64 << 10, 16 * len(model))
        while not probe.works(hi):
            if hi >= _MAX_ARENA:
                raise EdgePPGError(f"TFLM cannot run this model even with a {hi}-byte arena; check the op list "
                                   "against the TFLM op resolver (`edgeppg verify` prints the ops)")
            hi *= 2
        total, report = allocation_total(model, x, hi)
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


def _probe_main(argv: list[str]) -> int:
    """Child of ArenaProbe: one arena size per stdin line -> "ok"/"fail"; a crash kills only this process."""
    model = Path(argv[0]).read_bytes()
    x = np.load(argv[1], allow_pickle=False)
    for line in sys.stdin:
        ok, _ = try_arena(model, int(line), x)
        sys.stdout.write("ok\n" if ok else "fail\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(_probe_main(sys.argv[1:]))
