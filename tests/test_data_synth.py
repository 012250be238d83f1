"""Paired generator: determinism, labels agree with beats, balance, splits, corpus I/O."""

import numpy as np
import pytest

from edgeppg.cli.main import main
from edgeppg.data.corpus import load_corpus, write_corpus
from edgeppg.data.signal import hr_per_window, preprocess
from edgeppg.data.synth import BRADY_BELOW, TACHY_ABOVE, split_indices, synth_pairs
from edgeppg.data.windows import RHYTHM_LABELS
from edgeppg.errors import EdgePPGError
from edgeppg.io import sha256_file


@pytest.fixture(scope="module")
def pair():
    return synth_pairs(150, seed=3)


def test_cli_synth_twice_is_byte_identical(tmp_path, capsys):
    for d in ("a", "b"):
        assert main(["data", "synth", "--n", "30", "--seed", "1", "--out", str(tmp_path / d)]) == 0
    out = capsys.readouterr().out
    assert "classes: normal" in out and "HR (valid windows)" in out and "seconds taken" in out
    for f in ("ecg.npz", "ppg.npz"):
        assert sha256_file(tmp_path / "a" / f) == sha256_file(tmp_path / "b" / f)


def test_first_windows_do_not_depend_on_n():
    e1, p1 = synth_pairs(7, seed=5)
    e2, p2 = synth_pairs(12, seed=5)
    np.testing.assert_array_equal(e1.x, e2.x[:7])
    np.testing.assert_array_equal(p1.x, p2.x[:7])
    np.testing.assert_array_equal(p1.beat_idx, p2.beat_idx[: p1.beat_ptr[-1]])
    assert not np.array_equal(synth_pairs(7, seed=6)[1].x, p1.x)


def test_hr_from_beats_matches_label_in_both_modalities(pair):
    ecg, ppg = pair
    for w in (ecg, ppg, preprocess(ecg, 64.0)):
        hr = hr_per_window(w)
        v = w.hr_valid
        assert v.sum() >= 100
        assert np.all(np.abs(hr[v] - w.hr_bpm[v]) < 0.5), np.max(np.abs(hr[v] - w.hr_bpm[v]))
    # both modalities carry the same beats (same count per window)
    np.testing.assert_array_equal(ecg.beat_ptr, ppg.beat_ptr)


def test_labels_and_shapes(pair):
    ecg, ppg = pair
    assert ecg.x.shape == (150, 1, 2000) and ppg.x.shape == (150, 1, 512)
    assert ecg.fs_hz == 250.0 and ppg.fs_hz == 64.0 and ppg.modality == "ppg" and ecg.modality == "ecg"
    np.testing.assert_array_equal(ecg.rhythm, ppg.rhythm)
    counts = np.bincount(ppg.rhythm, minlength=5)
    assert counts.sum() == 150 and counts.min() >= 25, counts  # balanced up to HR-boundary relabels
    assert not ppg.hr_valid[ppg.rhythm == RHYTHM_LABELS.index("noise")].any()
    assert ppg.hr_valid[ppg.rhythm != RHYTHM_LABELS.index("noise")].all()
    hr, r = ppg.hr_bpm, ppg.rhythm
    assert np.all(hr[r == 1] < BRADY_BELOW) and np.all(hr[r == 2] > TACHY_ABOVE)
    assert np.all((hr[r == 0] >= BRADY_BELOW) & (hr[r == 0] <= TACHY_ABOVE))
    assert np.all((ppg.rr_bpm >= 8) & (ppg.rr_bpm <= 25))
    assert np.isfinite(ppg.x).all() and np.isfinite(ecg.x).all()


def test_af_is_irregular_and_sinus_mostly_regular(pair):
    ecg, _ = pair
    cv = np.array([np.std(np.diff(ecg.beats(i))) / np.mean(np.diff(ecg.beats(i))) for i in range(len(ecg))])
    assert np.median(cv[ecg.rhythm == 3]) > 0.1
    assert np.median(cv[ecg.rhythm == 0]) < 0.06


def test_class_probs_and_records():
    _, p = synth_pairs(40, seed=0, class_probs=[0, 0, 0, 1, 0], n_records=4)
    assert np.all(p.rhythm == 3)
    assert np.unique(p.record_id).size == 4
    with pytest.raises(EdgePPGError, match="class_probs"):
        synth_pairs(5, seed=0, class_probs=[1, 2])


