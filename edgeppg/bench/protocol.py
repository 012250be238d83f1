"""Drive the firmware harness's serial protocol over a process's stdin/stdout (host binary or QEMU)."""

from __future__ import annotations

import os
import re
import select
import subprocess
import time

import numpy as np

from edgeppg.errors import EdgePPGError

_LAP = re.compile(r"m-lap-\[runs=(\d+) warmup=(\d+) total=(\d+) min=(\d+) max=(\d+) unit=(\w+)\]")
_GATE = re.compile(r"m-gate-\[class=(\d+) hr_valid=([01])\]")
_KV = re.compile(r"(\w+)=([^\s\]]+)")


class HarnessError(EdgePPGError):
    pass


class Harness:
    """One running harness. `cmd` answers with the lines before `m-ready`; `e-` lines are returned too."""

    DB_CHUNK = 128  # bytes per `db HH..%` line (the harness accepts up to 148)

    def __init__(self, argv: list[str], timeout: float = 60.0, env: dict | None = None):
        self.argv = argv
        self.timeout = timeout
        try:
            self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, env=env)
        except FileNotFoundError as exc:
            raise HarnessError(f"cannot start {argv[0]}: {exc}") from exc
        self._buf = b""
        self.transcript: list[str] = []
        self.banner = self._read_until_ready()

    def _readline(self, deadline: float) -> str:
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise HarnessError(f"harness timed out after {self.timeout:.0f}s ({' '.join(self.argv[:1])}); "
                                   f"last output: {self.transcript[-3:]}")
            r, _, _ = select.select([fd], [], [], left)
            if not r:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                err = self.proc.stderr.read().decode(errors="replace")[-2000:] if self.proc.poll() is not None else ""
                raise HarnessError(f"harness exited (code {self.proc.poll()}) mid-answer; stderr: {err.strip()}")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        text = line.decode(errors="replace").rstrip("\r")
        self.transcript.append(text)
        return text

    def _read_until_ready(self) -> list[str]:
        deadline = time.monotonic() + self.timeout
        lines = []
        while True:
            line = self._readline(deadline)
            if line == "m-ready":
                return lines
            lines.append(line)

    def raw(self, text: str) -> list[str]:
        """Send `text` verbatim (it must end in '%') and return the answer lines."""
        self.transcript.append(f"> {text}")
        try:
            self.proc.stdin.write(text.encode())
            self.proc.stdin.flush()
        except BrokenPipeError as exc:
            raise HarnessError(f"harness closed its input (exit code {self.proc.poll()})") from exc
        return self._read_until_ready()

    def cmd(self, text: str, check: bool = True) -> list[str]:
        lines = self.raw(text + "%")
        if check and any(l.startswith("e-") for l in lines):
            raise HarnessError(f"harness rejected {text[:40]!r}: {[l for l in lines if l.startswith('e-')]}")
        return lines

    def profile(self) -> dict:
        info = {}
        for line in self.cmd("profile"):
            m = re.match(r"m-(\w+)-\[(.*)\]$", line)
            if m:
                info[m.group(1)] = {k: _num(v) for k, v in _KV.findall(m.group(2))}
        return info

    def load(self, window: np.ndarray) -> None:
        data = np.ascontiguousarray(window, dtype=np.int8).tobytes()
        self.cmd(f"db load {len(data)}")
        for i in range(0, len(data), self.DB_CHUNK):
            self.cmd("db " + data[i:i + self.DB_CHUNK].hex())

    def infer(self, runs: int = 1, warmup: int = 0) -> tuple[dict, list[np.ndarray]]:
        lines = self.cmd(f"infer {runs} {warmup}")
        lap = next((_LAP.match(l) for l in lines if _LAP.match(l)), None)
        res = next((l for l in lines if l.startswith("m-results-")), None)
        if lap is None or res is None:
            raise HarnessError(f"unexpected answer to infer: {lines}")
        timing = dict(zip(("runs", "warmup", "total", "min", "max"), map(int, lap.groups()[:5])), unit=lap.group(6))
        gate = next((_GATE.match(l) for l in lines if _GATE.match(l)), None)
        # firmware's quality gate (built only when the manifest names a rhythm head): (class, hr_valid)
        self.last_gate = (int(gate.group(1)), gate.group(2) == "1") if gate else None
        return timing, parse_results(res)

    def layers(self) -> list[dict]:
        out = []
        for l in self.cmd("layers"):
            m = re.match(r"m-layer-\[(\d+) (\S+) (\d+) (\d+)\]", l)
            if m:
                out.append(dict(index=int(m.group(1)), name=m.group(2), ticks=int(m.group(3)), macs=int(m.group(4))))
        return out

    def close(self) -> int:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(b"quit%")
                self.proc.stdin.flush()
                self.proc.stdin.close()
            except (BrokenPipeError, ValueError):
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for f in (self.proc.stdout, self.proc.stderr):
            f.close()
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def parse_results(line: str) -> list[np.ndarray]:
    groups = re.findall(r"\[([0-9a-f]*)\]", line)
    return [np.frombuffer(bytes.fromhex(g), dtype=np.int8).copy() for g in groups]


def _num(v: str):
    try:
        return int(v)
    except ValueError:
        return v
