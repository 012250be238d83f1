"""Which windows the exporter calibrates on (TRAIN split) and measures on (TEST split), and their ids.

The corpus and split come from the checkpoint's sidecar (`meta["data"]`: corpus_dir, split_seed, ...)
or from an explicit `data` argument, so calibration never sees the windows the parity report scores.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgeppg.preprocess import KIND_ZSCORE, Preprocessing, from_input_spec
from edgeppg.preprocess import apply as apply_preprocessing
from edgeppg.config import DataConfig, ExportConfig
from edgeppg.data.windows import Windows
from edgeppg.errors import EdgePPGError
from edgeppg.models.student import StudentSpec


@dataclass
class ExportData:
    calib: Windows  # preprocessed TRAIN-split windows used for int8 calibration (recorded by id)
    heldout: Windows  # preprocessed TEST-split windows every backend is scored on (shipped as heldout.npz)
    train: Windows  # the whole preprocessed TRAIN split (QAT fine-tune inputs)
    source: dict[str, Any] = field(default_factory=dict)  # where the windows came from (recorded in the manifest)


def ids_sha256(w: Windows) -> str:
    """sha256 of the window ids (int64 little-endian, in use order): names a window set without shipping it."""
    return hashlib.sha256(np.asarray(w.window_id, dtype="<i8").tobytes()).hexdigest()


def model_input(w: Windows, spec: StudentSpec, pre: Preprocessing | None = None) -> Windows:
    """The device-repeatable input (edgeppg/preprocess.py): the student's preprocessing, unless already applied."""
    pre = pre or Preprocessing.from_json(None, fs_hz=spec.fs_hz, window_s=spec.samples / spec.fs_hz)
    if w.modality != "ppg":
        raise EdgePPGError(f"export calibrates on PPG windows, got {w.modality!r} windows; pass the PPG corpus")
    if w.normalised:
        # windows z-scored by edgeppg.data.signal.preprocess carry no record: they match a z-score-only student
        done = w.meta.get("preprocessing")
        same = done == pre.to_json() if done else pre.kind == KIND_ZSCORE
        if float(w.fs_hz) != float(spec.fs_hz) or not same:
            raise EdgePPGError(f"windows were preprocessed differently from what student {spec.name} expects "
                               f"({pre.kind} at {pre.fs_hz:g} Hz); pass raw windows or the corpus directory")
    else:
        w = apply_preprocessing(w, pre)
    if w.x.shape[1:] != (spec.in_channels, spec.samples):
        raise EdgePPGError(f"windows are {w.x.shape[1:]} (channels, samples) after preprocessing but student {spec.name} "
                           f"takes ({spec.in_channels}, {spec.samples}); use a corpus with {spec.samples / spec.fs_hz:g} s windows")
    return w


def _seeded_subset(w: Windows, n: int, seed: int) -> Windows:
    if len(w) <= n:
        return w
    idx = np.sort(np.random.default_rng(seed).choice(len(w), n, replace=False))
    return w.subset(idx)


def _corpus_ppg(corpus_dir: Path, expect_sha256: str | None) -> tuple[Windows, dict]:
    from edgeppg.data.corpus import load_corpus
    from edgeppg.io import sha256_file

    _ecg, ppg, info = load_corpus(corpus_dir)
    if expect_sha256:
        known = {sha256_file(corpus_dir / "corpus.json"), *(info.get("sha256") or {}).values()}
        if expect_sha256 not in known:
            raise EdgePPGError(f"corpus {corpus_dir} is not the one the student was trained on (checkpoint records "
                               f"sha256 {expect_sha256[:12]}…); pass that corpus with --data")
    return ppg, {"corpus_dir": str(corpus_dir), "corpus_sha256": (info.get("sha256") or {}).get("ppg.npz")}


def export_data(data: Any, meta: dict, spec: StudentSpec, cfg: ExportConfig) -> ExportData:
    """Resolve `data` into calibration and held-out windows.

    data: None (use the checkpoint's meta["data"]["corpus_dir"]), a corpus directory, a `Windows` of the
    whole PPG corpus (split by record with the recorded split seed), or {"train": Windows, "test": Windows}.
    """
    recorded = dict(meta.get("data") or {})
    defaults = DataConfig()
    seed = int(recorded.get("split_seed", defaults.seed))
    val_frac = float(recorded.get("val_frac", defaults.val_frac))
    test_frac = float(recorded.get("test_frac", defaults.test_frac))
    source: dict[str, Any] = {"split_seed": seed, "val_frac": val_frac, "test_frac": test_frac}
    if data is None:
        if not recorded.get("corpus_dir"):
            raise EdgePPGError("the student checkpoint records no training corpus (meta['data']['corpus_dir']); "
                               "pass the PPG corpus it was trained on with --data CORPUS_DIR")
        data = Path(recorded["corpus_dir"])
    if isinstance(data, (str, Path)):
        ppg, info = _corpus_ppg(Path(data), recorded.get("corpus_sha256"))
        source.update(info)
        data = ppg
    if isinstance(data, Windows):
        from edgeppg.data.synth import split_indices

        split = split_indices(data, val_frac=val_frac, test_frac=test_frac, seed=seed)
        train, test = data.subset(split["train"]), data.subset(split["test"])
    elif isinstance(data, dict) and {"train", "test"} <= set(data):
        train, test = data["train"], data["test"]
        source = {"split": "given"}
    else:
        raise EdgePPGError(f"export data must be a corpus dir, Windows or {{'train','test'}} dict, got {type(data).__name__}")
    if len(train) == 0 or len(test) == 0:
        raise EdgePPGError(f"the split has {len(train)} train and {len(test)} test windows; export needs both "
                           f"(use a corpus with more records)")
    pre = from_input_spec(meta.get("input"))
    if float(pre.fs_hz) != float(spec.fs_hz):
        raise EdgePPGError(f"the checkpoint's preprocessing runs at {pre.fs_hz:g} Hz but the student takes {spec.fs_hz:g} Hz")
    train, test = model_input(train, spec, pre), model_input(test, spec, pre)
    calib = _seeded_subset(train, cfg.calib_windows, cfg.calib_seed)
    heldout = _seeded_subset(test, cfg.heldout_windows, cfg.calib_seed + 1)
    return ExportData(calib=calib, heldout=heldout, train=train, source=source)
