"""Teacher: ResNet1d contract, registry, strategies, input adaptation, the hand-off, and the CLI (incl. bad inits)."""

import json
import pickle

import numpy as np
import pytest
import torch

from edgeppg.cli.main import main
from edgeppg.config import FinetuneConfig, FitConfig
from edgeppg.errors import EdgePPGError
from edgeppg.io import sha256_file
from edgeppg.models.heads import DEFAULT_HEADS
from edgeppg.models.registry import build_from_config
from edgeppg.models.resnet1d import ResNet1d, build_resnet, resnet_config
from edgeppg.models.student import build_student, student_spec
from edgeppg.train.checkpoint import load_checkpoint, save_checkpoint
from edgeppg.train.transfer import adapt_channels, epochs_to_converge, feature_extractor, model_for_task, plan_strategy


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    from edgeppg.data.corpus import build_corpus

    d = tmp_path_factory.mktemp("corpus") / "data"
    build_corpus(d, 100, seed=3)
    return d


@pytest.fixture()
def ecg_ckpt(tmp_path):
    torch.manual_seed(0)
    m = build_resnet("resnet18", width=4)
    return save_checkpoint(tmp_path / "ecg.safetensors", m, input_spec={"fs_hz": 64.0, "window_s": 8.0, "channels": 1})


def test_resnet_contract_and_config_roundtrip():
    m = build_resnet("resnet18", width=4).eval()
    x = torch.randn(3, 1, 512)
    out = m(x)
    assert list(out) == ["rhythm", "hr", "rr"] and out["rhythm"].shape == (3, 5) and out["hr"].shape == (3, 1)
    assert m.features(x).shape == (3, 32)  # width * 8
    m2 = build_from_config("resnet1d", json.loads(json.dumps(m.config_json())))
    m2.load_state_dict(m.state_dict())
    torch.testing.assert_close(m2.eval()(x)["hr"], out["hr"])
    assert [n for n, _ in m.backbone.groups()] == ["stem", "stage1", "stage2", "stage3", "stage4", "post"]
    # kernels 7/5/5/3 per stage, depth 18 = 2-2-2-2 blocks, 34 = 3-4-6-3
    assert [s[0].conv1.kernel_size[0] for s in m.backbone.stages] == [7, 5, 5, 3]
    assert [len(s) for s in build_resnet("resnet34", width=2).backbone.stages] == [3, 4, 6, 3]


def test_registry_unknown_name_lists_valid():
    with pytest.raises(EdgePPGError, match="resnet18, resnet34"):
        resnet_config("resnet50")


def test_strategies_freeze_and_decay():
    m = build_resnet("resnet18", width=4)
    pg, _ = plan_strategy(m, FinetuneConfig(strategy="probe"))
    assert not any(p.requires_grad for p in m.backbone.parameters())
    assert {id(p) for g in pg(m) for p in g["params"]} == {id(p) for p in m.heads.parameters()}

    m = build_resnet("resnet18", width=4)
    plan_strategy(m, FinetuneConfig(strategy="partial", freeze_stages=2))
    assert not any(p.requires_grad for p in m.backbone.stages[1].parameters())
    assert all(p.requires_grad for p in m.backbone.stages[2].parameters())

    m = build_resnet("resnet18", width=4)
    pg, _ = plan_strategy(m, FinetuneConfig(strategy="discriminative", lr_decay=0.4))
    mult = {g["name"]: g["lr_mult"] for g in pg(m)}
    assert mult["heads"] == 1.0 and mult["stage4"] == 1.0 and 10 <= 1 / mult["stem"] <= 100

    m = build_resnet("resnet18", width=4)
    _, start = plan_strategy(m, FinetuneConfig(strategy="gradual", fit=FitConfig(epochs=10)))
    start(0, m)
    assert not any(p.requires_grad for p in m.backbone.parameters())
    start(1, m)
    assert all(p.requires_grad for p in m.backbone.stages[3].parameters())
    assert not any(p.requires_grad for p in m.backbone.stages[2].parameters())
    start(9, m)
    assert all(p.requires_grad for p in m.backbone.parameters())
    with pytest.raises(EdgePPGError, match="valid strategys"):
        plan_strategy(m, FinetuneConfig(strategy="bogus"))


