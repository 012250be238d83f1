"""examples/github-actions-edgeppg.yml runs as written (issue 17). SLOW: ~1 min (two exports + two gates).

Its `run:` steps are replayed in order in a clean `git clone` of this repository's HEAD, each the way GitHub
runs a `shell: bash` step: `bash --noprofile --norc -eo pipefail STEP.sh`, working directory the checkout,
the workflow's env (+ CI=true); a failed step skips the later ones unless they say `if: always()`.

What is substituted, and why:
- `uses:` steps. actions/checkout is the clone itself; actions/setup-python is this venv's Python 3.11;
  actions/upload-artifact is not run, but every path it lists must exist afterwards.
- The `Install` step. Its lines are asserted to be exactly INSTALL below (so the stand-in stays honest), then
  it is replaced by `.venv` -> this repository's .venv (a symlink) plus PYTHONPATH=<clone>, so the clone's own
  code and models/ run on the pinned packages already installed from the same requirements.lock.
  Reinstalling would take minutes and the network, and `pip install -e .` from the clone would repoint the
  venv every other test shares.

Run 1 must pass the gate. Run 2, with BUDGET tightened one byte below the model size run 1 measured, must fail
the gate with exit 1 and still leave a fresh check.json (passed: false). The workflow also validates against
the GitHub workflow schema (`check-jsonschema --builtin-schema vendor.github-workflows`, its vendored copy:
no network).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

REPO = Path(__file__).resolve().parents[1]
WORKFLOW = "examples/github-actions-edgeppg.yml"
VENV = Path(sys.prefix)
INSTALL = [
    "python -m venv .venv",
    ".venv/bin/pip install -q -r requirements.lock",
    ".venv/bin/pip install -q --no-deps -e .",
    ".venv/bin/pip install -q --no-deps --ignore-requires-python --target .venv/real-data -r requirements-real.txt",
]


def _clone(tmp: Path) -> Path:
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("needs git and this repository's .git to clone HEAD")
    dst = tmp / "clone"
    subprocess.run(["git", "clone", "-q", str(REPO), str(dst)], check=True, timeout=120)
    return dst


def _replay(clone: Path, wf: dict, env_over: dict, logs: Path) -> list[tuple[str, int | None, str]]:
    """(step name, exit code or None when skipped/not a run step, output) for every step, in order."""
    job = wf["jobs"]["export-and-check"]
    assert job["defaults"]["run"]["shell"] == "bash"
    env = {**os.environ, "CI": "true", "GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(clone),
           **{k: str(v) for k, v in (wf.get("env") or {}).items()}, **{k: str(v) for k, v in (job.get("env") or {}).items()},
           "PYTHONPATH": str(clone), **env_over}
    results, failed = [], False
    for i, step in enumerate(job["steps"]):
        name = step.get("name") or step.get("uses")
        if failed and step.get("if") != "always()":
            results.append((name, None, "skipped"))
            continue
        if "run" not in step:
            results.append((name, None, "uses"))
            continue
        script = step["run"]
        if name == "Install":
            assert [ln for ln in script.splitlines() if ln.strip()] == INSTALL
            script = f"ln -sfn {VENV} .venv\n"  # the stand-in (module docstring)
        path = logs / f"step{i}.sh"
        path.write_text(script)
        p = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(path)], cwd=clone,
                           env={**env, **{k: str(v) for k, v in (step.get("env") or {}).items()}},
                           capture_output=True, text=True, timeout=300)
        results.append((name, p.returncode, p.stdout + p.stderr))
        failed = failed or p.returncode != 0
    return results


def _upload_paths(wf: dict) -> list[str]:
    up = [s for s in wf["jobs"]["export-and-check"]["steps"] if str(s.get("uses", "")).startswith("actions/upload-artifact")]
    assert len(up) == 1 and up[0].get("if") == "always()"
    return [ln.strip() for ln in up[0]["with"]["path"].splitlines() if ln.strip()]


@pytest.mark.slow
def test_workflow_replays_in_a_clean_clone_and_the_gate_keeps_check_json(tmp_path):
    clone = _clone(tmp_path)
    wf = yaml.safe_load((clone / WORKFLOW).read_text())
    t0 = time.perf_counter()

    ok = _replay(clone, wf, {}, tmp_path)
    for name, rc, out in ok:
        assert rc in (0, None), f"step {name!r} exited {rc}:\n{out[-3000:]}"
    verdict = json.loads((clone / "runs/ci/check.json").read_text())
    assert verdict["passed"] is True and verdict["failed"] == []
    for p in _upload_paths(wf):
        assert (clone / p).exists(), p
    size = next(r["actual"] for r in verdict["rows"] if r["metric"] == "flash.max_model_bytes")

    tight = tmp_path / "tight.toml"
    text = (REPO / "examples/budget_nrf52840.toml").read_text()
    tight.write_text(re.sub(r"(?m)^max_model_bytes = .*$", f"max_model_bytes = {size - 1}", text, count=1))
    (clone / "runs/ci/check.json").unlink()
    over = _replay(clone, wf, {"BUDGET": str(tight)}, tmp_path)
    rc = {name: code for name, code, _ in over}
    out = {name: o for name, _, o in over}
    assert rc["Export int8 artifacts"] == 0 and rc["Budget gate"] == 1, out["Budget gate"][-3000:]
    verdict = json.loads((clone / "runs/ci/check.json").read_text())
    assert verdict["passed"] is False and "flash.max_model_bytes" in verdict["failed"]
    assert "flash.max_model_bytes" in out["Budget gate"] and "Traceback" not in out["Budget gate"]
    assert rc["Keep the report"] is None and (clone / "runs/ci/check.json").is_file()  # upload still runs (always())
    print(f"workflow replayed twice in {time.perf_counter() - t0:.0f} s")


def test_workflow_is_valid_for_github():
    exe = VENV / "bin" / "check-jsonschema"
    if not exe.is_file():
        pytest.skip("check-jsonschema is not installed (it is in requirements.lock: run `make setup`)")
    p = subprocess.run([str(exe), "--builtin-schema", "vendor.github-workflows", str(REPO / WORKFLOW)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    wf = yaml.safe_load((REPO / WORKFLOW).read_text())
    lock = (REPO / "requirements.lock").read_text()
    if "+cpu" in lock:  # a local-version torch is only on the PyTorch index: the workflow must name it
        assert wf["env"]["PIP_EXTRA_INDEX_URL"] == "https://download.pytorch.org/whl/cpu"
    text = (REPO / WORKFLOW).read_text()
    assert "apt-get" not in text and "make setup" not in text  # no ARM toolchain: no step builds firmware
