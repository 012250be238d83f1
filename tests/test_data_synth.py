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
