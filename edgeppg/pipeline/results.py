"""The typed result of each pipeline stage, read from the file that stage wrote (`from_json`) and written back
into summary.json (`to_json`). The summary and the report read stage outputs only through these classes, never
by ad-hoc keys: a renamed key then fails here, in one place, instead of printing `None` in a report cell
(docs/design.md §8).

    data     RUN/data/corpus.json           DataResult
    teacher  RUN/teacher/metrics.json       TeacherResult
    distill  RUN/distill/metrics.json       DistillResult
    export   RUN/export/parity.json + manifest.json   ExportResult
    real     RUN/real/real.json             RealResult
    bench    RUN/bench/**/bench.json        BenchResult (one per firmware target)
    verify   RUN/verify/verify.json         VerifyResult (targets: edgeppg.verify.targets.TargetFigures)
    check    RUN/check/check.json           edgeppg.verify.budget.CheckResult
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeppg.verify.budget import CheckResult
from edgeppg.verify.targets import TFLM_FLASH_SOURCE, TFLM_RAM_SOURCE, TargetFigures


REAL_STUDENT, REAL_TEACHER = "student-int8", "teacher-fp32"  # the real stage's model labels


def read_json(path: Path) -> dict | None:
    """A stage's JSON, or None when the stage did not run (or left no readable file)."""
    try:
        doc = json.loads(Path(path).read_text()) if Path(path).is_file() else None
    except (ValueError, UnicodeDecodeError, OSError):
        return None
    return doc if isinstance(doc, dict) else None


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v else None


def _int(v: Any) -> int | None:
    return int(v) if isinstance(v, int) and not isinstance(v, bool) else None


@dataclass(frozen=True)
class Scores:
    """One model's accuracy on one test set (None: the model has no such head or the set no such label)."""
    rhythm_macro_f1: float | None = None
    hr_mae_bpm: float | None = None
    rr_mae_bpm: float | None = None

    @classmethod
    def from_json(cls, d: Any) -> "Scores":
        d = d if isinstance(d, dict) else {}
        return cls(_num(d.get("rhythm_macro_f1")), _num(d.get("hr_mae_bpm")), _num(d.get("rr_mae_bpm")))

    def to_json(self) -> dict:
        return {"rhythm_macro_f1": self.rhythm_macro_f1, "hr_mae_bpm": self.hr_mae_bpm, "rr_mae_bpm": self.rr_mae_bpm}

    def present(self) -> dict:
        return {k: v for k, v in self.to_json().items() if v is not None}


@dataclass(frozen=True)
class DataResult:
    windows: int
    pairs_per_s: float | None
    class_counts: dict[str, int]
    seed: int | None

    @classmethod
    def from_json(cls, corpus: dict) -> "DataResult":
        ppg = corpus.get("ppg") or {}
        counts = ppg.get("class_counts") or {}
        return cls(int(ppg.get("windows") or (corpus.get("config") or {}).get("n") or 0), _num(corpus.get("pairs_per_s")),
                   {str(k): int(v) for k, v in counts.items()}, _int((corpus.get("config") or {}).get("seed")))

    def to_json(self) -> dict:
        return {"windows": self.windows, "pairs_per_s": self.pairs_per_s, "class_counts": self.class_counts,
                "seed": self.seed}


@dataclass(frozen=True)
class TeacherResult:
    test: Scores
    n_test: int | None

    @classmethod
    def from_json(cls, m: dict) -> "TeacherResult":
        return cls(Scores.from_json(m.get("test", m)), _int(m.get("n_test")))

    def to_json(self) -> dict:
        return {**self.test.to_json(), "n_test": self.n_test}


@dataclass(frozen=True)
class DistillResult:
    teacher: Scores
    student: Scores
    student_no_kd: Scores
    teacher_params: int | None
    student_params: int | None
    student_macs: int | None
    test_windows: int | None
    test_ids_sha256: str | None  # which windows: compared with the export's held-out set in the report

    @classmethod
    def from_json(cls, m: dict) -> "DistillResult":
        data = m.get("data") or {}
        return cls(Scores.from_json(m.get("teacher")), Scores.from_json(m.get("student")),
                   Scores.from_json(m.get("student_no_kd")), _int(m.get("teacher_params")), _int(m.get("student_params")),
                   _int(m.get("student_macs")), _int(m.get("test_windows") or data.get("n_test")),
                   data.get("test_window_ids_sha256"))

    def to_json(self) -> dict:
        return {"teacher": self.teacher.to_json(), "student": self.student.to_json(),
                "student_no_kd": self.student_no_kd.to_json(), "teacher_params": self.teacher_params,
                "student_params": self.student_params, "student_macs": self.student_macs,
                "test_windows": self.test_windows, "test_ids_sha256": self.test_ids_sha256}


