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


def test_gate_reads_sqi_on_the_model_input_and_flat_clipped_on_the_raw_window():
    """One gate for predict/eval: SQI where the model looks (band-passed input), flat/clipped on raw samples;
    the noise class is the model's own index; `quality` is the signal's verdict without the model."""
    fs, t = 64.0, np.arange(512) / 64.0
    pulse = np.sin(2 * np.pi * 1.2 * t)
    wander = pulse + 40.0 * t  # a steep drift: raw SQI is inflated by it, the band-passed input is not
    raw = np.stack([wander, np.full(512, 3.0), np.clip(pulse, -0.3, 0.3), pulse])[:, None]
    model_in = np.stack([pulse, np.zeros(512), np.clip(pulse, -0.3, 0.3), pulse])[:, None]
    g = gate(raw, fs, rhythm_pred=np.array([0, 0, 0, 2]), x_model=model_in, noise_class=2)
    assert list(g.quality) == ["ok", "flat", "clipped", "ok"]
    assert list(g.reason) == ["ok", "flat", "clipped", "noise_class"]
    assert g.sqi[0] == sqi(pulse[None], fs)[0]  # read on the model input, not on the drifting raw window
    assert list(g.trusted) == [True, False, False, False]
