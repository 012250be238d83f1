"""Named hold points for the kill-and-resume tests, so a SIGKILL lands on an event, not on a wall-clock guess.

`EDGEPPG_HOLD_AT=<point>[@<n>]` makes the n-th (default first) arrival at `hold_point(<point>)` write
`<point>.held` into `EDGEPPG_HOLD_DIR` and then wait forever; the test sees the file and kills the process.
Unset (every normal run), `hold_point` is one dictionary lookup.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

_arrivals: dict[str, int] = {}  # per-process arrival counts; only read when a hold is requested


def hold_point(point: str) -> None:
    spec = os.environ.get("EDGEPPG_HOLD_AT")
    if not spec:
        return
    target, _, nth = spec.partition("@")
    if target != point:
        return
    _arrivals[point] = _arrivals.get(point, 0) + 1
    if _arrivals[point] != int(nth or 1):
        return
    folder = Path(os.environ.get("EDGEPPG_HOLD_DIR", "."))
    (folder / f"{point.replace(':', '_')}.held").write_text(str(os.getpid()))
    while True:  # the test kills us here
        time.sleep(0.05)
