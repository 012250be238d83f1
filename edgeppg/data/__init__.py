"""Data layer: the windows contract, pure signal functions, the paired generator, readers, catalog.

Heavy modules (readers: wfdb/pandas; catalog) are imported on first use, so `import edgeppg.data` stays cheap.
"""

from edgeppg.data.corpus import build_corpus, load_corpus, write_corpus
from edgeppg.data.signal import make_windows, preprocess, resample, validate_recording, zscore
from edgeppg.data.synth import split_indices, synth_pairs
from edgeppg.data.windows import RHYTHM_LABELS, Windows, load_windows, save_windows

__all__ = ["RHYTHM_LABELS", "Windows", "load_windows", "save_windows", "make_windows", "preprocess", "resample",
           "validate_recording", "zscore", "synth_pairs", "split_indices", "build_corpus", "load_corpus",
           "write_corpus"]
