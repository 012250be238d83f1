"""KD loss terms, the teacher-output cache and the distillation objective (pure, tiny, deterministic)."""

import numpy as np
import pytest
import torch

from edgeppg.models.heads import DEFAULT_HEADS, HR_HEAD, hr_bins_head
from edgeppg.models.student import build_student, student_spec
from edgeppg.train import kd


def test_soft_loss_zero_for_identical_logits_and_positive_otherwise():
    t = torch.tensor([[2.0, 0.5, -1.0, 0.0, 0.3]])
    assert float(kd.kd_soft_loss(t, t, 4.0)) == pytest.approx(0.0, abs=1e-7)
    assert float(kd.kd_soft_loss(torch.zeros_like(t), t, 4.0)) > 0


def test_soft_loss_gradient_scale_is_kept_by_t_squared():
    # Hinton: soft gradients shrink as 1/T^2; the T^2 factor restores them, so for small logit gaps the
    # gradient at T=8 is close to that at T=4 (without T^2 it would be ~4x smaller)
    t = torch.tensor([[0.2, -0.1, 0.05, 0.0, 0.1]])
    grads = []
    for T in (4.0, 8.0):
        s = torch.zeros(1, 5, requires_grad=True)
        kd.kd_soft_loss(s, t, T).backward()
        grads.append(s.grad.norm().item())
    assert grads[1] == pytest.approx(grads[0], rel=0.1)


def test_objective_rhythm_term_mixes_soft_and_masked_hard_terms():
    """The product path (DistillObjective's class-head term): alpha * soft + (1 - alpha) * CE on labelled windows."""
    from edgeppg.models.heads import RHYTHM_HEAD

    g = torch.Generator().manual_seed(0)
    s, t = torch.randn(6, 5, generator=g), torch.randn(6, 5, generator=g)
    y = torch.tensor([0, 1, -1, 3, -1, 4])
    obj = kd.DistillObjective((RHYTHM_HEAD,), temperature=3.0, alpha=0.25)
    soft = kd.kd_soft_loss(s, t, 3.0)
    hard = torch.nn.functional.cross_entropy(s[y >= 0], y[y >= 0])
    got = obj._head_term(RHYTHM_HEAD, s, {"rhythm": y, "t_rhythm": t})
    assert float(got) == pytest.approx(float(0.25 * soft + 0.75 * hard), rel=1e-5)
    # all windows unlabelled: only the soft term remains (no NaN from an empty mask)
    got = obj._head_term(RHYTHM_HEAD, s, {"rhythm": torch.full((6,), -1), "t_rhythm": t})
    assert float(got) == pytest.approx(float(0.25 * soft), rel=1e-5)


def test_soft_bin_targets_peak_at_the_value_and_sum_to_one():
    centers = torch.linspace(30, 220, 64)
    p = kd.soft_bin_targets(torch.tensor([72.0, 150.0]), centers, 3.0)
    assert torch.allclose(p.sum(1), torch.ones(2))
    assert abs(float(centers[p[0].argmax()]) - 72.0) < 3.1
    assert abs(float((p[1] * centers).sum()) - 150.0) < 0.5  # decoding the soft target returns the value


def test_hint_projection_and_weights_are_optimised_parameters():
    obj = kd.DistillObjective(DEFAULT_HEADS, hint_weight=0.5, student_features=8, teacher_features=12,
                              hint_stats=(np.zeros(12), np.ones(12)), balance="uncertainty")
    assert len(obj.parameters()) == 3  # log-vars + projection weight + bias
    with pytest.raises(Exception, match="hint loss needs"):
        kd.DistillObjective(DEFAULT_HEADS, hint_weight=0.5)


def _batch(n=8, seed=0, labelled=None):
    g = np.random.default_rng(seed)
    hr = g.uniform(50, 150, n).astype(np.float32)
    lab = np.ones(n, bool) if labelled is None else labelled
    b = {"x": g.standard_normal((n, 1, 512)).astype(np.float32),
         "rhythm": np.where(lab, g.integers(0, 5, n), -1), "hr_z": HR_HEAD.encode(hr), "hr_valid": lab.copy(),
         "hr_bin": np.where(lab, 10, -1), "rr_z": np.zeros(n, np.float32), "rr_valid": lab.copy(), "labelled": lab,
         "t_rhythm": g.standard_normal((n, 5)).astype(np.float32), "t_hr": hr + 2, "t_rr": np.full(n, 15, np.float32),
         "t_readable": np.ones(n, np.float32), "t_feat": g.standard_normal((n, 16)).astype(np.float32)}
    return {k: torch.as_tensor(v) for k, v in b.items()}


