"""Catalog of real recordings inside installed packages (skips when the real-data extra is missing)."""

import numpy as np
import pytest

from edgeppg.cli.main import main
from edgeppg.data.catalog import CATALOG, catalog_table, detect_r_peaks, plausible_rr, real_ecg_windows, recording_path


def test_table_lists_every_recording_and_never_crashes():
    rows = catalog_table(with_stats=False)
    assert [r["name"] for r in rows] == [r.name for r in CATALOG]
    for r in rows:
        assert r["labels"] in ("hr (auto from R-peaks)", "none")
        assert (r["path"] is not None) == r["installed"]


def test_r_peak_detector_on_a_synthetic_ecg():
    from edgeppg.data.synth import synth_pairs

    ecg, _ = synth_pairs(5, seed=2, class_probs=[1, 0, 0, 0, 0])
    for i in range(len(ecg)):
        found = detect_r_peaks(ecg.x[i, 0], ecg.fs_hz)
        truth = ecg.beats(i)
        truth = truth[(truth > 10) & (truth < ecg.samples - 10)]  # find_peaks cannot see a peak on the edge
        # every labelled beat is found within 20 ms
        assert all(np.min(np.abs(found - b)) <= 5 for b in truth)
    assert not plausible_rr(np.array([0, 100, 120, 300]), 250.0)


def test_real_ecg_windows_when_installed():
    installed = [r for r in CATALOG if r.modality == "ecg" and recording_path(r) is not None]
    if not installed:
        pytest.skip("no real ECG package installed (make setup installs requirements-real.txt)")
    w = real_ecg_windows(64.0, 8.0)
    assert w.x.shape[1:] == (1, 512) and w.fs_hz == 64.0 and w.normalised
    assert w.hr_valid.all() and np.all((w.hr_bpm > 30) & (w.hr_bpm < 200))
    assert (w.rhythm == -1).all() and np.unique(w.window_id).size == len(w)
    np.testing.assert_allclose(w.x.std(-1), 1, atol=1e-3)


def test_catalog_cli(capsys):
    assert main(["data", "catalog"]) == 0
    out = capsys.readouterr().out
    assert "recording" in out and all(r.name in out for r in CATALOG)
