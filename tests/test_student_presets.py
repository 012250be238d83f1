"""Student family: each preset's reported params/MACs match the built module; the default fits the MCU budget."""

import pytest
import torch
from torch import nn

from edgeppg.errors import EdgePPGError
from edgeppg.models.student import DEFAULT_STUDENT, STUDENT_PRESETS, build_student, student_spec


def _counted_macs(model, x) -> int:
    """MACs measured with hooks on every Conv1d/Linear (independent of StudentSpec.macs)."""
    total = [0]

    def hook(m, inp, out):
        if isinstance(m, nn.Conv1d):
            total[0] += out.numel() // out.shape[0] * (m.in_channels // m.groups) * m.kernel_size[0]
        else:
            total[0] += m.in_features * m.out_features

    hs = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv1d, nn.Linear))]
    model.eval()
    with torch.no_grad():
        model(x)
    for h in hs:
        h.remove()
    return total[0]


@pytest.mark.parametrize("name", sorted(STUDENT_PRESETS))
def test_reported_params_and_macs_match_the_module(name):
    spec = student_spec(name)
    m = build_student(spec)
    torch_params = sum(p.numel() for p in m.parameters())
    bn_channels = sum(b.num_features for b in m.modules() if isinstance(b, nn.BatchNorm1d))
    # folding BN leaves one bias per BN channel instead of (gamma, beta)
    assert spec.params() == torch_params - bn_channels
    assert spec.macs() == _counted_macs(m, torch.zeros(1, 1, spec.samples))
    out = m(torch.zeros(2, 1, spec.samples))
    assert list(out) == ["rhythm", "hr", "rr"] and m.features(torch.zeros(2, 1, spec.samples)).shape == (2, spec.features)


def test_family_spans_2k_to_50k_and_default_fits_the_wearable_budget():
    params = sorted(student_spec(n).params() for n in STUDENT_PRESETS)
    assert params[0] < 3_000 and params[-1] > 50_000
    d = student_spec(DEFAULT_STUDENT)
    assert d.params() <= 20_000 and d.macs() <= 400_000  # ~0.4 M MACs ~ 20 ms on a 64 MHz Cortex-M4F
    # >= 20x fewer (unfolded) parameters than the default teacher, a width-16 ResNet1d-18 (s12k: ~22x)
    from edgeppg.models.resnet1d import build_resnet

    teacher = sum(p.numel() for p in build_resnet("resnet18", width=16).parameters())
    assert teacher / sum(p.numel() for p in build_student(d).parameters()) >= 20


def test_unknown_preset_lists_valid_names():
    with pytest.raises(EdgePPGError, match="unknown student preset 'big'.*s5k"):
        student_spec("big")


def test_only_export_friendly_ops():
    allowed = (nn.Conv1d, nn.BatchNorm1d, nn.ReLU, nn.ReLU6, nn.Linear)
    for n in STUDENT_PRESETS:
        m = build_student(student_spec(n))
        leaves = [x for x in m.modules() if not list(x.children())]
        assert all(isinstance(x, allowed) for x in leaves), n
        acts = [x for x in leaves if isinstance(x, (nn.ReLU, nn.ReLU6))]
        assert len({id(a) for a in acts}) == len(acts)  # one module per activation
