"""`edgeppg eval --real`, the pipeline's real stage and `edgeppg check`'s [real] budget, on tiny synthetic
"real" sources (the installed packages are not needed: real_sources is replaced)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from edgeppg.cli.main import main
from edgeppg.realppg.sources import RealSource
from tests.fixtures.toy import cached_toy_export

FS = 50.0
FASTCHECK = ["--runs", "3", "--warmup", "1", "--max-windows", "4"]


def _source(name: str, bpm: float, seconds: float = 30.0, group: str = "finger", derived_from=None) -> RealSource:
    t = np.arange(int(seconds * FS)) / FS
    f = bpm / 60.0
    x = np.sin(2 * np.pi * f * t) + 0.3 * np.sin(4 * np.pi * f * t) + 0.05 * np.random.default_rng(1).standard_normal(t.size)
    n = int((seconds - 8.0) // 2.0) + 1
    ref = np.full(n, bpm)
    ref[1] = np.nan  # one window without a reference
    return RealSource(name=name, group=group, signal=x, fs_hz=FS, window_s=8.0, hop_s=2.0, ref_hr=ref,
                      excluded={"detectors disagree >3 BPM": 1}, labelling="synthetic test signal",
                      license="CC0", derived_from=derived_from)


SOURCES = [_source("synth/a", 72.0), _source("synth/b", 95.0, group="wrist"),
           _source("synth/a@25hz-q10-inv", 72.0, derived_from="synth/a")]


@pytest.fixture
def fake_sources(monkeypatch):
    import edgeppg.realppg.sources as src

    monkeypatch.setattr(src, "real_sources", lambda derived=True, cache_dir=None: [s for s in SOURCES if derived or not s.derived_from])
    return SOURCES


@pytest.fixture(scope="session")
def toy_export(request) -> Path:
    return cached_toy_export(request.config.cache.mkdir("edgeppg-verify-toy"))


@pytest.fixture
def export(toy_export, tmp_path) -> Path:
    d = tmp_path / "export"
    shutil.copytree(toy_export, d, ignore=shutil.ignore_patterns("verify", "real"))
    return d


def test_eval_scores_the_model_and_estimators_per_source_and_pooled(fake_sources, export, tmp_path, capsys):
    out = tmp_path / "res"
    assert main(["eval", str(export), "--real", "--out", str(out), "--estimator", "spectral-peak"]) == 0
    text = capsys.readouterr().out
    doc = json.loads((out / "real.json").read_text())
    assert doc["schema"] == "edgeppg.real/1" and doc["status"] == "ok"
    (m,) = doc["models"]
    assert m["manifest_sha256"] and m["kind"] == "int8-tflite" and m["label"] == "toy-s4k-int8"
    rows = {(r["estimator"], r["source"]): r for r in doc["rows"]}
    for est in ("toy-s4k-int8", "spectral-peak"):
        assert {s.name for s in SOURCES} | {"all", "all-derived"} <= {k[1] for k in rows if k[0] == est}
    a = rows[("toy-s4k-int8", "synth/a")]
    assert a["n"] == 12 and a["n_ref"] == 11 and sum(a["classes"].values()) == 12
    assert rows[("toy-s4k-int8", "all")]["n_ref"] == 22  # pooled over the two originals only
    sp = rows[("spectral-peak", "synth/a")]
    assert sp["coverage"] == 1.0 and sp["hr_mae_bpm"] < 3.0  # a clean 72 BPM sine: the estimator finds it
    # sources, licences and labelling rules are stated in both files
    assert {s["license"] for s in doc["sources"]} == {"CC0"} and "coverage" in doc["rules"]
    md = (out / "real.md").read_text()
    assert "synthetic test signal" in md and "CC0" in md and "coverage" in md
    assert "toy-s4k-int8" in text and "pooled over the original sources" in text


def test_eval_several_models_side_by_side_and_no_estimators(fake_sources, export, tmp_path, capsys):
    repo = Path(__file__).resolve().parents[1]
    ck = sorted((repo / "models").glob("ppg-student-*.safetensors"))[0]  # the shipped default student
    out = tmp_path / "res"
    assert main(["eval", str(export), str(ck), "--real", "--no-estimators", "--no-derived", "--max-windows", "5",
                 "--out", str(out)]) == 0
    doc = json.loads((out / "real.json").read_text())
    labels = [m["label"] for m in doc["models"]]
    assert labels == ["toy-s4k-int8", f"{ck.stem}-fp32"] and doc["models"][1]["weights_sha256"]
    assert {r["estimator"] for r in doc["rows"]} == set(labels)
    assert {r["n"] for r in doc["rows"] if r["source"] != "all"} == {5}


def test_eval_with_nothing_installed_says_skipped(monkeypatch, export, tmp_path, capsys):
    import edgeppg.realppg.sources as src

    monkeypatch.setattr(src, "real_sources", lambda derived=True, cache_dir=None: [])
    assert main(["eval", str(export), "--real", "--out", str(tmp_path / "r")]) == 0
    doc = json.loads((tmp_path / "r" / "real.json").read_text())
    assert doc["status"] == "skipped: not installed" and doc["rows"] == []
    assert "skipped: not installed" in capsys.readouterr().out


def test_eval_bad_input_one_line_exit_2_nothing_written(fake_sources, export, tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    cases = [[str(tmp_path / "nope"), "--real", "--out", str(tmp_path / "o1")],
             [str(export), "--real", "--out", str(tmp_path / "file")],
             [str(export), "--real", "--out", str(tmp_path / "o2"), "--estimator", "no-such"]]
    for args in cases:
        assert main(["eval", *args]) == 2, args
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("edgeppg: error:"), err
    assert not (tmp_path / "o1").exists() and not (tmp_path / "o2").exists()


# ------------------------------------------------------------------ edgeppg check [real]

def _budget(path: Path, **kv) -> Path:
    path.write_text("[real]\n" + "".join(f"{k} = {v!r}\n" for k, v in kv.items()))
    return path


def test_real_budget_tightened_past_the_measured_value_fails_check(fake_sources, export, tmp_path, capsys):
    from edgeppg.evaluate import RealOptions, eval_real

    result, paths = eval_real([export], export / "real", RealOptions(estimators=False))
    overall = result["models"][0]["overall"]
    cov, mae = overall["coverage"], overall["hr_mae_bpm"]
    assert 0 < cov <= 1 and np.isfinite(mae)
    ok = _budget(tmp_path / "ok.toml", max_hr_mae_bpm=round(mae + 0.01, 4), min_coverage=round(cov - 0.01, 4))
    assert main(["check", *FASTCHECK, str(export), "--budget", str(ok)]) == 0  # the default real.json beside the export
    capsys.readouterr()
    tight = _budget(tmp_path / "tight.toml", max_hr_mae_bpm=round(max(mae - 0.5, 0.0), 4), min_coverage=1.0 if cov < 1 else 0.5)
    assert main(["check", *FASTCHECK, str(export), "--budget", str(tight), "--json"]) == 1
    verdict = json.loads(capsys.readouterr().out)
    assert "real.max_hr_mae_bpm" in verdict["failed"] and verdict["real_json"] == str(paths["json"])
    if cov < 1:
        assert "real.min_coverage" in verdict["failed"]


def test_stale_or_foreign_real_json_is_refused(fake_sources, export, tmp_path, capsys):
    from edgeppg.evaluate import RealOptions, eval_real

    eval_real([export], export / "real", RealOptions(estimators=False))
    doc = json.loads((export / "real" / "real.json").read_text())
    doc["models"][0]["manifest_sha256"] = "0" * 64  # measured on another export
    stale = tmp_path / "stale.json"
    stale.write_text(json.dumps(doc))
    budget = _budget(tmp_path / "b.toml", min_coverage=0.0)
    assert main(["check", *FASTCHECK, str(export), "--budget", str(budget), "--real", str(stale)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "measured on another export" in err[0] and "stale or foreign" in err[0]
    # the same after a re-export changed the manifest under an old real.json
    m = json.loads((export / "manifest.json").read_text())
    m["note"] = "re-exported"
    (export / "manifest.json").write_text(json.dumps(m))
    assert main(["check", *FASTCHECK, str(export), "--budget", str(budget)]) == 2
    assert "stale or foreign" in capsys.readouterr().err
    assert main(["check", *FASTCHECK, str(export), "--budget", str(budget), "--real", str(tmp_path / "none.json")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_real_budget_without_installed_sources_fails_as_missing(monkeypatch, export, tmp_path, capsys):
    import edgeppg.realppg.sources as src

    monkeypatch.setattr(src, "real_sources", lambda derived=True, cache_dir=None: [])
    budget = _budget(tmp_path / "b.toml", min_coverage=0.0)
    assert main(["check", *FASTCHECK, str(export), "--budget", str(budget)]) == 1  # measured now: nothing to measure
    assert "missing" in capsys.readouterr().out


def test_real_budget_keys_are_validated(tmp_path):
    from edgeppg.errors import EdgePPGError
    from edgeppg.verify import load_budget

    with pytest.raises(EdgePPGError, match=r"min_coverage must be in \[0, 1\]"):
        load_budget(_budget(tmp_path / "a.toml", min_coverage=1.5))
    with pytest.raises(EdgePPGError, match=r"unknown budget key real\.'max_mae'"):
        load_budget(_budget(tmp_path / "b.toml", max_mae=1.0))


# ------------------------------------------------------------------ pipeline real stage and report

def _tiny_teacher(path: Path) -> Path:
    import torch

    from edgeppg.models.resnet1d import ResNet1d, resnet_config
    from edgeppg.train.checkpoint import save_checkpoint

    torch.manual_seed(0)
    model = ResNet1d(resnet_config("resnet18", width=4))
    return save_checkpoint(path, model, input_spec={"fs_hz": 64.0, "window_s": 8.0, "channels": 1, "modality": "ppg"})


@pytest.mark.parametrize("installed", [True, False])
def test_pipeline_real_stage_summary_and_report(monkeypatch, export, tmp_path, installed):
    import edgeppg.realppg.sources as src
    from edgeppg.config import load_config
    from edgeppg.pipeline.run import Logger, build_stages
    from edgeppg.pipeline.stages import StageRecord, run_stage
    from edgeppg.pipeline.summary import report

    monkeypatch.setattr(src, "real_sources", lambda derived=True, cache_dir=None: list(SOURCES) if installed else [])
    run = tmp_path / "run"
    (run / "teacher").mkdir(parents=True)
    _tiny_teacher(run / "teacher" / "teacher.safetensors")
    shutil.copytree(export, run / "export")
    cfg = load_config("smoke")
    stage = next(s for s in build_stages(cfg, run, Logger(quiet=True)) if s.name == "real")
    done = {n: StageRecord(n, run / n, "", {}, {"x": n}) for n in ("export", "teacher")}
    rec = run_stage(stage, run, done, lambda m: None)
    doc = json.loads((run / "real" / "real.json").read_text())
    summary = report(cfg, run, {"real": rec})
    md = (run / "report.md").read_text()
    assert "## Real PPG" in md
    if not installed:
        assert rec.metrics == {"status": "skipped: not installed"} and doc["status"] == "skipped: not installed"
        assert summary["real"]["status"] == "skipped: not installed"
        return
    # smoke: the first 2 original sources, 12 windows each, no derived rows
    assert doc["options"] == {"max_sources": 2, "max_windows": 12, "derived": False, "estimators": False, "runtime": "litert"}
    assert [m["label"] for m in doc["models"]] == ["student-int8", "teacher-fp32"]
    assert rec.metrics["status"] == "ok" and "student_int8_coverage" in rec.metrics and "teacher_fp32_hr_mae_bpm" in rec.metrics
    assert set(summary["real"]["models"]) == {"student-int8", "teacher-fp32"}
    assert {r["source"] for r in summary["real"]["rows"]} == {"synth/a", "synth/b", "all"}
    assert "| student-int8 | synth/a | 12 | 11 |" in md
    if (run / "real" / "real_bland_altman.png").is_file():
        assert "data:image/png;base64" in (run / "report.html").read_text()
