import json

import pytest

from edgeppg.pipeline.stages import Stage, run_stages


def _stages(calls, fail_at=None, cfg_b=1):
    def a(ctx):
        calls.append("a")
        (ctx.dir / "a.txt").write_text("A")
        return {"n": 1}

    def b(ctx):
        calls.append("b")
        progress = ctx.dir / "progress.txt"  # stands in for a training epoch checkpoint
        done = int(progress.read_text()) if progress.exists() else 0
        for step in range(done, 3):
            if fail_at is not None and step == fail_at:
                raise KeyboardInterrupt
            progress.write_text(str(step + 1))
        (ctx.dir / "b.txt").write_text((ctx.input_dir("a") / "a.txt").read_text() + "B" + progress.read_text())
        return {"steps": int(progress.read_text())}

    return [Stage("a", {"x": 1}, (), a), Stage("b", {"y": cfg_b}, ("a",), b)]


def test_second_run_skips_everything(tmp_path):
    calls = []
    run_stages(_stages(calls), tmp_path, print)
    recs = run_stages(_stages(calls), tmp_path, print)
    assert calls == ["a", "b"]
    assert all(r.skipped for r in recs.values())


def test_interrupted_stage_resumes_in_place(tmp_path):
    calls = []
    with pytest.raises(KeyboardInterrupt):
        run_stages(_stages(calls, fail_at=2), tmp_path, print)
    assert not (tmp_path / ".stages" / "b.json").exists()
    recs = run_stages(_stages(calls), tmp_path, print)
    assert recs["a"].skipped and not recs["b"].skipped
    assert (tmp_path / "b" / "b.txt").read_text() == "AB3"


def test_config_change_or_tampered_output_reruns(tmp_path):
    calls = []
    run_stages(_stages(calls), tmp_path, print)
    recs = run_stages(_stages(calls, cfg_b=2), tmp_path, print)
    assert recs["a"].skipped and not recs["b"].skipped
    (tmp_path / "a" / "a.txt").write_text("tampered")
    recs = run_stages(_stages(calls, cfg_b=2), tmp_path, print)
    # "a" is rebuilt; its outputs come back byte-identical, so "b" (keyed on a's output hashes) is kept
    assert not recs["a"].skipped and recs["b"].skipped
    assert (tmp_path / "a" / "a.txt").read_text() == "A"
    assert json.loads((tmp_path / ".stages" / "b.json").read_text())["metrics"] == {"steps": 3}
