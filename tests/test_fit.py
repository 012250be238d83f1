"""fit(): trains, early-stops, restores the best weights, resumes bit-identically, writes history."""

import json

import numpy as np
import pytest
import torch

from edgeppg.config import FitConfig
from edgeppg.data.windows import Windows
from edgeppg.errors import EdgePPGError
from edgeppg.models.heads import DEFAULT_HEADS
from edgeppg.models.resnet1d import build_resnet
from edgeppg.train.data import batches, epoch_order, stratified_subset
from edgeppg.train.fit import fit, lr_multiplier
from edgeppg.train.objectives import SupervisedObjective
from edgeppg.train.predict import evaluate_windows, make_targets, train_arrays, val_score

T = 64


def tiny_windows(n=96, seed=0) -> Windows:
    """Class = frequency band of a noisy sine; HR tracks frequency: learnable in a few epochs."""
    rng = np.random.default_rng(seed)
    rhythm = rng.integers(0, 3, n)
    hr = 50.0 + 40.0 * rhythm + rng.uniform(-5, 5, n)
    t = np.arange(T) / 8.0
    x = np.sin(2 * np.pi * (hr / 60.0)[:, None] * t[None, :] / 2) + 0.2 * rng.normal(size=(n, T))
    x = (x - x.mean(1, keepdims=True)) / x.std(1, keepdims=True)
    return Windows(x=x[:, None, :], fs_hz=8.0, rhythm=rhythm, hr_bpm=hr, hr_valid=np.ones(n, bool),
                   rr_bpm=np.full(n, 15.0), beat_idx=np.zeros(0), beat_ptr=np.zeros(n + 1),
                   window_id=np.arange(n), record_id=np.arange(n))


def _setup(seed=0, balance="uncertainty"):
    torch.manual_seed(seed)
    model = build_resnet("resnet18", width=4, samples=T, fs_hz=8.0)
    obj = SupervisedObjective(DEFAULT_HEADS, balance=balance)
    return model, obj


CFG = FitConfig(epochs=4, batch_size=16, lr=3e-3, patience=0, progress=False, num_threads=1, seed=3)


def test_fit_learns_and_writes_history(tmp_path):
    tr, va = tiny_windows(96, 0), tiny_windows(48, 1)
    model, obj = _setup()
    before = evaluate_windows(model, DEFAULT_HEADS, va)
    res = fit(model, obj, train_arrays(tr, DEFAULT_HEADS), CFG, tmp_path,
              evaluate=lambda m: evaluate_windows(m, DEFAULT_HEADS, va))
    after = evaluate_windows(model, DEFAULT_HEADS, va)
    assert after["val_score"] > before["val_score"]
    assert after["hr_mae_bpm"] < before["hr_mae_bpm"]
    hist = json.loads((tmp_path / "history.json").read_text())
    assert [h["epoch"] for h in hist] == [1, 2, 3, 4] and "val_score" in hist[0] and "loss_hr" in hist[0]
    assert res.best_epoch == 1 + int(np.argmax([h["val_score"] for h in hist]))
    assert res.checkpoint is not None and res.checkpoint.exists()
    assert not res.stopped_early
    # the returned model carries the best epoch's weights
    assert after["val_score"] == pytest.approx(res.best_score, abs=1e-6)


def test_resume_after_interrupt_gives_identical_weights(tmp_path):
    tr, va = tiny_windows(64, 0), tiny_windows(32, 1)
    arrays = train_arrays(tr, DEFAULT_HEADS)
    ev = lambda m: evaluate_windows(m, DEFAULT_HEADS, va)  # noqa: E731

    ref, obj = _setup()
    fit(ref, obj, arrays, CFG, tmp_path / "a", evaluate=ev)

    class Crash(Exception):
        pass

    def crash_at_2(epoch, m):
        if epoch == 2:
            raise Crash

    m1, obj1 = _setup()
    with pytest.raises(Crash):
        fit(m1, obj1, arrays, CFG, tmp_path / "b", evaluate=ev, on_epoch_start=crash_at_2)
    assert json.loads((tmp_path / "b" / "last.json").read_text())["progress"]["epoch"] == 2
    m2, obj2 = _setup(seed=99)  # fresh process: different init, everything must come from the run folder
    res = fit(m2, obj2, arrays, CFG, tmp_path / "b", evaluate=ev)
    assert [h["epoch"] for h in res.history] == [1, 2, 3, 4]
    for (k, a), b in zip(ref.state_dict().items(), m2.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=k)
    torch.testing.assert_close(obj.log_vars, obj2.log_vars, rtol=0, atol=0)


def test_resume_refuses_other_config(tmp_path):
    tr, va = tiny_windows(32, 0), tiny_windows(16, 1)
    arrays = train_arrays(tr, DEFAULT_HEADS)
    ev = lambda m: evaluate_windows(m, DEFAULT_HEADS, va)  # noqa: E731
    m, o = _setup()
    fit(m, o, arrays, FitConfig(epochs=1, batch_size=16, progress=False, num_threads=1), tmp_path, evaluate=ev)
    m, o = _setup()
    with pytest.raises(EdgePPGError, match="different config"):
        fit(m, o, arrays, FitConfig(epochs=1, batch_size=8, progress=False, num_threads=1), tmp_path, evaluate=ev)


