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
    train: Windows | None  # the whole preprocessed TRAIN split (QAT fine-tune inputs); None: not available
    source: dict[str, Any] = field(default_factory=dict)  # where the windows came from (recorded in the manifest)
    origin: str = ""  # for the log only (a path would make the manifest machine-dependent)
    qat_missing: str = ""  # why `train` is None: the error QAT raises only when post-training int8 needs it


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


# ---------------------------------------------------------------- which student

def shipped_students() -> list[str]:
    """Names of the student checkpoints shipped in models/ (sidecar arch "student")."""
    import json

    from edgeppg.models.registry import MODELS_DIR

    names = []
    for f in sorted(MODELS_DIR.glob("*.safetensors")):
        try:
            if json.loads(f.with_suffix(".json").read_text()[:1 << 20]).get("arch") == "student":
                names.append(f.stem)
        except (OSError, ValueError, AttributeError):
            continue  # a broken sidecar is reported when that file is loaded, not while listing names
    return names


def resolve_student(name_or_path: str | Path) -> Path:
    """--student: a checkpoint file, or a shipped student's name (ppg-student-s12k -> models/ppg-student-s12k.safetensors)."""
    from edgeppg.models.registry import MODELS_DIR

    p = Path(name_or_path)
    shipped = shipped_students()
    listed = ", ".join(shipped) or "none in this install"
    if p.is_dir():
        raise EdgePPGError(f"--student {p} is a folder; pass the student .safetensors inside it (written by "
                           f"`edgeppg distill`, with its .json sidecar) or a shipped student name: {listed}")
    if p.is_file():
        return p
    if len(p.parts) == 1 and p.suffix == "" and (MODELS_DIR / f"{p}.safetensors").is_file():
        return MODELS_DIR / f"{p}.safetensors"
    import difflib

    near = difflib.get_close_matches(str(name_or_path), shipped, n=1)
    hint = f"did you mean {near[0]}? " if near else ""
    raise EdgePPGError(f"--student {name_or_path} not found; {hint}pass a student .safetensors written by "
                       f"`edgeppg distill` or a shipped student name: {listed}")


# ---------------------------------------------------------------- shipped windows

WINDOWS_SCHEMA = "edgeppg.export-windows/1"
_SETS = ("calib", "heldout")


def windows_file(ckpt_path: str | Path) -> Path:
    """Where a shipped student's export windows live: beside it, <stem>.calib.npz."""
    p = Path(ckpt_path)
    return p.with_name(f"{p.stem}.calib.npz")


def save_export_windows(path: str | Path, data: ExportData, cfg: ExportConfig) -> dict:
    """The exact calibration and held-out windows an export used, in one deterministic .npz; returns the
    record for the checkpoint sidecar (`export_windows`: file, sha256 and the settings they answer to)."""
    import json

    from edgeppg.data.windows import _ARRAYS
    from edgeppg.io import save_npz, sha256_file

    path = Path(path)
    arrays: dict[str, np.ndarray] = {}
    header: dict[str, Any] = {"schema": WINDOWS_SCHEMA, "calib_windows": cfg.calib_windows, "calib_seed": cfg.calib_seed,
                              "heldout_windows": cfg.heldout_windows,
                              "source": {k: v for k, v in data.source.items() if k != "corpus_dir"}}
    for name, w in zip(_SETS, (data.calib, data.heldout)):
        arrays.update({f"{name}.{k}": getattr(w, k) for k in _ARRAYS})
        header[name] = {"fs_hz": float(w.fs_hz), "modality": w.modality, "normalised": bool(w.normalised), "meta": w.meta}
    arrays["header"] = np.frombuffer(json.dumps(header, sort_keys=True).encode(), dtype=np.uint8)
    save_npz(path, arrays)
    return {"file": path.name, "sha256": sha256_file(path), "calib_windows": cfg.calib_windows,
            "calib_seed": cfg.calib_seed, "heldout_windows": cfg.heldout_windows}


def _regen_hint(meta: dict) -> str:
    d = meta.get("data") or {}
    n = sum(int(d.get(k) or 0) for k in ("n_train", "n_val", "n_test"))
    synth = f"`edgeppg data synth --n {n} --seed {d['split_seed']} --out DIR`" if n and "split_seed" in d else "`edgeppg data synth`"
    return f"pass its training corpus with --data DIR (regenerated byte-identically by {synth})"


