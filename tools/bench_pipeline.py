#!/usr/bin/env python
"""Per-stage time breakdown of `edgeppg run` (default preset unless told otherwise); prints a table, writes JSON.

    .venv/bin/python tools/bench_pipeline.py --preset default --out runs/bench/pipeline

Stages already up to date in --out are skipped by the pipeline; pass --fresh to time everything.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

from edgeppg.config import load_config
from edgeppg.io import atomic_write_json
from edgeppg.pipeline.run import run_pipeline


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="default")
    ap.add_argument("--out", type=Path, default=Path("runs/bench/pipeline"))
    ap.add_argument("--fresh", action="store_true", help="delete --out first so every stage runs")
    args = ap.parse_args()
    if args.fresh and args.out.exists():
        shutil.rmtree(args.out)
    t0 = time.perf_counter()
    res = run_pipeline(load_config(args.preset), args.out, quiet=True)
    wall = time.perf_counter() - t0
    rows = {n: {"seconds": r.seconds, "skipped": r.skipped} for n, r in res.records.items()}
    print(f"{'stage':10s} {'seconds':>9s}")
    for n, r in rows.items():
        print(f"{n:10s} {r['seconds']:9.1f}{'  (skipped)' if r['skipped'] else ''}")
    print(f"{'total':10s} {wall:9.1f}  (wall, incl. report)")
    atomic_write_json(args.out.parent / f"pipeline_{args.preset}.json",
                      {"preset": args.preset, "wall_s": round(wall, 2), "stages": rows, "passed": res.passed})
    print(json.dumps({"wall_s": round(wall, 1), "passed": res.passed}))


if __name__ == "__main__":
    main()
