"""`edgeppg run --preset smoke`: every stage, one report, skip on re-run, byte-identical artifacts."""

import json
import subprocess
import sys


from edgeppg.cli.main import main

STAGES = ["data", "teacher", "distill", "export", "real", "bench", "verify", "check"]
ARTIFACTS = ["student.onnx", "student_int8.onnx", "student_int8.tflite", "model_data.c", "model_data.h",
             "manifest.json", "parity.json", "heldout.npz"]


def test_every_stage_reported(smoke_run):
    run, stdout = smoke_run
    events = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    assert [e["stage"] for e in events if "stage" in e] == STAGES
    report = (run / "report.md").read_text()
    for st in STAGES:
        assert f"| {st} |" in report
    html = (run / "report.html").read_text()
    assert "data:image/png;base64," in html  # self-contained: plots inlined
    summary = json.loads((run / "summary.json").read_text())
    assert set(summary["stages"]) == set(STAGES)
    assert summary["check"]["passed"] is True
    for name in ARTIFACTS:
        assert (run / "export" / name).is_file()


def test_second_run_skips_every_stage(smoke_run, capsys):
    run, _ = smoke_run
    assert main(["run", "--preset", "smoke", "--out", str(run), "--json-logs"]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    stage_events = [e for e in events if "stage" in e]
    assert [e["stage"] for e in stage_events] == STAGES
    assert all(e["skipped"] for e in stage_events)


def test_config_change_reruns_only_downstream(smoke_run, tmp_path):
    """A changed bench setting must not retrain anything."""
    run, _ = smoke_run
    summary_before = json.loads((run / "summary.json").read_text())
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    from edgeppg.config import load_config
    from edgeppg.pipeline.run import run_pipeline

    cfg = load_config("smoke", overrides={"bench": {"windows": 10}})
    res = run_pipeline(cfg, copy, quiet=True)
    skipped = {n: r.skipped for n, r in res.records.items()}
    assert skipped == {"data": True, "teacher": True, "distill": True, "export": True, "real": True, "bench": False,
                       "verify": False, "check": False}
    assert res.summary["model"] == summary_before["model"]


def _assert_consistent(run):
    """Whatever the kill point: finished stages are intact, every JSON parses, nothing half-visible."""
    from edgeppg.io import sha256_file

    for rec_path in (run / ".stages").glob("*.json"):
        rec = json.loads(rec_path.read_text())
        if rec_path.name.endswith(".attempt.json"):
            continue
        for rel, sha in rec["outputs"].items():
            assert sha256_file(run / rec["name"] / rel) == sha, f"{rec['name']}/{rel} changed after its stage finished"
    for p in run.rglob("*.json"):
        if not p.name.startswith("."):
            json.loads(p.read_text())  # atomic writes: never a truncated JSON


# Kill points are events, not wall-clock draws, so every kill lands on every machine speed:
# after a stage's record is written, inside training right after an epoch's resume state is saved,
# and during the export's final folder swap (between its two renames).
KILL_POINTS = ["stage-done:data", "epoch-saved@2", "stage-done:distill", "export-swap"]


def _run_until_held(cmd, run, hold: str, hold_dir, timeout_s: float = 600.0) -> None:
    import os
    import signal
    import time

    env = dict(os.environ, EDGEPPG_HOLD_AT=hold, EDGEPPG_HOLD_DIR=str(hold_dir))
    marker = hold_dir / (hold.split("@")[0].replace(":", "_") + ".held")
    marker.unlink(missing_ok=True)
    err = hold_dir / "stderr.txt"
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err.open("w"), env=env)
    t0 = time.monotonic()
    while not marker.exists():
        if p.poll() is not None:
            raise AssertionError(f"run ended (rc {p.returncode}) before reaching {hold}: {err.read_text()[-2000:]!r}")
        if time.monotonic() - t0 > timeout_s:
            p.kill()
            raise AssertionError(f"run did not reach {hold} within {timeout_s} s")
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert p.returncode == -signal.SIGKILL


def test_sigkill_at_events_then_resume_gives_identical_artifacts(smoke_run, tmp_path):
    ref, _ = smoke_run
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "edgeppg", "run", "--preset", "smoke", "--out", str(run), "--quiet"]
    for hold in KILL_POINTS:
        _run_until_held(cmd, run, hold, tmp_path)
        _assert_consistent(run)
        if hold == "export-swap":  # killed between the renames: the export folder is absent, never half-made
            assert not (run / "export" / "manifest.json").exists()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    _assert_consistent(run)
    assert not list(run.glob(".export.*")), "a killed swap left hidden folders behind"
    for name in ARTIFACTS:
        assert (run / "export" / name).read_bytes() == (ref / "export" / name).read_bytes(), f"{name} differs after resume"