def load_export_windows(ckpt_path: str | Path, meta: dict, cfg: ExportConfig) -> ExportData:
    """The shipped windows of a checkpoint, checked against the sha256 its sidecar records and against the
    calibration settings asked for (other settings need the corpus: a different draw cannot be derived)."""
    import json

    from edgeppg.data.windows import _ARRAYS
    from edgeppg.io import load_npz, sha256_file

    rec = meta["export_windows"]
    path = Path(ckpt_path).with_name(Path(str(rec.get("file", ""))).name)
    fix = _regen_hint(meta)
    if not path.is_file():
        raise EdgePPGError(f"{path} (the calibration windows shipped with {Path(ckpt_path).name}) is missing; "
                           f"restore it, or {fix}")
    if sha256_file(path) != rec.get("sha256"):
        raise EdgePPGError(f"{path} does not match the sha256 in {Path(ckpt_path).with_suffix('.json').name}; "
                           f"restore it, or {fix}")
    asked = {"calib_windows": cfg.calib_windows, "calib_seed": cfg.calib_seed, "heldout_windows": cfg.heldout_windows}
    differ = {k: v for k, v in asked.items() if rec.get(k) != v}
    if differ:
        shipped = ", ".join(f"{k}={rec.get(k)}" for k in asked)
        raise EdgePPGError(f"the windows shipped with {Path(ckpt_path).name} were drawn with {shipped}; for "
                           + ", ".join(f"{k}={v}" for k, v in differ.items()) + f" {fix}")
    try:
        z = load_npz(path)
        header = json.loads(bytes(z.pop("header")).decode())
        sets = [Windows(**{k: z[f"{name}.{k}"] for k in _ARRAYS}, fs_hz=header[name]["fs_hz"],
                        modality=header[name]["modality"], normalised=header[name]["normalised"],
                        meta=header[name]["meta"]) for name in _SETS]
    except EdgePPGError:
        raise
    except Exception as exc:  # noqa: BLE001 - the sha256 matched, so this is a schema change, not corruption
        raise EdgePPGError(f"{path} is not a readable {WINDOWS_SCHEMA} file ({type(exc).__name__}); {fix}") from None
    if header.get("schema") != WINDOWS_SCHEMA:
        raise EdgePPGError(f"{path} has schema {header.get('schema')!r}, expected {WINDOWS_SCHEMA!r}; {fix}")
    calib, heldout = sets
    # only QAT reads `train`: None makes export refuse QAT with `qat_missing` if post-training int8 needs it
    return ExportData(calib=calib, heldout=heldout, train=None, source=dict(header["source"]),
                      origin=f"shipped with the model: {path.name}",
                      qat_missing=f"--qat fine-tunes on the whole training split, which is not shipped with "
                                  f"{Path(ckpt_path).name}; {fix}")


def export_data(data: Any, meta: dict, spec: StudentSpec, cfg: ExportConfig,
                ckpt_path: str | Path | None = None) -> ExportData:
    """Resolve `data` into calibration and held-out windows.

    data: None (the checkpoint's meta["data"]["corpus_dir"] when it exists, else the windows shipped beside
    `ckpt_path` as meta["export_windows"] records), a corpus directory, a `Windows` of the whole PPG corpus
    (split by record with the recorded split seed), or {"train": Windows, "test": Windows}.
    """
    from edgeppg.data.splits import SplitSpec

    recorded = dict(meta.get("data") or {})
    split = SplitSpec.from_json(recorded, DataConfig())  # the student's own split, so its test set is rebuilt
    source: dict[str, Any] = split.to_json()
    if data is None:
        corpus = recorded.get("corpus_dir")
        if (not corpus or not Path(corpus).is_dir()) and meta.get("export_windows") and ckpt_path is not None:
            return load_export_windows(ckpt_path, meta, cfg)
        if not corpus:
            raise EdgePPGError("the student checkpoint records no training corpus (meta['data']['corpus_dir']) and "
                               "ships no calibration windows; " + _regen_hint(meta))
        data = Path(corpus)
    if isinstance(data, (str, Path)):
        from edgeppg.data.splits import load_modality

        data, where = load_modality(Path(data), "ppg", recorded.get("corpus_sha256"))
        source.update(where)  # corpus_dir (left out of the manifest) and corpus_sha256
    if isinstance(data, Windows):
        from edgeppg.data.splits import split_windows

        parts = split_windows(data, split, "the export data", need=())
        train, test = parts.train, parts.test
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
