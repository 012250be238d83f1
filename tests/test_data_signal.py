"""Pure signal functions: resample / windows / zscore properties and recording validation."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeppg.data.signal import make_windows, resample, validate_recording, window_starts, zscore
from edgeppg.errors import EdgePPGError

RATES = st.sampled_from([25.0, 32.0, 50.0, 64.0, 100.0, 125.0, 128.0, 250.0, 360.0, 500.0, 1000.0])


@settings(max_examples=40, deadline=None)
@given(fs_in=RATES, fs_out=RATES, n=st.integers(2, 3000), c=st.integers(1, 3))
def test_resample_shape(fs_in, fs_out, n, c):
    x = np.random.default_rng(n).normal(size=(c, n))
    y = resample(x, fs_in, fs_out)
    assert y.dtype == np.float32 and y.shape[0] == c
    assert abs(y.shape[-1] - n * fs_out / fs_in) <= 1
    assert np.isfinite(y).all()


def test_resample_keeps_a_sine():
    t = np.arange(2000) / 250.0
    y = resample(np.sin(2 * np.pi * 1.5 * t), 250.0, 64.0)
    assert y.shape == (512,)
    ref = np.sin(2 * np.pi * 1.5 * np.arange(512) / 64.0)
    assert np.max(np.abs(y[20:-20] - ref[20:-20])) < 0.01


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 2000), fs=RATES, window_s=st.floats(0.5, 10), hop_s=st.floats(0.25, 10), c=st.integers(1, 2))
def test_make_windows_shapes(n, fs, window_s, hop_s, c):
    x = np.arange(c * n, dtype=np.float64).reshape(c, n)
    w = make_windows(x, fs, window_s, hop_s)
    t, hop = round(window_s * fs), round(hop_s * fs)
    assert w.shape[1:] == (c, t)
    expected = 0 if n < t else 1 + (n - t) // hop
    assert w.shape[0] == expected
    for k, s in enumerate(window_starts(n, fs, window_s, hop_s)[:3]):
        np.testing.assert_array_equal(w[k], x[:, s:s + t])


@settings(max_examples=60, deadline=None)
@given(scale=st.floats(1e-3, 1e4), offset=st.floats(-1e4, 1e4), n=st.integers(8, 600), seed=st.integers(0, 10**6))
def test_zscore_mean0_std1(scale, offset, n, seed):
    x = offset + scale * np.random.default_rng(seed).normal(size=(3, 2, n))
    z = zscore(x)
    assert z.dtype == np.float32 and z.shape == x.shape
    np.testing.assert_allclose(z.mean(-1), 0, atol=1e-4)
    s = x.std(-1)
    np.testing.assert_allclose(z.std(-1), s / (s + 1e-6), rtol=1e-4)  # eps only matters for tiny signals
    if scale >= 0.1:
        np.testing.assert_allclose(z.std(-1), 1, atol=1e-4)


def test_zscore_constant_window_is_zero_not_nan():
    z = zscore(np.full((1, 1, 64), 5.0))
    assert np.all(z == 0)


@pytest.mark.parametrize("x,fs,match", [
    (np.r_[np.ones(10), np.nan, np.zeros(1000)], 64, "NaN/Inf"),
    (np.ones(1000), 64, "flat line"),
    (np.random.default_rng(0).normal(size=100), 64, "shorter than one"),
    (np.random.default_rng(0).normal(size=1000), None, "rate is missing"),
    (np.random.default_rng(0).normal(size=1000), 0.0, "absurd"),
    (np.random.default_rng(0).normal(size=1000), 64000, "absurd"),
    (np.random.default_rng(0).normal(size=(2, 1000)), 64, "channels"),
])
def test_validate_recording_errors(x, fs, match):
    with pytest.raises(EdgePPGError, match=match):
        validate_recording(x, fs, min_seconds=8.0, name="rec", channels=1)


def test_validate_recording_ok():
    x = validate_recording(np.random.default_rng(0).normal(size=600), 64.0, 8.0)
    assert x.shape == (1, 600)