@dataclass(frozen=True)
class ExportResult:
    torch_fp32: Scores
    onnx_int8: Scores
    int8_tflite: Scores
    tflite_bytes: int | None
    onnx_fp32_max_abs_diff: float | None
    tflm_vs_litert_ref_max_lsb: int | None
    tflite_ops: tuple[str, ...]
    heldout_windows: int | None
    heldout_ids_sha256: str | None
    model: dict = field(default_factory=dict)  # manifest["model"]: name, params, macs, student spec

    @classmethod
    def from_json(cls, parity: dict, manifest: dict) -> "ExportResult":
        held = manifest.get("heldout") or {}
        return cls(Scores.from_json(parity.get("torch_fp32")), Scores.from_json(parity.get("onnx_int8")),
                   Scores.from_json(parity.get("int8_tflite")), _int(parity.get("tflite_bytes")),
                   _num(parity.get("onnx_fp32_max_abs_diff")), _int(parity.get("tflm_vs_litert_ref_max_lsb")),
                   tuple(str(o) for o in parity.get("tflite_ops") or ()),
                   _int(parity.get("heldout_windows") or held.get("windows")), held.get("ids_sha256"),
                   dict(manifest.get("model") or {}))

    @classmethod
    def load(cls, export_dir: Path) -> "ExportResult | None":
        parity = read_json(Path(export_dir) / "parity.json")
        return None if parity is None else cls.from_json(parity, read_json(Path(export_dir) / "manifest.json") or {})

    def to_json(self) -> dict:
        return {"torch_fp32": self.torch_fp32.to_json(), "onnx_int8": self.onnx_int8.to_json(),
                "int8_tflite": self.int8_tflite.to_json(), "tflite_bytes": self.tflite_bytes,
                "onnx_fp32_max_abs_diff": self.onnx_fp32_max_abs_diff,
                "tflm_vs_litert_ref_max_lsb": self.tflm_vs_litert_ref_max_lsb, "tflite_ops": list(self.tflite_ops),
                "heldout_windows": self.heldout_windows, "heldout_ids_sha256": self.heldout_ids_sha256}


@dataclass(frozen=True)
class HostLatency:
    runtime: str
    median_us: float | None  # None: the runtime was not exported (no ONNX file)
    p90_us: float | None


@dataclass(frozen=True)
class FirmwareImage:
    """verify.json["firmware_image"]: the edgeppg C library's image for one board, flash/RAM read from its ELF."""
    measured: bool
    board: str | None
    flash_bytes: int | None
    ram_bytes: int | None
    reason: str  # why it was not measured ("" when measured)

    @classmethod
    def from_json(cls, d: dict) -> "FirmwareImage":
        return cls(bool(d.get("measured")), d.get("board"), _int(d.get("flash_bytes")), _int(d.get("ram_bytes")),
                   str(d.get("reason") or ""))

    def to_json(self) -> dict:
        return {"measured": self.measured, "board": self.board, "flash_bytes": self.flash_bytes,
                "ram_bytes": self.ram_bytes, "reason": self.reason}


@dataclass(frozen=True)
class TflmEstimate:
    """verify.json["tflm_estimate"]: the TFLM path, kept as the labelled second option beside the C library."""
    flash_bytes: int
    ram_bytes: int
    flash_source: str = TFLM_FLASH_SOURCE
    ram_source: str = TFLM_RAM_SOURCE

    @classmethod
    def from_json(cls, d: dict) -> "TflmEstimate":
        return cls(int(d["flash_bytes"]), int(d["ram_bytes"]), str(d.get("flash_source") or TFLM_FLASH_SOURCE),
                   str(d.get("ram_source") or TFLM_RAM_SOURCE))

    def to_json(self) -> dict:
        return {"flash_bytes": self.flash_bytes, "ram_bytes": self.ram_bytes, "flash_source": self.flash_source,
                "ram_source": self.ram_source}


