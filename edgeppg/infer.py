"""Run a trained model on a user's recording: per-window HR, rhythm, RR and the signal-quality gate.

    p = load_predictor("runs/demo/export")                 # int8 .tflite via LiteRT (or runtime="tflm")
    p = load_predictor("models/ppg-student-s12k.safetensors")  # fp32 torch (teacher or student checkpoint)
    wp = p.predict_recording(x, fs_hz=125.0, hop_s=2.0)    # or p.predict_file(path, fmt=..., fs_hz=...)

Every path feeds the model through `Preprocessing.windows_from_recording` (edgeppg/preprocess.py), the
function training and export calibration use, read from the export manifest or the checkpoint sidecar.
The int8 model gets TFLite's QUANTIZE of that float input with the manifest's scale / zero point
(`edgeppg.int8.fixedpoint`), and its outputs are decoded only from the manifest (`edgeppg.verify.outputs`), as a
device does. HR (and RR) of a window is withheld by `edgeppg.quality.gate`: the rhythm argmax is `noise`
(for int8, argmax of the int8 logits: the firmware's gate), or the signal is flat, clipped or of low SQI.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from edgeppg.errors import EdgePPGError
from edgeppg.preprocess import Preprocessing, from_input_spec

RUNTIMES = ("litert", "tflm")
PREDICTIONS_SCHEMA = "edgeppg.predictions/1"
_CHUNK = 256  # windows per progress step
_PROGRESS_MIN = 600  # a bar from 20 min of recording at a 2 s hop


def _softmax(z: np.ndarray) -> np.ndarray:
    z = np.asarray(z, np.float64)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@dataclass
class WindowPredictions:
    """Per-window results of one recording (arrays of length N, window i starts at start_s[i])."""
    start_s: np.ndarray
    window_s: float
    hr_bpm: np.ndarray  # NaN where the gate withholds it
    hr_raw: np.ndarray  # what the HR head says, gated or not
    withheld: np.ndarray  # str: "" when HR is given, else the gate's reason (noise_class/low_sqi/flat/clipped)
    rhythm: np.ndarray  # class index (-1: the model has no rhythm head)
    rhythm_labels: tuple[str, ...]
    rhythm_prob: np.ndarray  # (N, K) softmax of the (dequantized) logits
    sqi: np.ndarray
    quality: np.ndarray  # str: the signal's own verdict, "ok" | "low_sqi" | "flat" | "clipped"
    rr: np.ndarray | None = None  # breaths/min, NaN where withheld; None: no RR head
    rr_raw: np.ndarray | None = None
    ref_hr: np.ndarray | None = None  # the recording's own reference HR per window where it carries one
    model: dict[str, Any] = field(default_factory=dict)
    recording: dict[str, Any] = field(default_factory=dict)
    preprocessing: dict[str, Any] = field(default_factory=dict)
    raw_outputs: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # by head name (int8 or float)
    model_input: np.ndarray | None = field(default=None, repr=False)  # (N, C, T) float32 after preprocessing
    model_input_q: np.ndarray | None = field(default=None, repr=False)  # (N, *tflite input shape[1:]) int8

    def __len__(self) -> int:
        return int(len(self.start_s))

    @property
    def hr_given(self) -> np.ndarray:
        return np.isfinite(self.hr_bpm)

    @property
    def rhythm_names(self) -> list[str]:
        return [self.rhythm_labels[int(k)] if 0 <= int(k) < len(self.rhythm_labels) else "" for k in self.rhythm]

    def summary(self) -> dict[str, Any]:
        n = len(self)
        given = self.hr_given
        vals, cnt = np.unique(self.withheld[~given], return_counts=True) if n else ([], [])
        names = self.rhythm_names
        out = {"windows": n, "hr_given": int(given.sum()), "hr_given_frac": float(given.mean()) if n else float("nan"),
               "median_hr_bpm": float(np.median(self.hr_bpm[given])) if given.any() else float("nan"),
               "withheld": {str(v): int(c) for v, c in zip(vals, cnt)},
               "rhythm_counts": {lab: names.count(lab) for lab in self.rhythm_labels if names.count(lab)},
               "seconds": float(self.start_s[-1] + self.window_s) if n else 0.0}
        if self.ref_hr is not None:
            ok = given & np.isfinite(self.ref_hr)
            out["ref_windows"] = int(np.isfinite(self.ref_hr).sum())
            out["hr_mae_vs_ref_bpm"] = float(np.mean(np.abs(self.hr_bpm[ok] - self.ref_hr[ok]))) if ok.any() else float("nan")
        return out

    def summary_line(self) -> str:
        s = self.summary()
        if not s["windows"]:
            return "0 windows"
        med = f"median HR {s['median_hr_bpm']:.1f} BPM" if s["hr_given"] else "no HR given"
        why = ", ".join(f"{k} {v}" for k, v in s["withheld"].items())
        line = (f"{s['windows']} windows ({s['seconds']:.0f} s); HR given on {s['hr_given']}/{s['windows']} "
                f"({100 * s['hr_given_frac']:.1f} %); {med}" + (f"; withheld: {why}" if why else "")
                + "; rhythm: " + ", ".join(f"{k} {v}" for k, v in s["rhythm_counts"].items()))
        if "hr_mae_vs_ref_bpm" in s:
            line += f"; vs the recording's reference HR: MAE {s['hr_mae_vs_ref_bpm']:.2f} BPM on the windows with both"
        return line

    def rows(self) -> list[dict[str, Any]]:
        """One plain dict per window (NaN -> None), in the column order of `columns()`."""
        out = []
        names = self.rhythm_names
        for i in range(len(self)):
            r: dict[str, Any] = {"start_s": round(float(self.start_s[i]), 3), "hr_bpm": _num(self.hr_bpm[i]),
                                 "hr_withheld": str(self.withheld[i]), "hr_raw_bpm": _num(self.hr_raw[i]),
                                 "rhythm": names[i]}
            for k, lab in enumerate(self.rhythm_labels):
                r[f"p_{lab}"] = round(float(self.rhythm_prob[i, k]), 4)
            if self.rr is not None:
                r["rr_bpm"] = _num(self.rr[i])
            r["sqi"] = round(float(self.sqi[i]), 3)
            r["quality"] = str(self.quality[i])
            if self.ref_hr is not None:
                r["ref_hr_bpm"] = _num(self.ref_hr[i])
            out.append(r)
        return out

    def columns(self) -> list[str]:
        cols = ["start_s", "hr_bpm", "hr_withheld", "hr_raw_bpm", "rhythm", *[f"p_{l}" for l in self.rhythm_labels]]
        cols += (["rr_bpm"] if self.rr is not None else []) + ["sqi", "quality"]
        return cols + (["ref_hr_bpm"] if self.ref_hr is not None else [])

    def to_json(self) -> dict[str, Any]:
        return {"schema": PREDICTIONS_SCHEMA, "model": self.model, "recording": self.recording,
                "preprocessing": self.preprocessing, "window_s": self.window_s, "summary": self.summary(),
                "gate": "HR/RR withheld when the rhythm argmax is noise (int8: argmax of the int8 logits, as the firmware) "
                        "or the window is flat, clipped or below the SQI floor (edgeppg.quality.gate)",
                "columns": self.columns(), "windows": self.rows()}

    def to_csv(self) -> str:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=self.columns(), lineterminator="\n")
        w.writeheader()
        for r in self.rows():
            w.writerow({k: ("" if v is None else v) for k, v in r.items()})
        return buf.getvalue()

    def table(self, limit: int | None = None) -> str:
        """Human-readable rows: start, HR (or blank + reason), rhythm with probabilities, RR, quality."""
        labs = self.rhythm_labels
        head = (f"{'start_s':>8} {'HR_bpm':>7} {'withheld':11} {'rhythm':7} "
                + " ".join(f"{('p_' + l)[:8]:>8}" for l in labs)
                + (f" {'RR_bpm':>6}" if self.rr is not None else "") + f" {'sqi':>5} {'quality':8}"
                + (f" {'ref_HR':>6}" if self.ref_hr is not None else ""))
        lines = [head]
        names = self.rhythm_names
        n = len(self) if limit is None else min(limit, len(self))
        for i in range(n):
            hr = f"{self.hr_bpm[i]:7.1f}" if np.isfinite(self.hr_bpm[i]) else " " * 7
            line = (f"{self.start_s[i]:8.1f} {hr} {str(self.withheld[i]):11} {names[i]:7} "
                    + " ".join(f"{self.rhythm_prob[i, k]:8.3f}" for k in range(len(labs))))
            if self.rr is not None:
                line += f" {self.rr[i]:6.1f}" if np.isfinite(self.rr[i]) else " " * 7
            line += f" {self.sqi[i]:5.2f} {str(self.quality[i]):8}"
            if self.ref_hr is not None:
                line += f" {self.ref_hr[i]:6.1f}" if np.isfinite(self.ref_hr[i]) else ""
            lines.append(line.rstrip())
        if n < len(self):
            lines.append(f"... {len(self) - n} more windows")
        return "\n".join(lines)


def _num(v) -> float | None:
    v = float(v)
    return round(v, 2) if np.isfinite(v) else None


# ------------------------------------------------------------------ backends

class _Backend:
    """Raw head outputs for float model input (N, C, T): {head name: array}. int8 backends also return the
    quantized input they fed."""
    heads: tuple  # HeadSpec per output, decoded with `decode`
    kind: str

    def run(self, x: np.ndarray, progress=None) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
        raise NotImplementedError

    def decode(self, raw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def logits(self, raw: dict[str, np.ndarray], name: str) -> np.ndarray:
        raise NotImplementedError


class _TFLiteBackend(_Backend):
    kind = "int8-tflite"

    def __init__(self, export_dir: Path, runtime: str):
        from edgeppg.verify.artifacts import TFLITE, verify_artifacts
        from edgeppg.verify.outputs import input_qparams, output_specs

        self.ed = verify_artifacts(export_dir, (TFLITE,))  # sha256 of every artifact before any runtime
        path = self.ed.file(TFLITE)
        if runtime == "litert":
            from edgeppg.int8.litert import LiteRTRunner

            # the reference kernels: the ones export and verify prove within 1 LSB (a rounding tie) of TFLM, the
            # device's kernels; the optimised (XNNPACK) path drifts further, which can flip a near-tie argmax
            self.runner = LiteRTRunner(path, reference=True)
            n_out = self.runner.n_outputs
        else:
            from edgeppg.int8.tflm import TFLMRunner

            arena = int((self.ed.manifest.get("runtime") or {}).get("tflm_arena_bytes") or 0)
            self.runner = TFLMRunner(path.read_bytes(), max(arena, 64 << 10))
            n_out = self.runner.n_outputs
        self.scale, self.zp, self.shape = input_qparams(self.ed.manifest, self.runner.input_details())
        self.specs = output_specs(self.ed.manifest, [self.runner.output_details(i) for i in range(n_out)])
        self.heads = tuple(s.head for s in self.specs)

    def run(self, x, progress=None):
        from edgeppg.int8.fixedpoint import quantize
        from edgeppg.verify.runtimes import nct_to_model

        q = quantize(nct_to_model(x, self.shape), self.scale, self.zp)
        outs: list[list[np.ndarray]] = []
        for i in range(0, len(q), _CHUNK):
            outs.append(self.runner.run(q[i:i + _CHUNK]))
            if progress is not None:
                progress(min(_CHUNK, len(q) - i))
        n_out = max((s.index for s in self.specs), default=-1) + 1
        by_index = [np.concatenate([o[k] for o in outs]) for k in range(n_out)] if outs else []
        return {s.head.name: by_index[s.index].reshape(len(q), -1) for s in self.specs} if outs else {}, q

    def decode(self, raw):
        from edgeppg.int8.fixedpoint import dequantize

        return {s.head.name: s.head.decode(dequantize(raw[s.head.name], s.scale, s.zero_point)) for s in self.specs}

    def logits(self, raw, name):
        from edgeppg.int8.fixedpoint import dequantize

        s = next(s for s in self.specs if s.head.name == name)
        return dequantize(raw[name], s.scale, s.zero_point)


class _TorchBackend(_Backend):
    kind = "fp32-torch"

    def __init__(self, ckpt):
        from edgeppg.train.kd import model_heads

        self.ckpt = ckpt
        self.heads = tuple(model_heads(ckpt.model))

    def run(self, x, progress=None):
        from edgeppg.train.predict import predict

        parts: dict[str, list[np.ndarray]] = {}
        for i in range(0, len(x), _CHUNK):
            for k, v in predict(self.ckpt.model, x[i:i + _CHUNK]).items():
                parts.setdefault(k, []).append(v.reshape(len(v), -1))
            if progress is not None:
                progress(min(_CHUNK, len(x) - i))
        return {k: np.concatenate(v) for k, v in parts.items()}, None

    def decode(self, raw):
        from edgeppg.metrics import decode_outputs

        return decode_outputs(self.heads, raw)

    def logits(self, raw, name):
        return np.asarray(raw[name], np.float64)


# ------------------------------------------------------------------ predictor

@dataclass
class Predictor:
    backend: _Backend
    pre: Preprocessing
    info: dict[str, Any]  # name, kind, runtime, sha256, source path

    @property
    def name(self) -> str:
        return str(self.info.get("name"))

    @property
    def heads(self):
        return self.backend.heads

    def _head(self, kind: str, name: str | None = None):
        return next((h for h in self.heads if h.kind in kind and (name is None or h.name == name)), None)

    def predict_windows(self, x_raw: np.ndarray, start_s: np.ndarray, model_input: np.ndarray | None = None,
                        progress: bool = False, ref_hr: np.ndarray | None = None,
                        recording: dict | None = None) -> WindowPredictions:
        """Raw windows already at the model rate (N, C, T) -> predictions. model_input: their preprocessed
        form (computed with this predictor's preprocessing when not given)."""
        from edgeppg.quality import gate

        x_raw = np.asarray(x_raw, np.float32)
        if x_raw.ndim != 3 or x_raw.shape[-1] != self.pre.samples:
            raise EdgePPGError(f"windows of shape {list(x_raw.shape)} do not fit the model's {self.pre.samples}-sample input")
        x = self.pre.model_input(x_raw) if model_input is None else model_input
        n = len(x)
        bar = None
        if progress and n >= _PROGRESS_MIN:
            from tqdm.auto import tqdm

            bar = tqdm(total=n, desc=f"predict ({self.info.get('runtime')})", unit="win", leave=False,
                       dynamic_ncols=True, disable=None)  # disable=None: no bar when stderr is not a terminal
        try:
            raw, q = self.backend.run(x, bar.update if bar is not None else None) if n else ({}, None)
        finally:
            if bar is not None:
                bar.close()
        decoded = self.backend.decode(raw) if n else {}
        rh = self._head(("classes",), "rhythm") or self._head(("classes",))
        labels = tuple(rh.labels) if rh is not None else ()
        if rh is not None and n:
            rhythm = np.asarray(raw[rh.name]).argmax(axis=1)  # int8 model: argmax of the int8 logits (firmware gate)
            prob = _softmax(self.backend.logits(raw, rh.name))
        else:
            rhythm, prob = np.full(n, -1, np.int64), np.zeros((n, len(labels)))
        noise = labels.index("noise") if "noise" in labels else -1
        g = gate(x_raw, self.pre.fs_hz, rhythm if rh is not None else None, x_model=x, noise_class=noise)
        hr_head = self._head(("regression", "bins"), "hr")
        hr_raw = np.asarray(decoded["hr"], np.float64) if hr_head is not None and n else np.full(n, np.nan)
        rr_head = self._head(("regression", "bins"), "rr")
        rr_raw = np.asarray(decoded["rr"], np.float64) if rr_head is not None and n else (np.full(n, np.nan) if rr_head else None)
        trusted = g.trusted
        hr = np.where(trusted, hr_raw, np.nan)
        rr = np.where(trusted, rr_raw, np.nan) if rr_raw is not None else None
        withheld = np.where(trusted, "", g.reason).astype(object)
        return WindowPredictions(
            start_s=np.asarray(start_s, np.float64), window_s=self.pre.window_s, hr_bpm=hr, hr_raw=hr_raw,
            withheld=withheld.astype(str), rhythm=np.asarray(rhythm, np.int64), rhythm_labels=labels, rhythm_prob=prob,
            sqi=g.sqi, quality=g.quality, rr=rr, rr_raw=rr_raw,
            ref_hr=None if ref_hr is None else np.asarray(ref_hr, np.float64),
            model=dict(self.info), recording=dict(recording or {}), preprocessing=self.pre.to_json(),
            raw_outputs=raw, model_input=x, model_input_q=q)

    def predict_recording(self, x: np.ndarray, fs_hz: float, hop_s: float = 2.0, progress: bool = False,
                          ref_hr: np.ndarray | None = None, recording: dict | None = None) -> WindowPredictions:
        """A raw recording (L,) or (C, L) at fs_hz -> predictions for every full window every hop_s seconds.

        The model input is `Preprocessing.windows_from_recording` (resample, window, [band-pass], z-score); the
        quality gate reads the same windows before filtering/z-scoring."""
        from edgeppg.data.signal import check_fs, make_windows, resample, validate_recording

        fs = check_fs(fs_hz, "recording: sampling")
        if not (np.isfinite(hop_s) and hop_s > 0):
            raise EdgePPGError(f"hop {hop_s} s must be a positive number of seconds")
        x = validate_recording(x, fs, self.pre.window_s, "recording")
        if x.shape[0] != self.channels:
            raise EdgePPGError(f"recording has {x.shape[0]} channels; the model takes {self.channels} "
                               "(select one with --column)")
        start_s, model_in = self.pre.windows_from_recording(x, fs, hop_s)
        y = resample(x, fs, self.pre.fs_hz) if fs != float(self.pre.fs_hz) else x
        x_raw = make_windows(y, self.pre.fs_hz, self.pre.window_s, hop_s)  # the same windows, before filtering
        if len(x_raw) != len(model_in):
            raise EdgePPGError("internal: quality windows and model windows disagree")  # pragma: no cover
        if len(model_in) == 0:
            raise EdgePPGError(f"recording: gives no full {self.pre.window_s:g} s window at {self.pre.fs_hz:g} Hz; "
                               "use a longer recording or check --fs")
        rec = {"fs_hz": fs, "seconds": round(x.shape[-1] / fs, 3), "hop_s": float(hop_s), **(recording or {})}
        return self.predict_windows(x_raw, start_s, model_in, progress, ref_hr=ref_hr, recording=rec)

    @property
    def channels(self) -> int:
        if isinstance(self.backend, _TFLiteBackend):
            spec = self.backend.ed.manifest.get("input", {})
            return int(spec.get("channels", 1))
        return int(self.info.get("channels", 1))

    def predict_file(self, path: str | Path, fmt: str | None = None, fs_hz: float | None = None,
                     column: int | str | None = None, hop_s: float = 2.0, progress: bool = False) -> WindowPredictions:
        """Any recording `edgeppg data import` reads (same one-line errors) -> predictions."""
        from edgeppg.data.readers import RawRecording, read_signal
        from edgeppg.data.windows import Windows

        rec = read_signal(path, fmt=fmt, fs_hz=fs_hz, min_seconds=self.pre.window_s, column=column)
        info = {"path": str(path), **{k: v for k, v in (rec.meta or {}).items() if k in ("source", "column", "channel", "key", "subject")}}
        if isinstance(rec, Windows):
            return self._predict_windows_file(rec, info, progress)
        assert isinstance(rec, RawRecording)
        ref = _reference_hr(rec, self.pre.window_s, hop_s, rec.fs_hz)
        wp = self.predict_recording(rec.x, rec.fs_hz, hop_s, progress, recording=info)
        if ref is not None:
            m = min(len(ref), len(wp))
            wp.ref_hr = np.full(len(wp), np.nan)
            wp.ref_hr[:m] = ref[:m]
        return wp

    def _predict_windows_file(self, w, info: dict, progress: bool) -> WindowPredictions:
        """An edgeppg windows .npz (no continuous signal): its raw windows, resampled per window, preprocessed."""
        from edgeppg.data.signal import resample
        from edgeppg.preprocess import apply

        if round(w.x.shape[-1] / w.fs_hz, 6) != round(self.pre.window_s, 6):
            raise EdgePPGError(f"windows file holds {w.x.shape[-1] / w.fs_hz:g} s windows; the model takes "
                               f"{self.pre.window_s:g} s (import the recording with --window-s {self.pre.window_s:g})")
        model_in = apply(w, self.pre).x  # refuses already-normalised windows with one line
        x_raw = resample(w.x, w.fs_hz, self.pre.fs_hz)
        hop = float(w.meta.get("hop_s") or self.pre.window_s)
        ref = np.where(w.hr_valid, w.hr_bpm, np.nan).astype(np.float64)
        info = dict(info, fs_hz=float(w.fs_hz), windows_file=True, hop_s=hop)
        return self.predict_windows(x_raw, np.arange(len(w)) * hop, model_in, progress, ref_hr=ref, recording=info)


def _reference_hr(rec, window_s: float, hop_s: float, fs: float) -> np.ndarray | None:
    """The recording's own HR per predict window: dataset labels on their grid, or HR from annotated beats."""
    from edgeppg.data.readers import HR_PLAUSIBLE
    from edgeppg.data.signal import hr_from_beats, window_starts

    starts = window_starts(rec.x.shape[-1], fs, window_s, hop_s)
    if rec.hr_labels is not None and rec.label_grid is not None:
        if tuple(rec.label_grid) != (float(window_s), float(hop_s)):
            return None  # labels belong to another window grid
        ref = np.asarray(rec.hr_labels, np.float64)[:len(starts)]
    elif rec.beats is not None:
        b = np.sort(np.asarray(rec.beats, np.int64))
        t = int(round(window_s * fs))
        ref = np.array([hr_from_beats(b[(b >= s) & (b < s + t)] - s, fs) for s in starts], np.float64)
    else:
        return None
    return np.where((ref >= HR_PLAUSIBLE[0]) & (ref <= HR_PLAUSIBLE[1]), ref, np.nan)


def load_predictor(path: str | Path, runtime: str = "litert", pre: Preprocessing | None = None) -> Predictor:
    """An export folder (manifest + student_int8.tflite; sha256s checked) run by LiteRT or TFLM, or a
    .safetensors checkpoint (fp32 torch, teacher or student; weights checked against the sidecar).

    pre: checkpoints only, the preprocessing to use when the sidecar does not say (a training-internal
    checkpoint, e.g. distill's per-run best.safetensors); a sidecar that names one always wins."""
    if runtime not in RUNTIMES:
        raise EdgePPGError(f"unknown runtime {runtime!r}; valid: {', '.join(RUNTIMES)}")
    path = Path(path)
    if path.is_dir():
        be = _TFLiteBackend(path, runtime)
        m = be.ed.manifest
        pre = from_input_spec(m.get("input"))
        if pre.samples != _shape_samples(be.shape):
            raise EdgePPGError(f"manifest preprocessing makes {pre.samples}-sample windows but the model takes "
                               f"{be.shape}; re-run `edgeppg export`")
        info = {"name": (m.get("model") or {}).get("name", path.name), "kind": be.kind, "runtime": runtime,
                "path": str(path), "manifest_sha256": be.ed.manifest_sha256,
                "source_checkpoint_sha256": (m.get("model") or {}).get("source_checkpoint_sha256"),
                "channels": int((m.get("input") or {}).get("channels", 1))}
        return Predictor(be, pre, info)
    if path.suffix == ".safetensors" or path.with_suffix(".json").is_file() and path.suffix != ".json":
        from edgeppg.train.checkpoint import load_checkpoint

        ck = load_checkpoint(path)
        spec = ck.meta.get("input") or {}
        if not spec and pre is None:
            raise EdgePPGError(f"{path}: its sidecar has no input spec (a training-internal checkpoint), so the "
                               "preprocessing it was trained with is unknown; pass the stage's own checkpoint "
                               "(teacher/teacher.safetensors, distill/student.safetensors) or an export folder")
        if spec.get("modality") not in (None, "ppg"):
            raise EdgePPGError(f"{path} is a {spec.get('modality')} model (input modality); predict runs PPG models "
                               "(a fine-tuned teacher or a student)")
        pre = from_input_spec(spec) if spec or pre is None else pre
        cfg = ck.meta.get("model_config") or {}
        samples = int(cfg.get("samples", pre.samples))
        if samples != pre.samples:
            raise EdgePPGError(f"{path}: preprocessing makes {pre.samples}-sample windows but the model takes {samples}")
        info = {"name": path.stem, "kind": "fp32-torch", "runtime": "torch", "path": str(path), "arch": ck.arch,
                "weights_sha256": ck.sha256, "channels": int(spec.get("channels", cfg.get("in_channels", 1)))}
        return Predictor(_TorchBackend(ck), pre, info)
    if not path.exists():
        raise EdgePPGError(f"model {path} not found; pass an export folder (edgeppg export) or a .safetensors checkpoint")
    raise EdgePPGError(f"{path} is neither an export folder nor a .safetensors checkpoint; pass one of those")


def _shape_samples(shape: Iterable[int]) -> int:
    s = [int(v) for v in shape][1:]
    return max(s) if s else 0


# ------------------------------------------------------------------ files

OUT_SUFFIXES = (".csv", ".json")


def check_output_path(out: str | Path | None) -> Path | None:
    """Refuse an unusable --out before any work (so a bad one never costs a run or leaves a partial file)."""
    import os

    if out is None:
        return None
    out = Path(out)
    if out.suffix.lower() not in OUT_SUFFIXES:
        raise EdgePPGError(f"--out {out} must end in .csv or .json")
    if out.is_dir():
        raise EdgePPGError(f"--out {out} is a directory; pass a file name ending in .csv or .json")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise EdgePPGError(f"--out folder {parent} does not exist; create it first")
    if not os.access(parent, os.W_OK | os.X_OK) or (out.exists() and not os.access(out, os.W_OK)):
        raise EdgePPGError(f"--out {out} is not writable; choose another path")
    return out


def write_predictions(wp: WindowPredictions, out: str | Path) -> Path:
    """CSV (one row per window) or JSON (rows + model, recording, preprocessing, summary), written atomically."""
    from edgeppg.io import atomic_write_json, atomic_write_text

    out = Path(out)
    if out.suffix.lower() == ".json":
        return atomic_write_json(out, wp.to_json())
    return atomic_write_text(out, wp.to_csv())


def predict_path(model: str | Path, recording: str | Path, *, fmt: str | None = None, fs_hz: float | None = None,
                 column: int | str | None = None, hop_s: float = 2.0, runtime: str = "litert",
                 out: str | Path | None = None, progress: bool = False) -> WindowPredictions:
    """`edgeppg predict` in one call: check --out, load the model, read + predict the recording, write --out.
    Any bad input stops with one EdgePPGError line before anything is written."""
    out = check_output_path(out)
    if not (isinstance(hop_s, (int, float)) and np.isfinite(hop_s) and hop_s > 0):
        raise EdgePPGError(f"--hop-s {hop_s} must be a positive number of seconds")
    p = load_predictor(model, runtime)
    wp = p.predict_file(recording, fmt=fmt, fs_hz=fs_hz, column=column, hop_s=hop_s, progress=progress)
    if out is not None:
        write_predictions(wp, out)
    return wp
