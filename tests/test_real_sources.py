"""edgeppg.realppg.sources: labelling by two-detector agreement, derived rows, cache, installed sources."""

from __future__ import annotations

import numpy as np
import pytest

from edgeppg.realppg import sources as rs


def pulse_train(hr_bpm, fs: float, seconds: float, seed: int = 0, dicrotic: float = 0.4) -> np.ndarray:
    """Finger-PPG-like: per beat a fast-rising systolic wave plus a smaller dicrotic wave, on baseline wander.
    hr_bpm: a number, or a function t -> HR."""
    rng = np.random.default_rng(seed)
    n = int(seconds * fs)
    t = np.arange(n) / fs
    beats, tb = [], 0.3
    while tb < seconds:
        beats.append(tb)
        h = hr_bpm(tb) if callable(hr_bpm) else hr_bpm
        tb += 60.0 / h
    x = np.zeros(n)
    for b in beats:
        d = t - b
        up = np.where(d < 0, np.exp(-(d / 0.05) ** 2), np.exp(-(d / 0.15) ** 2))
        x += up + dicrotic * np.exp(-((d - 0.3) / 0.06) ** 2)
    x += 0.3 * np.sin(2 * np.pi * 0.2 * t) + 0.01 * rng.standard_normal(n)
    return 500 + 200 * x


@pytest.mark.parametrize("hr", [55.0, 75.0, 110.0])
def test_agreement_labels_known_hr(hr):
    fs = 100.0
    x = pulse_train(hr, fs, 40.0)
    ref, excl = rs.label_by_agreement(x, fs)
    assert ref.size == rs.n_windows(x.size, fs) == 17
    ok = np.isfinite(ref)
    assert ok.sum() >= 15, excl
    assert np.max(np.abs(ref[ok] - hr)) < 1.5


def test_labels_survive_inversion_and_dc():
    fs = 75.0
    x = pulse_train(72.0, fs, 30.0)
    ref, _ = rs.label_by_agreement(40000.0 - x, fs)
    assert np.isfinite(ref).sum() >= 10 and np.nanmax(np.abs(ref - 72.0)) < 1.5


def test_agreement_rule_excludes_and_counts():
    a = np.array([60.0, 70.0, np.nan, 80.0, np.nan, 100.0])
    b = np.array([62.0, 75.0, 70.0, np.nan, np.nan, 103.0])
    ref, excl = rs.agree(a, b, tol_bpm=3.0)
    np.testing.assert_allclose(ref, [61.0, np.nan, np.nan, np.nan, np.nan, 101.5])
    assert excl == {"detectors disagree >3 BPM": 1, "detector A: no plausible beats": 1,
                    "detector B: no plausible beats": 1, "neither detector: no plausible beats": 1}
    assert sum(excl.values()) + np.isfinite(ref).sum() == a.size


def test_disagreeing_detectors_exclude_windows(monkeypatch):
    fs = 100.0
    x = pulse_train(70.0, fs, 30.0)
    real_b = rs.detect_max_upslope
    # detector B misses every other beat after 14 s -> those windows disagree (~35 vs ~70 BPM is caught as
    # implausible RR or as disagreement, never labelled)
    monkeypatch.setattr(rs, "detect_max_upslope", lambda y, f: (lambda b: b[(b < 14 * f) | (np.arange(b.size) % 2 == 0)])(real_b(y, f)))
    ref, excl = rs.label_by_agreement(x, fs)
    starts = np.arange(ref.size) * rs.HOP_S
    assert np.all(np.isfinite(ref[starts + rs.WINDOW_S <= 13.0]))
    assert not np.isfinite(ref[starts >= 14.0]).any()
    assert sum(excl.values()) == int((~np.isfinite(ref)).sum()) > 0


def test_window_hr_rejects_missed_beat():
    fs = 50.0
    beats = (np.arange(0, 8, 0.8) * fs).astype(int)
    assert abs(rs.window_hr(beats, fs, 1)[0] - 75.0) < 0.5
    assert np.isnan(rs.window_hr(np.delete(beats, 4), fs, 1)[0])  # one 1.6 s gap


def _source(x, fs, ref):
    return rs.RealSource(name="t/x", group="finger", signal=x, fs_hz=fs, window_s=8.0, hop_s=2.0, ref_hr=ref,
                         excluded={"detectors disagree >3 BPM": 1}, labelling="test", license="MIT", derived_from=None)