@dataclass(frozen=True)
class VerifyResult:
    arena_bytes: int
    flash_bytes: int  # primary: the C library ELF where it was built (flash_source says), else the TFLM estimate
    ram_bytes: int
    model_bytes: int
    macs: int
    host_latency: tuple[HostLatency, ...]
    targets: tuple[TargetFigures, ...]
    metrics: Scores
    n_windows: int | None
    bench_path: str | None
    bench_ignored: str | None
    plots: dict[str, str]
    firmware_image: FirmwareImage | None = None  # None: verify.json from before the C library existed
    # a verify.json from before the C library image became primary has no sources: its figures were the TFLM estimate
    flash_source: str = TFLM_FLASH_SOURCE
    ram_source: str = TFLM_RAM_SOURCE
    tflm_estimate: TflmEstimate | None = None  # from_json fills it from the old primary figures when absent

    @property
    def memory_measured(self) -> bool:
        return self.flash_source.startswith("measured") and self.ram_source.startswith("measured")

    @classmethod
    def from_json(cls, v: dict) -> "VerifyResult":
        lat = tuple(HostLatency(k, _num((x or {}).get("median")), _num((x or {}).get("p90")))
                    for k, x in (v.get("host_latency_us") or {}).items())
        bench = v.get("bench") if isinstance(v.get("bench"), dict) else {}
        model = v.get("model") or {}
        return cls(int(v["arena_bytes"]), int(v["flash_bytes"]), int(v["ram_bytes"]), int(model.get("model_bytes") or 0),
                   int(model.get("macs") or 0), lat,
                   tuple(TargetFigures.from_json(n, t) for n, t in (v.get("targets") or {}).items()),
                   Scores.from_json(v.get("metrics")), _int((v.get("metrics") or {}).get("n_windows")),
                   bench.get("path"), bench.get("ignored"), dict(v.get("plots") or {}),
                   FirmwareImage.from_json(v["firmware_image"]) if isinstance(v.get("firmware_image"), dict) else None,
                   str(v.get("flash_source") or TFLM_FLASH_SOURCE), str(v.get("ram_source") or TFLM_RAM_SOURCE),
                   TflmEstimate.from_json(v["tflm_estimate"]) if isinstance(v.get("tflm_estimate"), dict)
                   else TflmEstimate(int(v["flash_bytes"]), int(v["ram_bytes"])))

    def to_json(self) -> dict:
        return {"arena_bytes": self.arena_bytes, "flash_bytes": self.flash_bytes, "ram_bytes": self.ram_bytes,
                "model_bytes": self.model_bytes, "macs": self.macs,
                "host_latency_us": {h.runtime: None if h.median_us is None else {"median": h.median_us, "p90": h.p90_us}
                                    for h in self.host_latency},
                "targets": {t.name: t.to_json() for t in self.targets}, "metrics": self.metrics.to_json(),
                "n_windows": self.n_windows, "bench": {"path": self.bench_path, "ignored": self.bench_ignored},
                "firmware_image": self.firmware_image.to_json() if self.firmware_image else None,
                "flash_source": self.flash_source, "ram_source": self.ram_source,
                "tflm_estimate": self.tflm_estimate.to_json() if self.tflm_estimate else None}


@dataclass(frozen=True)
class LayerFigures:
    name: str
    kind: str
    macs: int
    out_bytes: int | None
    instructions: int | None  # QEMU targets only
    host_ns: int | None  # host target only: wall time of this layer in one inference

    @property
    def instructions_per_mac(self) -> float | None:
        return self.instructions / self.macs if self.instructions is not None and self.macs else None


@dataclass(frozen=True)
class BenchResult:
    target: str
    windows: int
    bitexact_vs_tflm: bool
    instructions_per_inference: int | None
    instructions_per_mac: float | None
    flash_bytes: int | None
    ram_bytes: int | None
    host_ns_per_inference: int | None
    layers: tuple[LayerFigures, ...]

    @classmethod
    def from_json(cls, b: dict) -> "BenchResult":
        details = b.get("details") or {}
        kinds = {layer.get("name"): layer for layer in ((details.get("model") or {}).get("layers") or [])}
        host = b.get("target") == "host"
        layers = tuple(LayerFigures(str(pl["name"]), str((kinds.get(pl["name"]) or {}).get("kind", "?")), int(pl.get("macs") or 0),
                                    _int((kinds.get(pl["name"]) or {}).get("out_bytes")), _int(pl.get("instructions")),
                                    _int(pl.get("ticks")) if host else None)
                       for pl in details.get("per_layer") or [])
        return cls(str(b["target"]), int(b.get("windows") or 0), bool(b.get("bitexact_vs_tflm")),
                   _int(b.get("instructions_per_inference")), _num(b.get("instructions_per_mac")),
                   _int(b.get("flash_bytes")), _int(b.get("ram_bytes")),
                   _int((details.get("host") or {}).get("ns_median_of_3")), layers)

    def to_json(self) -> dict:
        return {"target": self.target, "windows": self.windows, "bitexact_vs_tflm": self.bitexact_vs_tflm,
                "instructions_per_inference": self.instructions_per_inference,
                "instructions_per_mac": self.instructions_per_mac, "flash_bytes": self.flash_bytes,
                "ram_bytes": self.ram_bytes, "host_ns_per_inference": self.host_ns_per_inference,
                "layers": [layer.__dict__ for layer in self.layers]}


