"""The one corpus -> train/val/test loader: teacher and pretrain (train/transfer.py), distill (train/distill.py) and
export (export/data.py) all split through here, by record and seeded (docs/design.md §1).

The split parameters travel in every checkpoint sidecar (`meta["data"]`: split_seed, val_frac, test_frac,
corpus_sha256), so distill after the teacher and export after distill rebuild exactly the same test windows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from edgeppg.data.synth import split_indices
from edgeppg.data.windows import Windows
from edgeppg.errors import EdgePPGError
from edgeppg.io import sha256_file

PARTS = ("train", "val", "test")


@dataclass(frozen=True)
class SplitSpec:
    seed: int
    val_frac: float
    test_frac: float

    @classmethod
    def from_config(cls, data_cfg, seed: int | None = None) -> "SplitSpec":
        """From a DataConfig; `seed` overrides its seed (distill reuses the teacher's recorded split seed)."""
        return cls(int(data_cfg.seed if seed is None else seed), float(data_cfg.val_frac), float(data_cfg.test_frac))

    @classmethod
    def from_json(cls, recorded: dict, defaults) -> "SplitSpec":
        """From a sidecar's meta["data"], falling back to a DataConfig's values for keys it does not record."""
        return cls(int(recorded.get("split_seed", defaults.seed)), float(recorded.get("val_frac", defaults.val_frac)),
                   float(recorded.get("test_frac", defaults.test_frac)))

    def to_json(self) -> dict[str, Any]:
        return {"split_seed": self.seed, "val_frac": self.val_frac, "test_frac": self.test_frac}


@dataclass(frozen=True)
class CorpusSplit:
    train: Windows
    val: Windows
    test: Windows
    source: dict[str, Any]  # corpus_dir, corpus_sha256, split_seed, val_frac, test_frac, n_train/n_val/n_test


def load_modality(data_dir: Path, modality: str, expect_sha256: str | None = None) -> tuple[Windows, dict[str, Any]]:
    """One modality of a corpus folder (its sha256s checked by load_corpus) and where it came from.
    expect_sha256: the corpus a checkpoint was trained on; another corpus is refused by name."""
    from edgeppg.data.corpus import load_corpus

    data_dir = Path(data_dir)
    ecg, ppg, info = load_corpus(data_dir)
    fname = f"{modality}.npz"
    if expect_sha256:
        known = {sha256_file(data_dir / "corpus.json"), *(info.get("sha256") or {}).values()}
        if expect_sha256 not in known:
            raise EdgePPGError(f"corpus {data_dir} is not the one the student was trained on (checkpoint records "
                               f"sha256 {expect_sha256[:12]}…); pass that corpus with --data")
    w = ecg if modality == "ecg" else ppg
    sha = (info.get("sha256") or {}).get(fname)
    return w, {"corpus_dir": str(data_dir.resolve()), "corpus_sha256": sha}


def split_windows(w: Windows, spec: SplitSpec, where: str, need: tuple[str, ...] = PARTS) -> CorpusSplit:
    """Split by record with `spec`; each part in `need` must hold windows (named in the error, with the fix)."""
    idx = split_indices(w, spec.val_frac, spec.test_frac, spec.seed)
    for part in need:
        if len(idx[part]) == 0:
            raise EdgePPGError(
                f"the {part} split of {where} is empty ({len(w)} windows in {len(set(w.record_id.tolist()))} records, "
                f"val_frac={spec.val_frac}, test_frac={spec.test_frac}); use a larger corpus (data.n_windows) or "
                "other val_frac/test_frac")
    source = {**spec.to_json(), **{f"n_{p}": int(len(idx[p])) for p in PARTS}}
    return CorpusSplit(w.subset(idx["train"]), w.subset(idx["val"]), w.subset(idx["test"]), source)


def load_split(data_dir: Path, modality: str, spec: SplitSpec, *, transform: Callable[[Windows], Windows] | None = None,
               expect_sha256: str | None = None, need: tuple[str, ...] = PARTS) -> CorpusSplit:
    """Corpus folder -> (optionally transformed, e.g. preprocessed) windows -> record split. The transform is
    per window (docs/design.md §2), so applying it before or after the split gives the same windows."""
    w, where = load_modality(data_dir, modality, expect_sha256)
    if len(w) == 0:
        raise EdgePPGError(f"corpus {data_dir} holds no {modality.upper()} windows; regenerate it with `edgeppg data synth`")
    if where["corpus_sha256"] is None:
        where["corpus_sha256"] = sha256_file(Path(data_dir) / f"{modality}.npz")
    if transform is not None:
        w = transform(w)
    s = split_windows(w, spec, str(data_dir), need)
    return CorpusSplit(s.train, s.val, s.test, {**where, **s.source})
