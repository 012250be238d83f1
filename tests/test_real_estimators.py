"""edgeppg.realppg.estimators and benchmark: accuracy on clean synthetic PPG, score() maths, row format."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgeppg.realppg import benchmark as bm
from edgeppg.realppg import estimators as est
from edgeppg.realppg.sources import RealSource, derived_source

from test_real_sources import pulse_train

AVAIL = est.available_estimators()


@pytest.mark.parametrize("name", list(est.ESTIMATORS))
@pytest.mark.parametrize("fs,hr", [(64.0, 72.0), (25.0, 115.0)])
def test_estimator_on_clean_ppg(name, fs, hr):
    fn, reason = AVAIL[name]
    if fn is None:
        pytest.skip(reason)
    x = pulse_train(hr, fs, 8.0, seed=1)
    assert abs(fn(x, fs) - hr) < 3.0
    assert abs(fn(-x, fs) - hr) < 3.0 or name != "spectral-peak"  # the spectrum ignores polarity


@pytest.mark.parametrize("name", list(est.ESTIMATORS))
def test_estimator_gives_nan_on_flat(name):
    fn, reason = AVAIL[name]
    if fn is None:
        pytest.skip(reason)
    assert math.isnan(fn(np.full(256, 3.0), 32.0))


def test_available_estimators_shape():
    assert set(AVAIL) == set(est.ESTIMATORS) | set(est.RECORDING_ESTIMATORS)
    for name, (fn, reason) in AVAIL.items():
        assert (fn is None) != (reason is None), name


def test_peers_missing_reason(monkeypatch, tmp_path):
    monkeypatch.setenv("EDGEPPG_PEERS", str(tmp_path / "nothing"))
    av = est.available_estimators()
    for name in est.RECORDING_ESTIMATORS:
        assert av[name][0] is None and "make peers" in av[name][1]


def test_estimate_windows_grid():
    fs = 50.0
    x = pulse_train(90.0, fs, 20.0)
    starts = np.arange(7) * 2.0
    p = est.estimate_windows("spectral-peak", x, fs, starts, 8.0)
    assert p.shape == (7,) and np.all(np.abs(p - 90.0) < 2.0)
    p = est.estimate_windows("spectral-peak", x, fs, np.array([0.0, 14.0]), 8.0)  # 2nd runs past the end
    assert np.isfinite(p[0]) and np.isnan(p[1])


def test_score_maths():
    ref = np.array([60.0, 70.0, np.nan, 80.0, 90.0, 100.0])
    pred = np.array([62.0, np.nan, 50.0, 86.0, 90.0, 96.0])
    s = bm.score(ref, pred)
    assert (s["n"], s["n_ref"], s["n_covered"]) == (6, 5, 4)
    assert s["coverage"] == pytest.approx(0.8)
    assert s["hr_mae_bpm"] == pytest.approx((2 + 6 + 0 + 4) / 4)
    assert s["bias_bpm"] == pytest.approx((2 + 6 + 0 - 4) / 4)
    assert s["within_5bpm"] == pytest.approx(3 / 4)
    none = bm.score(ref, np.full(6, np.nan))
    assert none["coverage"] == 0 and math.isnan(none["hr_mae_bpm"])
    cls = bm.score(ref, pred, classes=["sinus", "noise", "af", "sinus", "sinus", "noise"])
    assert cls["classes"] == {"af": 1, "noise": 2, "sinus": 3}
    with pytest.raises(ValueError):
        bm.score(ref, pred[:3])


def _src(name, hr, fs=50.0, seconds=20.0, derived_from=None, group="finger"):
    x = pulse_train(hr, fs, seconds)
    n = int((seconds - 8.0) // 2.0) + 1
    return RealSource(name=name, group=group, signal=x, fs_hz=fs, window_s=8.0, hop_s=2.0, ref_hr=np.full(n, hr),
                      excluded={}, labelling="synthetic", license="MIT", derived_from=derived_from)


def test_score_predictor_rows_and_pooling():
    a, b = _src("a", 60.0), _src("b", 90.0, seconds=30.0)
    srcs = [a, b, derived_source(a, 25.0)]

    def model(signal, fs_hz, hop_s):
        n = int((signal.size / fs_hz - 8.0) // hop_s) + 1
        hr = np.full(n, 65.0 if fs_hz == 50.0 and n == 7 else 90.0)
        hr[0] = np.nan
        return hr, ["sinus"] * (n - 1) + ["noise"]

    rows = bm.score_predictor("m", model, srcs)
    assert [r["source"] for r in rows] == ["a", "b", "a@25hz-q10-inv", "all", "all-derived"]
    ra, rb, rd, rall, rder = rows
    assert ra["hr_mae_bpm"] == pytest.approx(5.0) and ra["coverage"] == pytest.approx(6 / 7)
    assert rb["hr_mae_bpm"] == pytest.approx(0.0)
    assert rall["n"] == ra["n"] + rb["n"] and rall["n_covered"] == ra["n_covered"] + rb["n_covered"]
    assert rall["hr_mae_bpm"] == pytest.approx(5.0 * 6 / (6 + 11))
    assert rall["classes"] == {"noise": 2, "sinus": 17}
    assert rder["n"] == rd["n"] and rd["derived_from"] == "a"
    # a predictor giving too few windows is padded with NaN (not covered)
    short = bm.score_predictor("s", lambda x, f, h: np.array([60.0]), [a])[0]
    assert short["n"] == 7 and short["n_covered"] == 1


def test_estimator_table_rows():
    srcs = [_src("a", 72.0), derived_source(_src("a", 72.0), 25.0)]
    rows = bm.estimator_table(srcs, names=["spectral-peak"])
    assert [r["source"] for r in rows] == ["a", "a@25hz-q10-inv", "all", "all-derived"]
    assert all(r["coverage"] == 1.0 and r["hr_mae_bpm"] < 2.0 for r in rows)
    assert "spectral-peak" in bm.format_rows(rows)
    with pytest.raises(KeyError):
        bm.estimator_table(srcs, names=["nope"])


def test_estimator_table_skips_missing(monkeypatch, tmp_path):
    monkeypatch.setenv("EDGEPPG_PEERS", str(tmp_path / "none"))
    rows = bm.estimator_table([_src("a", 72.0)], names=["kid-ppg"])
    assert rows == [{"estimator": "kid-ppg", "source": "all", "skipped": rows[0]["skipped"]}]
    assert "make peers" in rows[0]["skipped"] and "(skipped)" in bm.format_rows(rows)
