#!/usr/bin/env python3
"""Generator realism vs the real recordings: spectral and pulse-shape statistics, JSON + bar chart.

    .venv/bin/python tools/realism.py --out runs/realism
"""

from __future__ import annotations

import argparse
from pathlib import Path

from edgeppg.preprocess import Preprocessing
from edgeppg.realppg.realism import STATS, real_groups, synthetic_groups, write_realism
from edgeppg.realppg.sources import real_sources


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("runs/realism"))
    ap.add_argument("--n", type=int, default=600, help="synthetic windows per generator version")
    a = ap.parse_args()
    pre = Preprocessing()
    groups = {**synthetic_groups(a.n, sensor_domain=False), **synthetic_groups(a.n, sensor_domain=True),
              **real_groups(real_sources(derived=False), pre)}
    a.out.mkdir(parents=True, exist_ok=True)
    summary = write_realism(groups, pre, a.out)
    print(f"{'group':32s} " + " ".join(f"{k:>14s}" for k in STATS))
    for g, s in summary.items():
        print(f"{g:32s} " + " ".join(f"{s[k][1]:14.3f}" for k in STATS))
    print(f"wrote {a.out / 'realism.json'} and {a.out / 'realism.png'}")


if __name__ == "__main__":
    main()
