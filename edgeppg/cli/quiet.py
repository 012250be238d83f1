"""Drop the C++ runtimes' info lines from the CLI's stderr, and nothing else.

TensorFlow/absl honour TF_CPP_MIN_LOG_LEVEL (set before any import in cli/main.py) except for lines logged
before absl::InitializeLog (the oneDNN notice), and LiteRT's minimal logger prints "INFO: Created TensorFlow
Lite XNNPACK delegate for CPU." with no switch at all (no env var; the Python Interpreter has no log option;
avoiding the default delegate would change the kernels whose latency verify reports). Those lines are written
by C++ straight to file descriptor 2, also from child processes, so the filter sits on fd 2: a pipe whose
reader forwards every line except the known ones. EDGEPPG_RAW_STDERR=1 turns it off.
"""

from __future__ import annotations

import os
import re
import sys
import threading

NOISE = re.compile(
    rb"^(INFO: Created TensorFlow Lite XNNPACK delegate for CPU\."
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    rb"|[IW]\d{4} [\d:.]+ +\d+ (port|cpu_feature_guard|cuda_\w+)\.cc:\d+\] .*"
    rb"|WARNING:root:Please consider (to run )?pre-processing before quantization\..*"
    rb")\r?$")
# a partial line is held back only while it may still become a NOISE line (else it is shown at once: progress bars)
_PREFIXES = (b"INFO: ", b"WARNING:", b"I0", b"I1", b"W0", b"W1")


def _maybe_noise(partial: bytes) -> bool:
    return any(partial.startswith(p) or p.startswith(partial) for p in _PREFIXES)


def _pump(read_fd: int, out_fd: int) -> None:
    buf = b""
    while True:
        try:
            chunk = os.read(read_fd, 65536)
        except OSError:
            chunk = b""
        if not chunk:
            break
        buf += chunk
        *lines, buf = buf.split(b"\n")
        out = b"".join(line + b"\n" for line in lines if not NOISE.match(line))
        if buf and not _maybe_noise(buf):
            out, buf = out + buf, b""
        if out:
            try:
                os.write(out_fd, out)
            except OSError:
                pass
    if buf and not NOISE.match(buf):
        try:
            os.write(out_fd, buf)
        except OSError:
            pass
    os.close(read_fd)


def filter_stderr():
    """Install the fd-2 filter; returns a function that restores fd 2 and flushes what is pending."""
    if os.environ.get("EDGEPPG_RAW_STDERR"):
        return lambda: None
    try:
        sys.stderr.flush()
        saved = os.dup(2)
        r, w = os.pipe()
        os.dup2(w, 2)
        os.close(w)
    except (OSError, ValueError):
        return lambda: None
    t = threading.Thread(target=_pump, args=(r, saved), name="edgeppg-stderr", daemon=True)
    t.start()
    tty = os.isatty(saved)
    if tty:  # progress bars and colours ask sys.stderr; they should see the terminal, not the pipe
        try:
            sys.stderr.isatty = lambda: True
        except AttributeError:
            tty = False

    def restore() -> None:
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        if tty:
            del sys.stderr.isatty
        os.dup2(saved, 2)  # the pipe's last writer (unless a child lives on) closes: the reader drains and ends
        t.join(timeout=5)
        if not t.is_alive():  # a child still holding the pipe keeps the reader (and its fd) alive
            os.close(saved)
    return restore
