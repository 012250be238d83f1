"""End-to-end `edgeppg distill` / `experiment distill` on a tiny corpus and a tiny teacher (seconds)."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from edgeppg.cli.main import main
from edgeppg.config import DataConfig, DistillConfig, FitConfig
from edgeppg.errors import EdgePPGError
from edgeppg.models.student import build_student, student_spec
from edgeppg.train.checkpoint import load_checkpoint, save_checkpoint

TINY_FIT = FitConfig(epochs=1, batch_size=32, patience=0, progress=False, num_threads=1)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    from edgeppg.data.corpus import build_corpus

    d = tmp_path_factory.mktemp("corpus") / "data"
    build_corpus(d, 100, seed=3, n_records=10)  # 10 records: train/val/test all non-empty
    return d


def _teacher(path: Path, fs=64.0, samples=512, channels=1) -> Path:
    torch.manual_seed(0)  # any edgeppg model following the heads contract can teach
    spec = student_spec("s4k", fs_hz=fs, samples=samples, in_channels=channels)
    return save_checkpoint(path, build_student(spec),
                           input_spec={"fs_hz": fs, "window_s": samples / fs, "channels": channels})


@pytest.fixture(scope="module")
def teacher(tmp_path_factory) -> Path:
    return _teacher(tmp_path_factory.mktemp("teacher") / "teacher.safetensors")


def _cfg(**kw):
    base = dict(student="s2k", fit=TINY_FIT, labels=30, cache_dir=None)
    base.update(kw)
    return DistillConfig(**base)


def test_distill_writes_student_sidecar_and_metrics(corpus, teacher, tmp_path):
    from edgeppg.train.distill import distill

    data_cfg = DataConfig(n_windows=100)
    res = distill(_cfg(seeds=(0, 1), hint_weight=0.1), teacher, corpus, tmp_path / "run", data_cfg=data_cfg,
                  log=lambda s: None, progress=False)
    m = json.loads(res.metrics_path.read_text())
    for key in ("teacher", "student", "student_no_kd"):
        assert {"rhythm_macro_f1", "hr_mae_bpm", "rr_mae_bpm"} <= set(m[key])
    assert m["student_params"] == student_spec("s2k").params() and m["student_macs"] == student_spec("s2k").macs()
    assert m["teacher_params"] > 0 and [r["seed"] for r in m["per_seed"]] == [0, 1]
    assert set(m["student_std"]) >= {"hr_mae_bpm"} and m["kd_vs_no_kd"]["seeds"] == 2
    assert m["labelled_windows"] == 30 and m["teacher_only_windows"] == m["train_windows"] - 30
    # the student's sidecar names its teacher and the held-out test set
    ck = load_checkpoint(res.student_path, expect_arch="student")
    t = load_checkpoint(teacher)
    assert ck.meta["parent_sha256"] == t.sha256
    data = ck.meta["data"]
    assert data["corpus_dir"] == str(corpus.resolve()) and data["split_seed"] == data_cfg.seed
    assert len(data["corpus_sha256"]) == 64 and len(data["test_window_ids_sha256"]) == 64
    # the same test set can be rebuilt from the sidecar alone
    from edgeppg.data.corpus import load_corpus
    from edgeppg.data.synth import split_indices
    from edgeppg.train.distill import ids_sha256

    _, ppg, _ = load_corpus(data["corpus_dir"])
    test = split_indices(ppg, data["val_frac"], data["test_frac"], data["split_seed"])["test"]
    assert ids_sha256(ppg.window_id[test]) == data["test_window_ids_sha256"]
    assert m["test_windows"] == len(test)


def test_teacher_outputs_computed_once_and_reused_from_disk(corpus, teacher, tmp_path):
    from edgeppg.train import kd
    from edgeppg.train.distill import distill

    kd.clear_memory_cache()
    cfg = _cfg(cache_dir=str(tmp_path / "cache"), labels=None, unlabelled=10)
    r1 = distill(cfg, teacher, corpus, tmp_path / "a", data_cfg=DataConfig(), log=lambda s: None, progress=False)
    assert r1.metrics["teacher_cache"]["source"] == "computed"
    assert r1.metrics["teacher_only_windows"] == 10  # all train labels used + 10 synthetic teacher-only windows
    kd.clear_memory_cache()
    r2 = distill(cfg, teacher, corpus, tmp_path / "b", data_cfg=DataConfig(), log=lambda s: None, progress=False)
    assert r2.metrics["teacher_cache"]["source"] == "disk"
    assert r1.metrics["student"] == r2.metrics["student"]  # seeded: same numbers twice


def test_distill_errors_are_clear(corpus, teacher, tmp_path):
    from edgeppg.train.distill import distill

    q = dict(data_cfg=DataConfig(), log=lambda s: None, progress=False)
    with pytest.raises(EdgePPGError, match="unknown student preset 's999k'.*s5k"):
        distill(_cfg(student="s999k"), teacher, corpus, tmp_path / "x", **q)
    other = _teacher(tmp_path / "t32.safetensors", fs=32.0, samples=256)
    with pytest.raises(EdgePPGError, match="fs_hz 32.0 .teacher. != 64.0 .data."):
        distill(_cfg(), other, corpus, tmp_path / "y", **q)
    from edgeppg.data.corpus import build_corpus

    one = build_corpus(tmp_path / "one", 10, seed=3)  # one record: no room for train/val/test
    assert one["ppg"]["records"] == 1
    with pytest.raises(EdgePPGError, match="split .* is empty"):
        distill(_cfg(), teacher, tmp_path / "one", tmp_path / "z", **q)


def test_cli_distill_and_sweep(corpus, teacher, tmp_path, capsys):
    fit = ["--set", "distill.fit.epochs=1", "--set", "distill.fit.progress=false", "--set", "distill.fit.batch_size=32",
           "--set", "distill.labels=30"]
    rc = main(["distill", "--preset", "smoke", "--teacher", str(teacher), "--student", "s2k", "--data", str(corpus),
               "--out", str(tmp_path / "d"), *fit])
    assert rc == 0 and (tmp_path / "d" / "student.safetensors").is_file()
    assert "student_no_kd" in capsys.readouterr().out
    rc = main(["distill", "--teacher", str(teacher), "--student", "nope", "--data", str(corpus), "--out", str(tmp_path / "e")])
    assert rc == 2 and "unknown student preset 'nope'" in capsys.readouterr().err
    rc = main(["distill", "--teacher", str(teacher), "--seeds", "0,x", "--out", str(tmp_path / "e")])
    assert rc == 2 and "--seeds" in capsys.readouterr().err
    rc = main(["experiment", "distill", "--preset", "smoke", "--teacher", str(teacher), "--data", str(corpus),
               "--out", str(tmp_path / "s"), "--presets", "s2k", "--seeds", "0", *fit])
    assert rc == 0
    table = json.loads((tmp_path / "s" / "distill.json").read_text())
    assert [r["preset"] for r in table["rows"]] == ["s2k"]
    assert all({"kd", "no_kd", "params", "macs"} <= set(r) for r in table["rows"])
    png = (tmp_path / "s" / "distill.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