def test_split_by_record_is_disjoint_and_deterministic(pair):
    _, ppg = pair  # 150 windows = 8 records
    s = split_indices(ppg, 0.25, 0.25, seed=0)
    assert sorted(np.concatenate(list(s.values())).tolist()) == list(range(len(ppg)))
    recs = {k: set(ppg.record_id[v].tolist()) for k, v in s.items()}
    assert not (recs["train"] & recs["val"]) and not (recs["train"] & recs["test"]) and not (recs["val"] & recs["test"])
    assert all(len(v) for v in s.values())
    s2 = split_indices(ppg, 0.25, 0.25, seed=0)
    assert all(np.array_equal(s[k], s2[k]) for k in s)


def test_corpus_roundtrip_and_tamper(tmp_path, pair):
    ecg, ppg = pair
    sub_e, sub_p = ecg.subset(np.arange(10)), ppg.subset(np.arange(10))
    info = write_corpus(tmp_path / "c", sub_e, sub_p, {"note": "t"})
    assert set(info["sha256"]) == {"ecg.npz", "ppg.npz"}
    e, p, meta = load_corpus(tmp_path / "c")
    np.testing.assert_array_equal(p.x, sub_p.x)
    np.testing.assert_array_equal(e.beat_idx, sub_e.beat_idx)
    assert meta["note"] == "t" and meta["ppg"]["windows"] == 10
    assert not list(tmp_path.glob(".c.*"))  # temp dir renamed away
    (tmp_path / "c" / "ppg.npz").write_bytes(b"junk")
    with pytest.raises(EdgePPGError, match="sha256"):
        load_corpus(tmp_path / "c")
    with pytest.raises(EdgePPGError, match="not a corpus directory"):
        load_corpus(tmp_path / "nothing")


def _line_hz(x: np.ndarray, fs: float, lo: float = 0.3, hi: float = 4.0) -> float:
    f = np.fft.rfftfreq(4 * x.size, 1 / fs)
    p = np.abs(np.fft.rfft((x - x.mean()) * np.hanning(x.size), 4 * x.size))
    band = (f >= lo) & (f <= hi)
    return float(f[band][np.argmax(p[band])])


def test_arm_swing_is_bigger_than_the_pulse_but_off_its_rate():
    """/3's readable motion: a 0.5-1.5 Hz swing, fundamental >= 0.3 Hz and 2nd harmonic >= 0.25 Hz from the HR."""
    from edgeppg.data.synth import ARM_SWING_HZ, _arm_swing

    made = 0
    for i in range(60):
        hr_hz = 0.7 + 0.04 * i  # 42-183 BPM
        s = _arm_swing(11, i, 512, 64.0, hr_hz)
        if s is None:
            continue
        made += 1
        f = _line_hz(s, 64.0)
        assert ARM_SWING_HZ[0] - 0.1 <= f <= ARM_SWING_HZ[1] + 0.1
        # measured lines carry +-3 % cadence wander and FFT bin error, hence the looser margins than drawn
        assert abs(f - hr_hz) >= 0.2 and abs(2 * f - hr_hz) >= 0.15, (i, f, hr_hz)
        assert s.std() > 0.3  # a unit pulse has std ~0.3: the swing is as large or larger
    assert made >= 20  # most windows get one (ARM_SWING_WINDOWS) when a separated frequency exists


def test_arm_swing_windows_stay_clean_and_labelled():
    """Records worn on a moving wrist keep their rhythm labels and valid HR: motion off the pulse rate is readable."""
    from edgeppg.data.synth import _sensor_params

    e, p = synth_pairs(400, seed=2)
    swing_recs = {r for r in range(20) if _sensor_params(2, r)["arm_swing"]}
    assert swing_recs, "seed 2 should have records with arm swing"
    clean = np.isin(p.record_id, sorted(swing_recs)) & (p.rhythm != RHYTHM_LABELS.index("noise"))
    assert clean.any() and p.hr_valid[clean].all()


def test_noise_on_the_heart_rate_is_a_line_at_the_heart_rate():
    """/3 noise kind 1: motion within 10 % of the HR, larger than the pulse (the pulse's line cannot be told apart)."""
    from edgeppg.data.synth import _motion

    hits = 0
    for i in range(40):
        g = np.random.default_rng(i)
        _, ppg = _motion(g, 2000, 250.0, 512, 64.0, 8.0, True, {"r_amp": 1.0}, hr_hz=2.0)
        f = _line_hz(ppg, 64.0, 0.5, 4.0)
        hits += abs(f - 2.0) <= 0.25
    assert 8 <= hits  # ~40 % of noise windows are of this kind (the rest: heavy broadband or displacement)