def test_handoff_returns_backbone_only_and_adapts_channels(ecg_ckpt):
    bb = feature_extractor(ecg_ckpt)
    assert not hasattr(bb, "heads") and bb.cfg.fs_hz == 64.0 and bb.source["sha256"] == load_checkpoint(ecg_ckpt).sha256
    x1 = torch.randn(2, 1, 512)
    bb3 = adapt_channels(bb, 3)
    assert bb3.stem.weight.shape[1] == 3
    bb.eval(), bb3.eval()
    # three copies of one channel give the pretrained single-channel features (filters duplicated, / C)
    torch.testing.assert_close(bb3(x1.repeat(1, 3, 1)), bb(x1), rtol=1e-4, atol=1e-5)
    m = model_for_task(bb3, DEFAULT_HEADS, 512, pretrained=True, seed=0)
    assert isinstance(m, ResNet1d) and m.cfg.in_channels == 3
    torch.testing.assert_close(m.backbone.stem.weight, bb3.stem.weight)


def test_epochs_to_converge():
    h = [{"val_score": v} for v in (0.1, 0.5, 0.79, 0.8, 0.7)]
    assert epochs_to_converge(h) == 3


def test_finetune_cli_writes_teacher_with_parent(tmp_path, corpus, ecg_ckpt):
    out = tmp_path / "ft"
    rc = main(["finetune", "--preset", "smoke", "--data", str(corpus), "--init", str(ecg_ckpt), "--strategy", "full",
               "--labels", "30", "--epochs", "1", "--out", str(out), "--quiet", "--threads", "1"])
    assert rc == 0
    ck = load_checkpoint(out / "teacher.safetensors", expect_arch="resnet1d")
    assert ck.meta["parent_sha256"] == load_checkpoint(ecg_ckpt).sha256
    assert ck.meta["input"]["fs_hz"] == 64.0 and ck.meta["input"]["normalisation"]["kind"] == "zscore"
    m = json.loads((out / "metrics.json").read_text())
    assert m["n_train_labelled"] == 30 and 0 <= m["rhythm_macro_f1"] <= 1 and m["split"] == "test"
    assert ck.meta["data"]["split_seed"] == 1


def _bad_inits(tmp_path, ecg_ckpt):
    blob = ecg_ckpt.read_bytes()
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(blob[:-1] + bytes([blob[-1] ^ 1]))
    (tmp_path / "corrupt.json").write_text(ecg_ckpt.with_suffix(".json").read_text())
    trunc = tmp_path / "trunc.safetensors"
    trunc.write_bytes(blob[:5])
    (tmp_path / "trunc.json").write_text(ecg_ckpt.with_suffix(".json").read_text())
    pkl = tmp_path / "weights.pt"
    pkl.write_bytes(pickle.dumps({"stem.weight": [1.0]}))
    student = save_checkpoint(tmp_path / "student.safetensors", build_student(student_spec("s2k")))
    return [(corrupt, "does not match its sidecar"), (trunc, "truncated"), (pkl, "pickle"),
            (student, "expected 'resnet1d'"), (tmp_path / "nope", "unknown pretrained checkpoint")]


def test_bad_init_is_a_clear_error_and_writes_nothing(tmp_path, corpus, ecg_ckpt, capsys):
    for path, msg in _bad_inits(tmp_path, ecg_ckpt):
        before = {p: sha256_file(p) for p in tmp_path.iterdir() if p.is_file()}
        out = tmp_path / f"out_{path.stem}"
        rc = main(["finetune", "--preset", "smoke", "--data", str(corpus), "--init", str(path), "--out", str(out), "--quiet"])
        err = capsys.readouterr().err
        assert rc == 2 and msg in err and err.count("\n") == 1, (path, err)
        assert not out.exists()
        assert before == {p: sha256_file(p) for p in tmp_path.iterdir() if p.is_file()}


def test_scratch_needs_no_checkpoint_and_pretrained_strategies_need_one(tmp_path, corpus, capsys):
    rc = main(["finetune", "--preset", "smoke", "--data", str(corpus), "--init", "scratch", "--strategy", "probe",
               "--out", str(tmp_path / "x"), "--quiet"])
    assert rc == 2 and "needs a pretrained --init" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_pretrain_cli_declares_input(tmp_path, corpus):
    out = tmp_path / "pre"
    rc = main(["pretrain", "--preset", "smoke", "--data", str(corpus), "--width", "4", "--epochs", "1", "--no-real",
               "--out", str(out), "--quiet", "--threads", "1"])
    assert rc == 0
    ck = load_checkpoint(out / "ecg.safetensors", expect_arch="resnet1d")
    assert ck.meta["input"] == {"fs_hz": 64.0, "window_s": 8.0, "samples": 512, "channels": 1,
                                "normalisation": {"kind": "zscore", "eps": 1e-6}, "modality": "ecg"}
    assert "rhythm_macro_f1" in json.loads((out / "metrics.json").read_text())
    # and its backbone is what finetune starts from
    assert feature_extractor(out / "ecg.safetensors").cfg.width == 4
