"""Generator-vs-real statistics (edgeppg.realppg.realism): each statistic reads what its label says on windows
built to have it."""

import numpy as np

from edgeppg.preprocess import Preprocessing
from edgeppg.realppg.realism import STATS, synthetic_groups, window_stats

FS = 64.0


def _t():
    return np.arange(int(8 * FS)) / FS


def test_rival_ratio_sees_a_second_rhythm_but_not_the_pulse_harmonic():
    pre = Preprocessing()
    t = _t()
    pulse = np.sin(2 * np.pi * 2.0 * t) + 0.4 * np.sin(2 * np.pi * 4.0 * t - 0.3)  # 120 BPM with its 2nd harmonic
    swing = 0.8 * np.sin(2 * np.pi * 0.9 * t)  # arm swing well off the pulse and its subharmonic (1.0 Hz)
    s = window_stats(np.stack([pulse, pulse + swing]), pre)
    assert s["rival_ratio"][0] < 0.05, s["rival_ratio"]
    assert 0.3 < s["rival_ratio"][1] <= 1.0, s["rival_ratio"]
    assert set(s) == set(STATS)


def test_synthetic_clean_windows_carry_arm_swing_and_noise_more_rivals():
    pre = Preprocessing()
    g = synthetic_groups(120, sensor_domain=True)
    clean, noise = (window_stats(g[k], pre)["rival_ratio"] for k in ("synth /3 clean", "synth /3 noise"))
    assert np.percentile(clean, 75) > 0.2  # generator /3: readable arm swing on about a third of clean windows
    assert np.median(noise) > np.median(clean)
