import os
import subprocess
import sys
from pathlib import Path

import pytest

# tests.fixtures / tests.hostile import as packages under `pytest` as well as `python -m pytest` (cwd on sys.path)
_ROOT = str(Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

# Tests are small; keep torch from oversubscribing the 2 CI cores when pytest-xdist runs 2 workers.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """One `edgeppg run --preset smoke` per test session (about a minute): the run folder and its JSON-lines log.
    Tests that read it must not modify it (copy it first)."""
    run = tmp_path_factory.mktemp("smoke") / "run"
    proc = subprocess.run([sys.executable, "-m", "edgeppg", "run", "--preset", "smoke", "--out", str(run), "--json-logs"],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return run, proc.stdout


@pytest.fixture(scope="session")
def toy_export_cached(request):
    """The toy export (tests/fixtures/toy.py), built once per pytest cache; copy it before changing anything."""
    from tests.fixtures.toy import cached_toy_export

    return cached_toy_export(request.config.cache.mkdir("edgeppg-verify-toy"))


@pytest.fixture(scope="session")
def real_export_cached(request):
    """A random s2k student through the real exporter (tests/fixtures/toy.py); copy it before changing anything."""
    from tests.fixtures.toy import cached_toy_export

    return cached_toy_export(request.config.cache.mkdir("edgeppg-verify-real"), preset="s2k")
