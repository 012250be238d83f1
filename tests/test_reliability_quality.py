import numpy as np

from edgeppg.data.synth import synth_pairs
from edgeppg.quality import NOISE, apply_gate, gate, sqi


def test_sqi_separates_clean_pulse_from_white_noise():
    fs, t = 64.0, np.arange(512) / 64.0
    clean = np.sin(2 * np.pi * 1.2 * t)[None]
    noise = np.random.default_rng(0).normal(size=(1, 512))
    assert sqi(clean, fs)[0] > 0.9
    assert sqi(noise, fs)[0] < 0.2


def test_gate_flags_noise_class_flat_and_clipped_and_never_reports_their_hr():
    _, ppg = synth_pairs(20, seed=5)
    x = ppg.x[:, 0].astype(np.float64).copy()
    x[1] = 0.0  # flat line (sensor off the skin)
    x[2] = np.clip(x[2], np.percentile(x[2], 20), np.percentile(x[2], 80))  # saturated ADC
    pred = ppg.rhythm.copy()
    g = gate(x, 64.0, rhythm_pred=pred)
    assert g.reason[1] == "flat" and g.reason[2] == "clipped"
    assert not g.trusted[pred == NOISE].any()
    out = apply_gate({"hr": np.full(20, 70.0), "rhythm": pred}, g)
    assert np.isnan(out["hr"][~g.trusted]).all() and (out["hr"][g.trusted] == 70.0).all()
    assert (out["hr_valid"] == g.trusted).all()