@pytest.mark.parametrize("hr_mode", ["regression", "bins"])
def test_objective_trains_student_on_teacher_only_windows(hr_mode):
    heads = tuple(hr_bins_head() if (h.name == "hr" and hr_mode == "bins") else h for h in DEFAULT_HEADS)
    torch.manual_seed(0)
    model = build_student(student_spec("s2k", heads=heads))
    obj = kd.DistillObjective(heads, hint_weight=0.1, student_features=model.spec.features, teacher_features=16,
                              hint_stats=(np.zeros(16), np.ones(16)))
    batch = _batch(labelled=np.zeros(8, bool))  # no labels at all: every gradient comes from the teacher
    loss, parts = obj.loss(model, batch)
    assert torch.isfinite(loss) and {"loss_rhythm", "loss_hr", "loss_rr", "loss_hint"} <= set(parts)
    loss.backward()
    assert model.heads["hr"].weight.grad.abs().sum() > 0
    assert obj.proj.weight.grad.abs().sum() > 0


def test_unreadable_teacher_windows_do_not_teach_hr():
    torch.manual_seed(0)
    model = build_student(student_spec("s2k"))
    obj = kd.DistillObjective(DEFAULT_HEADS, weights={"rhythm": 0.0, "rr": 0.0})
    batch = _batch(labelled=np.zeros(8, bool))
    batch["t_readable"] = torch.zeros(8)  # the teacher thinks every window is noise
    loss, _ = obj.loss(model, batch)
    loss.backward()
    assert float(model.heads["hr"].weight.grad.abs().sum()) == 0.0


class _Counting(torch.nn.Module):
    """Wraps a model and counts forward passes (the cache must not call the teacher twice)."""

    def __init__(self, m):
        super().__init__()
        self.m, self.calls = m, 0
        self.spec = m.spec

    def forward(self, x):
        self.calls += 1
        return self.m(x)

    def features(self, x):
        return self.m.features(x)


def test_teacher_outputs_cached_in_memory_and_on_disk(tmp_path):
    kd.clear_memory_cache()
    torch.manual_seed(0)
    t = _Counting(build_student(student_spec("s2k")))
    x = np.random.default_rng(0).standard_normal((10, 1, 512)).astype(np.float32)
    a, info = kd.cached_teacher_outputs(t, "ab" * 32, x, tmp_path)
    assert info["source"] == "computed" and t.calls == 1
    assert set(a) == {"t_rhythm", "t_hr", "t_rr", "t_feat", "t_readable"} and a["t_feat"].shape == (10, 32)
    b, info = kd.cached_teacher_outputs(t, "ab" * 32, x, tmp_path)
    assert info["source"] == "memory" and t.calls == 1
    kd.clear_memory_cache()
    c, info = kd.cached_teacher_outputs(t, "ab" * 32, x, tmp_path)
    assert info["source"] == "disk" and t.calls == 1
    np.testing.assert_array_equal(a["t_hr"], c["t_hr"])
    # other data or another teacher is another key
    _, info = kd.cached_teacher_outputs(t, "ab" * 32, x[:5], tmp_path)
    _, info2 = kd.cached_teacher_outputs(t, "cd" * 32, x, tmp_path)
    assert info["source"] == info2["source"] == "computed" and t.calls == 3
    assert len(list(tmp_path.glob("teacher_*.npz"))) == 3
    kd.clear_memory_cache()


def test_hr_alpha_zero_trusts_labels_where_they_exist_and_the_teacher_elsewhere():
    torch.manual_seed(0)
    model = build_student(student_spec("s2k"))
    obj = kd.DistillObjective(DEFAULT_HEADS, hr_alpha=0.0, weights={"rhythm": 0.0, "rr": 0.0})
    lab = np.array([True] * 4 + [False] * 4)
    batch = _batch(labelled=lab)
    for p in model.parameters():
        p.requires_grad_(False)  # only loss values matter here
    base, _ = obj.loss(model, batch)
    moved = dict(batch, t_hr=batch["t_hr"].clone())
    moved["t_hr"][:4] += 30.0  # teacher disagrees on labelled windows only: ignored at hr_alpha = 0
    assert float(obj.loss(model, moved)[0]) == pytest.approx(float(base), rel=1e-6)
    moved["t_hr"][4:] += 30.0  # ...but it is the only source of HR on teacher-only windows
    assert abs(float(obj.loss(model, moved)[0]) - float(base)) > 1e-3
    obj_half = kd.DistillObjective(DEFAULT_HEADS, hr_alpha=0.5, weights={"rhythm": 0.0, "rr": 0.0})
    moved = dict(batch, t_hr=batch["t_hr"].clone())
    moved["t_hr"][:4] += 30.0
    assert abs(float(obj_half.loss(model, moved)[0]) - float(obj_half.loss(model, batch)[0])) > 1e-3
