"""Transfer experiment: table/markdown/plot written, paired runs per budget x seed, finished runs reused."""

import json

import torch

from edgeppg.cli.main import main
from edgeppg.models.resnet1d import build_resnet
from edgeppg.train.checkpoint import save_checkpoint


def test_transfer_experiment_cli(tmp_path, capsys):
    from edgeppg.data.corpus import build_corpus

    build_corpus(tmp_path / "data", 100, seed=5)
    torch.manual_seed(0)
    ck = save_checkpoint(tmp_path / "ecg.safetensors", build_resnet("resnet18", width=4))
    args = ["experiment", "transfer", "--preset", "smoke", "--data", str(tmp_path / "data"), "--init", str(ck),
            "--out", str(tmp_path / "exp"), "--budgets", "10,20,5000", "--seeds", "0", "--epochs", "1",
            "--threads", "1", "--val-windows", "10"]
    assert main(args) == 0
    t = json.loads((tmp_path / "exp" / "transfer.json").read_text())
    assert t["budgets"] == [10, 20] and t["skipped_budgets"] == [5000]
    assert len(t["runs"]) == 2 * 1 * 2 and {r["arm"] for r in t["runs"]} == {"pretrained", "scratch"}
    assert [g["budget"] for g in t["gaps"]] == [10, 20] and set(t["checks"]) >= {"gap_narrows_with_labels"}
    assert (tmp_path / "exp" / "transfer.png").read_bytes()[:4] == b"\x89PNG"
    assert "| 10 | pretrained |" in (tmp_path / "exp" / "transfer.md").read_text()
    # a rerun reuses every finished run (same numbers, no new training)
    stamp = {p: p.stat().st_mtime_ns for p in (tmp_path / "exp" / "runs").rglob("metrics.json")}
    assert main(args) == 0
    assert stamp == {p: p.stat().st_mtime_ns for p in (tmp_path / "exp" / "runs").rglob("metrics.json")}
    assert json.loads((tmp_path / "exp" / "transfer.json").read_text())["runs"] == t["runs"]
    # a different config in the same folder is never mixed in: those runs are redone
    assert main(args[:-6] + ["--epochs", "2", "--threads", "1", "--val-windows", "10"]) == 0
    t2 = json.loads((tmp_path / "exp" / "transfer.json").read_text())
    assert t2["epochs"] == 2 and all(len(r["val_curve"]) == 2 for r in t2["runs"])
