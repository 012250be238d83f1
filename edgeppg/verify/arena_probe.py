"""Child process for TFLM arena trials (see tflm.ArenaProbe): `python -m edgeppg.verify.arena_probe MODEL X.npy`.

Reads one arena size per stdin line, answers "ok" or "fail" per line. If the tflite-micro wrapper crashes
on a size, the process dies and the parent counts that size as failing.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np


def main(argv: list[str]) -> int:
    from edgeppg.verify.tflm import try_arena

    model = Path(argv[0]).read_bytes()
    x = np.load(argv[1], allow_pickle=False)
    for line in sys.stdin:
        ok, _ = try_arena(model, int(line), x)
        sys.stdout.write("ok\n" if ok else "fail\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
