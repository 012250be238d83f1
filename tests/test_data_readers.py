"""Readers round-trip tiny files written in each format users bring."""

import os
import pickle

import numpy as np
import pytest

from edgeppg.data.readers import read_csv, read_dalia, read_npz, read_recording, read_wfdb
from edgeppg.data.windows import RHYTHM_LABELS
from edgeppg.errors import EdgePPGError


def _pulse_train(fs, seconds, rr):
    """A spiky signal with a beat every `rr` s; returns (signal, beat samples)."""
    n = int(fs * seconds)
    beats = np.arange(int(0.3 * fs), n, int(round(rr * fs)))
    t = np.arange(n)
    x = 0.05 * np.sin(2 * np.pi * 0.2 * t / fs)
    for b in beats:
        x += np.exp(-0.5 * ((t - b) / (0.01 * fs)) ** 2)
    return x, beats


def test_wfdb_roundtrip_with_rhythm_and_beats(tmp_path):
    wfdb = pytest.importorskip("wfdb")
    fs = 250
    x, beats = _pulse_train(fs, 30, 0.75)  # 80 BPM
    wfdb.wrsamp("rec", fs=fs, units=["mV"], sig_name=["MLII"], p_signal=x[:, None], fmt=["16"],
                write_dir=str(tmp_path))
    rhythm_s = np.array([0, 16 * fs])
    samples = np.concatenate([rhythm_s, beats])
    symbols = ["+", "+"] + ["N"] * len(beats)
    aux = ["(N", "(AFIB"] + [""] * len(beats)
    order = np.argsort(samples, kind="stable")
    wfdb.wrann("rec", "atr", samples[order], symbol=[symbols[i] for i in order], aux_note=[aux[i] for i in order],
               write_dir=str(tmp_path))
    w = read_wfdb(tmp_path / "rec")
    assert w.x.shape == (3, 1, 2000) and w.fs_hz == 250 and w.modality == "ecg"
    assert w.rhythm.tolist() == [RHYTHM_LABELS.index("normal")] * 2 + [RHYTHM_LABELS.index("af")]
    assert np.allclose(w.hr_bpm, 80.0, atol=0.5) and w.hr_valid.all()
    np.testing.assert_array_equal(w.beats(1), beats[(beats >= 2000) & (beats < 4000)] - 2000)
    w2 = read_recording(tmp_path / "rec.hea", hop_s=4.0)
    assert len(w2) == 6 and w2.rhythm[3] == -1  # window 12-20 s straddles the rhythm change


def _dalia_dict(fs=64, seconds=40, subject="S7"):
    x, _ = _pulse_train(fs, seconds, 0.8)
    n_lab = (seconds - 8) // 2 + 1
    return {"signal": {"wrist": {"BVP": x[:, None].astype(np.float64), "ACC": np.zeros((seconds * 32, 3))},
                       "chest": {"ECG": np.zeros((10, 1))}},
            "label": np.linspace(70, 80, n_lab), "subject": subject, "activity": np.zeros((seconds * 4, 1))}


def test_dalia_pickle(tmp_path):
    p = tmp_path / "S7.pkl"
    with open(p, "wb") as fh:
        pickle.dump(_dalia_dict(), fh, protocol=2)
    w = read_dalia(p)
    assert w.fs_hz == 64 and w.x.shape == (17, 1, 512) and w.record_id[0] == 7
    np.testing.assert_allclose(w.hr_bpm, np.linspace(70, 80, 17), rtol=1e-6)
    assert w.hr_valid.all() and (w.rhythm == -1).all()
    assert read_recording(p).x.shape == w.x.shape


class _Evil:
    def __reduce__(self):
        return (os.getcwd, ())


def test_dalia_refuses_arbitrary_classes(tmp_path):
    p = tmp_path / "S1.pkl"
    d = _dalia_dict()
    d["subject"] = _Evil()
    with open(p, "wb") as fh:
        pickle.dump(d, fh, protocol=2)
    with pytest.raises(EdgePPGError, match="refusing to load posix.getcwd|refusing to load"):
        read_dalia(p)


def test_csv_header_time_column_and_plain(tmp_path):
    fs = 50.0
    x, _ = _pulse_train(fs, 20, 0.6)
    t = np.arange(x.size) / fs
    p = tmp_path / "rec.csv"
    p.write_text("time,ppg\n" + "\n".join(f"{a:.4f},{b:.6f}" for a, b in zip(t, x)) + "\n")
    w = read_csv(p)  # rate from the time column
    assert w.fs_hz == pytest.approx(50.0) and w.x.shape == (2, 1, 400)
    np.testing.assert_allclose(w.x[0, 0], x[:400], atol=1e-5)
    q = tmp_path / "plain.csv"
    q.write_text("\n".join(f"{b:.6f}" for b in x))
    assert read_recording(q, fs_hz=50.0, hop_s=4.0).x.shape == (4, 1, 400)
    m = tmp_path / "multi.csv"
    m.write_text("a,b\n" + "\n".join(f"{b},{b}" for b in x))
    with pytest.raises(EdgePPGError, match="--column"):
        read_csv(m, 50.0)
    assert read_csv(m, 50.0, column="b").x.shape == (2, 1, 400)


def test_npz_with_rate_and_beats(tmp_path):
    fs = 64.0
    x, beats = _pulse_train(fs, 24, 0.5)
    p = tmp_path / "rec.npz"
    np.savez(p, ppg=x, fs_hz=fs, beats=beats)
    w = read_npz(p)
    assert w.x.shape == (3, 1, 512) and w.fs_hz == 64.0
    assert np.allclose(w.hr_bpm, 120.0, atol=0.5) and w.hr_valid.all()
    with pytest.raises(EdgePPGError, match="rate is missing"):
        np.savez(tmp_path / "nofs.npz", ppg=x)
        read_recording(tmp_path / "nofs.npz")


def test_dispatcher_errors(tmp_path):
    with pytest.raises(EdgePPGError, match="not found"):
        read_recording(tmp_path / "missing.csv", fs_hz=64)
    (tmp_path / "a.xyz").write_text("1\n2\n")
    with pytest.raises(EdgePPGError, match="unknown format '.xyz'"):
        read_recording(tmp_path / "a.xyz")
    with pytest.raises(EdgePPGError, match="unknown format 'edf'"):
        read_recording(tmp_path / "a.xyz", fmt="edf")
