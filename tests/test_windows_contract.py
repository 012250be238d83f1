import numpy as np
import pytest

from edgeppg.data.windows import Windows, load_windows, save_windows
from edgeppg.errors import EdgePPGError
from edgeppg.io import sha256_file


def _w(n=3, t=16):
    rng = np.random.default_rng(0)
    counts = np.array([2, 0, 3])[:n]
    return Windows(x=rng.normal(size=(n, 1, t)), fs_hz=64.0, rhythm=np.arange(n), hr_bpm=np.full(n, 60.0),
                   hr_valid=np.ones(n, bool), rr_bpm=np.full(n, 15.0), beat_idx=np.arange(counts.sum()),
                   beat_ptr=np.concatenate([[0], np.cumsum(counts)]), window_id=np.arange(n), record_id=np.zeros(n))


def test_roundtrip_is_byte_identical(tmp_path):
    w = _w()
    save_windows(tmp_path / "a.npz", w)
    save_windows(tmp_path / "b.npz", w)
    assert sha256_file(tmp_path / "a.npz") == sha256_file(tmp_path / "b.npz")
    r = load_windows(tmp_path / "a.npz")
    np.testing.assert_array_equal(r.x, w.x)
    np.testing.assert_array_equal(r.beats(2), w.beats(2))


def test_subset_and_concat_keep_beats():
    w = _w()
    s = w.subset([2, 0])
    np.testing.assert_array_equal(s.beats(0), w.beats(2))
    np.testing.assert_array_equal(s.beats(1), w.beats(0))
    c = Windows.concat([w, s])
    assert len(c) == 5
    np.testing.assert_array_equal(c.beats(3), w.beats(2))


def test_corrupt_file_is_clear_error(tmp_path):
    p = tmp_path / "bad.npz"
    p.write_bytes(b"not a zip")
    with pytest.raises(EdgePPGError, match="not a readable edgeppg windows file"):
        load_windows(p)
