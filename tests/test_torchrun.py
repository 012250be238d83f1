"""fit() under `torchrun --nproc_per_node 2` on CPU (gloo): trains and writes the same kind of checkpoint."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from edgeppg.models.resnet1d import build_resnet
from edgeppg.train.checkpoint import load_checkpoint, save_checkpoint

TORCHRUN = Path(sys.executable).parent / "torchrun"


@pytest.mark.skipif(not TORCHRUN.exists() and shutil.which("torchrun") is None, reason="torchrun not installed")
def test_two_process_finetune(tmp_path):
    from edgeppg.data.corpus import build_corpus

    build_corpus(tmp_path / "data", 100, seed=4)
    torch.manual_seed(0)
    ck = save_checkpoint(tmp_path / "ecg.safetensors", build_resnet("resnet18", width=4))
    out = tmp_path / "ddp"
    cmd = [str(TORCHRUN if TORCHRUN.exists() else shutil.which("torchrun")), "--standalone", "--nproc_per_node", "2",
           "-m", "edgeppg.cli.main", "finetune", "--preset", "smoke", "--data", str(tmp_path / "data"),
           "--init", str(ck), "--strategy", "discriminative", "--labels", "40", "--epochs", "2", "--batch-size", "8",
           "--out", str(out), "--quiet"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    teacher = load_checkpoint(out / "teacher.safetensors", expect_arch="resnet1d")
    assert teacher.meta["parent_sha256"] == load_checkpoint(ck).sha256
    hist = json.loads((out / "fit" / "history.json").read_text())
    assert [h["epoch"] for h in hist] == [1, 2]
    m = json.loads((out / "metrics.json").read_text())
    assert m["n_train_labelled"] == 40 and "rhythm_macro_f1" in m
    # the weights moved away from the pretrained backbone (both ranks trained in lock-step)
    ecg = load_checkpoint(ck).model
    assert not torch.equal(teacher.model.backbone.stem.weight, ecg.backbone.stem.weight)
