"""Rerun issue 12's hostile attempts (tests/hostile/attempts.py) as subprocesses and print the table.

    .venv/bin/python tools/hostile_table.py [--json runs/hostile.json] [--only SUBSTRING] [--verbose]

Each attempt runs `python -m edgeppg.cli.main ...` in its own scratch folder with its own seal key
(EDGEPPG_STATE_DIR); peak RSS is the child's own (wait4). Exit 1 if any traceback, crash, executed payload,
lost user file or passed forgery remains.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.hostile.attempts import ATTEMPTS, available, fixtures, run_subprocess, summarise  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--only", default=None)
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--fixtures", type=Path, default=None, help="reuse this folder for the toy export and checkpoint")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="edgeppg-hostile-") as tmp:
        root = Path(tmp)
        fx = fixtures(args.fixtures or root / "fixtures")
        outcomes = []
        for i, a in enumerate(a for a in ATTEMPTS if available(a) and (not args.only or args.only in a.name or args.only == a.group)):
            o = run_subprocess(a, root / f"a{i:03d}", fx)
            outcomes.append(o)
            flag = "ok " if o.clean else "BAD"
            last = (o.stderr.strip().splitlines() or [""])[-1]
            rss = f" {o.peak_rss_mb:6.0f} MB" if a.bomb else ""
            print(f"{flag} rc={o.rc!s:>4} {o.seconds:5.1f}s{rss}  [{a.group}] {a.name}: {last[:160]}", flush=True)
            if args.verbose and flag == "BAD":
                print(o.stderr[-3000:])
    s = summarise(outcomes)
    print("\n| measure | count |\n|---|---|")
    for k, v in s.items():
        if k != "peak RSS per bomb (MB)":
            print(f"| {k} | {v} |")
    print("\n| memory bomb | peak RSS (MB) |\n|---|---|")
    for k, v in s["peak RSS per bomb (MB)"].items():
        print(f"| {k} | {v} |")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(s, indent=2) + "\n")
    bad = s["tracebacks"] + s["crashes"] + s["code executed"] + s["user files lost"] + s["forged gates passed"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