def test_early_stopping_restores_best(tmp_path):
    tr = tiny_windows(32, 0)
    model, obj = _setup(balance="fixed")
    scores = iter([0.5, 0.9, 0.1, 0.2, 0.3, 0.4])
    snapshots = []

    def ev(m):
        snapshots.append({k: v.clone() for k, v in m.state_dict().items()})
        return {"val_score": next(scores)}

    cfg = FitConfig(epochs=6, batch_size=16, patience=2, progress=False, num_threads=1)
    res = fit(model, obj, train_arrays(tr, DEFAULT_HEADS), cfg, tmp_path, evaluate=ev)
    assert res.stopped_early and res.best_epoch == 2 and len(res.history) == 4
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, snapshots[1][k], rtol=0, atol=0)


def test_missing_monitor_is_a_clear_error(tmp_path):
    model, obj = _setup()
    with pytest.raises(EdgePPGError, match="val_score"):
        fit(model, obj, train_arrays(tiny_windows(32), DEFAULT_HEADS), CFG, tmp_path, evaluate=lambda m: {"f1": 1.0})


def test_frozen_parts_do_not_move(tmp_path):
    model, obj = _setup(balance="fixed")
    for p in model.backbone.parameters():
        p.requires_grad_(False)
    before = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    cfg = FitConfig(epochs=1, batch_size=16, progress=False, num_threads=1)
    fit(model, obj, train_arrays(tiny_windows(32), DEFAULT_HEADS), cfg, tmp_path, evaluate=lambda m: {"val_score": 0.0},
        param_groups=lambda m: [{"params": m.heads.parameters()}])
    for k, v in model.backbone.state_dict().items():  # BN running stats included: frozen BN stays in eval
        torch.testing.assert_close(v, before[k], rtol=0, atol=0, msg=k)


def test_schedules():
    total = 100
    oc = [lr_multiplier(s, total, "onecycle", 0.1) for s in range(total)]
    assert oc[0] == pytest.approx(1 / 25) and max(oc) == pytest.approx(1.0) and oc[-1] < 0.01
    cos = [lr_multiplier(s, total, "cosine", 0.0) for s in range(total)]
    assert cos[0] == 1.0 and all(a >= b for a, b in zip(cos, cos[1:]))
    assert lr_multiplier(50, total, "constant", 0.1) == 1.0 and lr_multiplier(0, total, "constant", 0.1) == 0.1


def test_epoch_order_shards_like_distributed_sampler():
    n = 11
    shards = [epoch_order(n, 0, 3, r, 2) for r in range(2)]
    assert len(shards[0]) == len(shards[1]) == 6
    assert set(np.concatenate(shards)) == set(range(n))
    assert not np.array_equal(epoch_order(n, 0, 0), epoch_order(n, 0, 1))
    np.testing.assert_array_equal(epoch_order(n, 5, 2), epoch_order(n, 5, 2))
    assert [len(b) for b in batches(np.arange(9), 4)] == [4, 4]  # a trailing batch of 1 is dropped


def test_stratified_subset_keeps_rare_classes():
    labels = np.array([0] * 900 + [1] * 90 + [2] * 10)
    idx = stratified_subset(labels, 50, seed=1)
    assert len(idx) == 50 and len(set(idx)) == 50
    counts = np.bincount(labels[idx], minlength=3)
    assert counts[2] >= 1 and counts[0] > counts[1] > 0
    np.testing.assert_array_equal(idx, stratified_subset(labels, 50, seed=1))
    assert not np.array_equal(idx, stratified_subset(labels, 50, seed=2))
    assert len(stratified_subset(labels, None, 0)) == 1000


def test_targets_and_score():
    w = tiny_windows(8)
    w.hr_valid[0] = False
    w.rr_bpm[1] = np.nan
    t = make_targets(w, DEFAULT_HEADS)
    assert set(t) >= {"rhythm", "hr_z", "hr_valid", "rr_z", "rr_valid"}
    assert not t["hr_valid"][0] and not t["rr_valid"][0] and not t["rr_valid"][1] and t["rr_valid"][2]
    np.testing.assert_allclose(t["hr_z"][2] * 50 + 100, w.hr_bpm[2], rtol=1e-5)
    assert val_score({"rhythm_macro_f1": 0.9, "hr_mae_bpm": 2.0}) == pytest.approx(0.8)
    assert val_score({"rhythm_macro_f1": float("nan"), "hr_mae_bpm": 4.0}) == pytest.approx(-0.2)


def test_objective_balancing_and_empty_masks():
    model, _ = _setup()
    w = tiny_windows(8)
    w.hr_valid[:] = False  # no HR/RR labels in this batch: their terms must be 0 yet stay in the graph
    from edgeppg.train.data import to_batch

    batch = to_batch(train_arrays(w, DEFAULT_HEADS), np.arange(8))
    fixed = SupervisedObjective(DEFAULT_HEADS, balance="fixed")
    unc = SupervisedObjective(DEFAULT_HEADS, balance="uncertainty")
    assert fixed.parameters() == [] and len(unc.parameters()) == 1
    loss, parts = fixed.loss(model, batch)
    assert parts["loss_hr"] == 0.0 and parts["loss_rr"] == 0.0 and parts["loss_rhythm"] > 0
    loss.backward()
    assert model.heads["hr"].weight.grad is not None  # connected (zero), so DDP sees every parameter
    with torch.no_grad():
        unc.log_vars.fill_(1.0)
    loss_u, parts_u = unc.loss(model, batch)
    # Kendall: classification exp(-s) L + s/2, regression 0.5 exp(-s) L + s/2 (x fixed weights 1, 1, 0.5)
    expect = np.exp(-1) * parts_u["loss_rhythm"] + 0.5 + 0.5 + 0.5 * 0.5
    assert float(loss_u.detach()) == pytest.approx(expect, rel=1e-5)
    with pytest.raises(EdgePPGError, match="valid loss balances"):
        SupervisedObjective(DEFAULT_HEADS, balance="magic")