def test_derived_row_degradation():
    fs = 100.0
    x = pulse_train(80.0, fs, 30.0)
    ref, _ = rs.label_by_agreement(x, fs)
    d = rs.derived_source(_source(x, fs, ref), 25.0)
    assert d.name == "t/x@25hz-q10-inv" and d.derived_from == "t/x" and d.fs_hz == 25.0
    assert abs(d.seconds - 30.0) < 0.1
    np.testing.assert_array_equal(d.ref_hr, ref)
    codes = d.signal - 30000.0
    assert np.all(codes == np.round(codes)) and codes.min() >= 0 and codes.max() <= 1023
    assert len(np.unique(codes)) > 300  # uses the 10-bit range
    # inverted: correlates negatively with the original at the same instants
    xo = np.interp(np.arange(d.signal.size) / 25.0, np.arange(x.size) / fs, x)
    assert np.corrcoef(xo, d.signal)[0, 1] < -0.95
    # still labels the same HR
    ref_d, _ = rs.label_by_agreement(d.signal, 25.0)
    ok = np.isfinite(ref_d)
    assert ok.sum() >= 8 and np.max(np.abs(ref_d[ok] - 80.0)) < 2.0


def test_cache_round_trip_atomic(tmp_path):
    x = pulse_train(70.0, 50.0, 20.0)
    src = _source(x, 50.0, np.array([70.0, np.nan, 71.0, 70.5, 69.0, 70.0, 70.0]))
    src = rs.RealSource(**{**src.__dict__, "acc": np.ones((3, x.size))})
    group = [src, rs.derived_source(src, 25.0)]
    base = tmp_path / "t_x-abc"
    rs.save_cached(group, base)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t_x-abc.json", "t_x-abc.npz"]  # no temp leftovers
    back = rs.load_cached(base)
    assert [b.name for b in back] == [g.name for g in group]
    for b, g in zip(back, group):
        np.testing.assert_array_equal(b.signal, g.signal)
        np.testing.assert_array_equal(b.ref_hr, g.ref_hr)
        assert (b.excluded, b.derived_from, b.fs_hz, b.labelling) == (g.excluded, g.derived_from, g.fs_hz, g.labelling)
    assert back[0].acc.shape == (3, x.size) and back[1].acc is None
    base.with_suffix(".npz").write_bytes(b"broken")
    assert rs.load_cached(base) is None  # damaged entry -> rebuilt by the caller


def test_cache_root_env(monkeypatch, tmp_path):
    monkeypatch.setenv("EDGEPPG_CACHE", str(tmp_path / "c"))
    assert rs.cache_root() == tmp_path / "c" / "realppg"
    monkeypatch.delenv("EDGEPPG_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert rs.cache_root() == tmp_path / "x" / "edgeppg" / "realppg"


def test_missing_packages_are_listed(monkeypatch, tmp_path):
    monkeypatch.setattr(rs, "_spec_path", lambda spec: None)
    assert rs.real_sources(cache_dir=tmp_path) == []
    rows = rs.sources_table([])
    assert {r["name"] for r in rows} == {s.name for s in rs.SPECS}
    assert all(r["status"].startswith("not installed: run make setup") for r in rows)


def test_installed_sources(tmp_path):
    if rs.dalia_path() is None and all(rs._spec_path(s) is None for s in rs.SPECS):
        pytest.skip("no real-data package installed (make setup installs requirements-real.txt)")
    srcs = rs.real_sources(cache_dir=tmp_path)
    again = rs.real_sources(cache_dir=tmp_path)  # from the cache
    assert [s.name for s in srcs] == [s.name for s in again]
    for s in srcs:
        assert s.signal.ndim == 1 and s.signal.dtype == np.float64
        assert s.ref_hr.size == rs.n_windows(s.signal.size, s.fs_hz, s.window_s, s.hop_s) or s.derived_from
        assert int(np.isfinite(s.ref_hr).sum()) + sum(s.excluded.values()) == s.n_windows
    originals = [s for s in srcs if s.derived_from is None]
    assert len(srcs) == 2 * len(originals)
    assert [s.name for s in rs.real_sources(derived=False, cache_dir=tmp_path)] == [s.name for s in originals]
    dalia = [s for s in srcs if s.name == "dalia-s6-stairs"]
    if dalia:
        d = dalia[0]
        assert d.fs_hz == 32.0 and d.n_windows == 215 and d.signal.size == 256 + 214 * 64
        assert d.acc.shape == (3, d.signal.size)
        assert 110 < np.nanmin(d.ref_hr) and np.nanmax(d.ref_hr) < 175
