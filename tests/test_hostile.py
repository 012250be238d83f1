"""Issue 12's hostile attempts (tests/hostile/attempts.py), in-process: every one is a clean refusal.

Zero tracebacks, crashes, executed payloads, lost user files and passed forgeries. `tools/hostile_table.py`
runs the same attempts as subprocesses and prints the table with peak RSS per memory bomb.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hostile.attempts import ATTEMPTS, available, fixtures, run_in_process


@pytest.fixture(scope="module")
def fx(request, tmp_path_factory):
    pytest.importorskip("tensorflow")
    root = tmp_path_factory.mktemp("hostile_fixtures")
    return fixtures(root, request.config.cache.mkdir("edgeppg-verify-toy"))


@pytest.mark.parametrize("attempt", [a for a in ATTEMPTS if available(a)], ids=lambda a: a.name)
def test_hostile_attempt_is_refused_cleanly(attempt, fx, tmp_path):
    o = run_in_process(attempt, tmp_path / "a", fx)
    assert not o.traceback, o.stderr[-2000:]
    assert not o.crash and not o.executed, o.stderr[-2000:]
    assert not o.lost, f"user files lost: {o.lost}"
    assert not o.forged_passed, f"forged gate passed: {o.stderr[-1000:]}"
    if attempt.recovers:
        assert o.rc == 0 and o.clean, o.stderr[-1000:]
        return
    assert o.rc in (1, 2), (o.rc, o.stderr[-1000:])
    lines = [ln for ln in o.stderr.splitlines() if ln.startswith(("edgeppg: error:", "Error:"))]
    assert lines and all(len(ln) <= 800 for ln in lines), o.stderr[-1000:]