_REAL_ROW_KEYS = ("estimator", "source", "group", "derived_from", "n", "n_ref", "n_covered", "coverage", "hr_mae_bpm",
                  "within_5bpm", "bias_bpm", "hr_mae_ungated_bpm", "classes")
_REAL_SOURCE_KEYS = ("name", "group", "n_windows", "n_ref", "license", "status", "derived_from")


@dataclass(frozen=True)
class RealModel:
    label: str
    kind: str | None
    manifest_sha256: str | None
    weights_sha256: str | None
    overall: dict  # pooled over the original recordings: hr_mae_bpm, coverage, within_5bpm, ...
    overall_derived: dict | None


@dataclass(frozen=True)
class RealResult:
    status: str
    note: str
    options: dict
    models: tuple[RealModel, ...]
    rows: tuple[dict, ...]  # one per (estimator, source): _REAL_ROW_KEYS
    sources: tuple[dict, ...]  # _REAL_SOURCE_KEYS

    @classmethod
    def from_json(cls, r: dict) -> "RealResult":
        models = tuple(RealModel(str(m["label"]), m.get("kind"), m.get("manifest_sha256"), m.get("weights_sha256"),
                                 dict(m.get("overall") or {}), m.get("overall_derived")) for m in r.get("models") or [])
        return cls(str(r.get("status")), str(r.get("note") or ""), dict(r.get("options") or {}), models,
                   tuple({k: x.get(k) for k in _REAL_ROW_KEYS} for x in r.get("rows") or []),
                   tuple({k: s.get(k) for k in _REAL_SOURCE_KEYS} for s in r.get("sources") or []))

    def model(self, label: str) -> RealModel | None:
        return next((m for m in self.models if m.label == label), None)

    def to_json(self) -> dict:
        return {"status": self.status, "options": self.options,
                "models": {m.label: {"kind": m.kind, "manifest_sha256": m.manifest_sha256,
                                     "weights_sha256": m.weights_sha256, "overall": m.overall,
                                     "overall_derived": m.overall_derived} for m in self.models},
                "rows": list(self.rows), "sources": [{k: s.get(k) for k in _REAL_SOURCE_KEYS if k != "derived_from"}
                                                     for s in self.sources]}


@dataclass(frozen=True)
class RunResults:
    """Every stage's typed result for one run folder (None: the stage did not run or left no file)."""
    data: DataResult | None
    teacher: TeacherResult | None
    distill: DistillResult | None
    export: ExportResult | None
    real: RealResult | None
    benches: dict[str, BenchResult]
    verify: VerifyResult | None
    check: CheckResult | None

    @classmethod
    def load(cls, run_dir: Path) -> "RunResults":
        run_dir = Path(run_dir)
        doc = {name: read_json(run_dir / rel) for name, rel in (
            ("data", "data/corpus.json"), ("teacher", "teacher/metrics.json"), ("distill", "distill/metrics.json"),
            ("real", "real/real.json"), ("verify", "verify/verify.json"), ("check", "check/check.json"))}
        benches = {}
        for p in sorted((run_dir / "bench").rglob("bench.json")):
            b = read_json(p)
            if b is not None:
                res = BenchResult.from_json(b)
                benches[res.target] = res
        return cls(DataResult.from_json(doc["data"]) if doc["data"] else None,
                   TeacherResult.from_json(doc["teacher"]) if doc["teacher"] else None,
                   DistillResult.from_json(doc["distill"]) if doc["distill"] else None,
                   ExportResult.load(run_dir / "export"),
                   RealResult.from_json(doc["real"]) if doc["real"] else None, benches,
                   VerifyResult.from_json(doc["verify"]) if doc["verify"] else None,
                   CheckResult.from_json(doc["check"]) if doc["check"] else None)
