"""One corpus -> split loader (edgeppg.data.splits) behind teacher training, distill and export: the same seed and
fractions give the same record split, so export rebuilds exactly the test windows distill scored (issue 15)."""

import numpy as np
import pytest

from edgeppg.config import DataConfig, ExportConfig
from edgeppg.data.splits import SplitSpec, load_split
from edgeppg.errors import EdgePPGError


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    from edgeppg.data.corpus import build_corpus

    d = tmp_path_factory.mktemp("corpus")
    build_corpus(d, n=90, seed=3)
    return d


def test_teacher_distill_and_export_split_the_corpus_the_same_way(corpus):
    from edgeppg.export.data import export_data
    from edgeppg.models.student import student_spec
    from edgeppg.train.distill import load_data
    from edgeppg.train.transfer import load_splits

    cfg = DataConfig(seed=5)
    ref = load_split(corpus, "ppg", SplitSpec.from_config(cfg))
    assert ref.source["n_test"] == len(ref.test) > 0 and ref.source["split_seed"] == 5
    assert not set(ref.train.record_id.tolist()) & set(ref.test.record_id.tolist())  # by record, never by window
    teacher = load_splits(corpus, cfg, "ppg", 64.0)
    distill = load_data(corpus, cfg, 5, 64.0)
    for got in (teacher, distill):
        assert np.array_equal(got.test.window_id, ref.test.window_id)
        assert np.array_equal(got.train.window_id, ref.train.window_id)
    meta = {"data": {**SplitSpec.from_config(cfg).to_json(), "corpus_sha256": ref.source["corpus_sha256"]}}
    ex = export_data(corpus, meta, student_spec("s2k"), ExportConfig(calib_windows=8, heldout_windows=10_000))
    assert sorted(ex.heldout.window_id.tolist()) == sorted(ref.test.window_id.tolist())
    assert ex.source == {**SplitSpec.from_config(cfg).to_json(), "corpus_dir": str(corpus.resolve()),
                         "corpus_sha256": ref.source["corpus_sha256"]}


def test_an_empty_split_is_named_with_its_fix(corpus):
    with pytest.raises(EdgePPGError, match=r"the val split of .* is empty .*val_frac=0.0"):
        load_split(corpus, "ppg", SplitSpec(0, 0.0, 0.2))
    assert len(load_split(corpus, "ppg", SplitSpec(0, 0.0, 0.2), need=("train", "test")).val) == 0
