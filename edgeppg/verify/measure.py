"""`edgeppg verify`: integrity first, then every figure CI gates on, measured from the export folder alone."""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from edgeppg.data.windows import load_windows
from edgeppg.errors import EdgePPGError
from edgeppg.io import atomic_write_json, atomic_write_text, sha256_file
from edgeppg.metrics import confusion, task_metrics
from edgeppg.verify import plots
from edgeppg.verify.artifacts import HELDOUT, ONNX_INT8, PARITY, TFLITE, ExportDir, verify_artifacts
from edgeppg.int8.flatbuffer import graph_info as read_graph
from edgeppg.verify.outputs import decode, input_qparams, output_specs
from edgeppg.verify.report import render_markdown
from edgeppg.int8.fixedpoint import quantize
from edgeppg.int8.litert import LiteRTRunner
from edgeppg.int8.tflm import TFLMRunner, find_min_arena
from edgeppg.verify.runtimes import OrtRunner, nct_to_model, time_calls
from edgeppg.verify.targets import (TFLM_RAM_OVERHEAD, find_bench, flash_estimate, load_bench, memory_figures,
                                    target_estimates)

# /2: flash_bytes/ram_bytes are the C library ELF's where it was built (flash_source/ram_source say which), the TFLM
# figures moved to tflm_estimate; a /1 verify.json is not fresh, so `check` re-measures rather than gate on it
VERIFY_SCHEMA = "edgeppg.verify/2"
VERIFY_JSON = "verify.json"
DEFAULT_SUBDIR = "verify"  # verify's own run folder inside the export folder (not a manifest artifact)


@dataclass(frozen=True)
class VerifyConfig:
    latency_runs: int = 200
    latency_warmup: int = 20
    max_windows: int | None = None  # evaluate only the first N held-out windows (None = all)
    plots: bool = True
    # explicit inputs besides the export folder (None: only that folder's own bench.json / distill_metrics.json)
    distill_metrics: str | None = None  # distill metrics.json for the size/accuracy chart
    bench_json: str | None = None  # firmware-harness bench.json whose instruction count replaces the latency estimate

    def __post_init__(self):
        if self.latency_runs < 1 or self.latency_warmup < 0:
            raise EdgePPGError(f"latency runs must be >= 1 and warm-up >= 0, got {self.latency_runs}/{self.latency_warmup}")
        if self.max_windows is not None and self.max_windows < 1:
            raise EdgePPGError(f"max_windows must be >= 1 or unset, got {self.max_windows}")


def default_out_dir(export_dir: str | Path) -> Path:
    return Path(export_dir) / DEFAULT_SUBDIR


def freshness_key(ed: ExportDir, cfg: VerifyConfig, bench: Path | None = None) -> dict[str, Any]:
    """What verify.json's figures depend on: the manifest's and every artifact's sha256, bench.json, options."""
    return {"schema": VERIFY_SCHEMA, **ed.binding(),
            "bench_sha256": sha256_file(bench) if bench else None, "max_windows": cfg.max_windows}


def load_fresh(ed: ExportDir, path: Path, cfg: VerifyConfig = VerifyConfig()) -> dict | None:
    """A stored verify.json only if THIS machine's edgeppg wrote it (seal) for exactly these files; else None
    (the caller re-measures). An edited figure, a hand-written file or one from another export never passes.
    Without cfg.bench_json, the bench.json the stored result names still counts if its bytes are unchanged."""
    from edgeppg.schema import read_json_file
    from edgeppg.seal import is_sealed

    if not path.is_file():
        return None
    try:
        data = read_json_file(path, "verify result", "")
    except EdgePPGError:
        return None
    if not is_sealed(data):
        return None
    stored = (data.get("bench") or {}).get("path") if isinstance(data.get("bench"), dict) else None
    bench = find_bench(ed.path, cfg.bench_json) if cfg.bench_json or not stored else Path(stored)
    bench = bench if bench is not None and bench.is_file() else None
    return data if data.get("inputs") == freshness_key(ed, cfg, bench) else None


def verify_export(export_dir: str | Path, out_dir: str | Path | None = None, cfg: VerifyConfig = VerifyConfig(),
                  log: Callable[[str], None] = lambda s: None) -> dict[str, Any]:
    """Check sha256s, then measure on the host and write verify.json + verify.md (+ PNG plots) into out_dir."""
    t0 = time.perf_counter()
    from edgeppg.outdir import check_writable

    out_given = Path(out_dir) if out_dir is not None else None
    if out_given is not None:
        check_writable(out_given, "--out")  # before any measuring
    ed = verify_artifacts(export_dir)  # before anything else touches the files
    out = out_given if out_given is not None else default_out_dir(ed.path)
    check_writable(out, "verify output folder")
    log(f"artifacts match manifest ({len(ed.manifest['artifacts'])} files)")
    model = ed.file(TFLITE).read_bytes()
    graph = read_graph(ed.file(TFLITE))
    w = _heldout(ed, cfg)
    run = _run_tflm(ed, model, w, log)
    arena, q, decoded, specs, metrics = run.arena, run.q, run.decoded, run.specs, run.metrics
    max_lsb, differ = _vs_litert_reference(ed, q, run.outputs, log)
    latency = _host_latency(ed, q[:1], w.x[:1], run.tflm, cfg)
    flash = flash_estimate(len(model), graph.ops)
    ram_bytes = arena.arena_bytes + TFLM_RAM_OVERHEAD
    macs_manifest = int(ed.manifest.get("model", {}).get("macs") or 0)
    bench_path = find_bench(ed.path, cfg.bench_json)
    bench = load_bench(bench_path, macs_manifest or graph.macs, ed) if bench_path else None
    if bench is not None and bench.get("ignored"):
        log(f"ignoring {bench_path}: {bench['ignored']}")
    out.mkdir(parents=True, exist_ok=True)
    from edgeppg.firmware.library import measure_firmware_image

    # the shipped C library as linked for nRF52840: its flash/RAM, read from that ELF, are the primary figures;
    # the TFLM path (docs/design.md §7) stays as the labelled second option with its estimate
    image = measure_firmware_image(ed.path, out / "firmware-nrf52840")
    memory = memory_figures(flash["flash_bytes"], ram_bytes, image)
    log(f"flash {memory['flash_bytes']} B ({memory['flash_source']}), RAM {memory['ram_bytes']} B "
        f"({memory['ram_source']})")
    targets = target_estimates(graph.macs, flash["flash_bytes"], ram_bytes, bench, memory)
    parity = _read_json(ed.file(PARITY)) if ed.has(PARITY) else None
    distill = _find_distill_metrics(ed, cfg)

    result: dict[str, Any] = {
        "schema": VERIFY_SCHEMA,
        "inputs": freshness_key(ed, cfg, bench_path),
        "export_dir": str(ed.path.resolve()),
        "model": {"name": ed.manifest["model"].get("name"), "params": ed.manifest["model"].get("params"),
                  "macs": graph.macs, "macs_manifest": macs_manifest or None, "model_bytes": len(model),
                  "tflite_ops": graph.ops, "weight_bytes": graph.weight_bytes},
        "arena_bytes": arena.arena_bytes,
        "arena": {"allocation_total_bytes": arena.allocation_total_bytes, "minus_1_fails": arena.minus_1_fails,
                  "minus_16_fails": arena.minus_16_fails, "search_trials": arena.trials,
                  "crashed_trials": arena.crashed_trials,
                  "allocation_report": list(arena.allocation_report),
                  "note": "smallest arena in which TFLM allocates and runs the model (bisection, each trial in an isolated "
                          "process); every held-out window was run in exactly this arena; declare it 16-byte aligned "
                          "on the device"},
        # primary: the C library image's ELF where it was built, else the TFLM estimate (the source says which)
        "flash_bytes": memory["flash_bytes"],
        "flash_source": memory["flash_source"],
        "ram_bytes": memory["ram_bytes"],
        "ram_source": memory["ram_source"],
        "tflm_estimate": memory["tflm_estimate"],  # the TFLM path, second option: its figures and how they are made
        "flash": flash,
        "ram": {"arena_bytes": arena.arena_bytes, "runtime_overhead_bytes_est": TFLM_RAM_OVERHEAD,
                "note": "measured arena + estimated runtime RAM (interpreter, op resolver, kernel stack)"},
        "host_latency_us": {k: (v.to_json() if v else None) for k, v in latency.items()},
        "host": {"machine": platform.machine(), "processor": platform.processor() or platform.machine(),
                 "cpus": os.cpu_count(), "threads": 1,
                 "note": "single-threaded, one window per call; shared CI hosts make these noisy"},
        "targets": targets,
        "bench": ({k: bench[k] for k in ("path", "sha256", "entries", "ignored") if k in bench} if bench else None),
        "metrics": metrics,
        "tflm_vs_litert_ref_max_lsb": max_lsb,
        "tflm_vs_litert_ref": {"max_lsb": max_lsb, "windows_differing": int(differ.sum()), "windows": len(q),
                               # export traces each differing window; ties it proved are recorded in parity.json
                               "explained_as_rounding_tie_by_export": ((parity or {}).get("tflm_vs_litert_ref_mismatch")
                                                                       or {}).get("explained_as_rounding_tie")},
        "parity": parity,
        "degradation": _degradation(parity),
        "distill_metrics": distill,
    }
    result["firmware_image"] = image
    result["plots"] = _plots(out, w, decoded, specs, result, cfg) if cfg.plots else {}
    result["seconds"] = round(time.perf_counter() - t0, 2)
    from edgeppg.seal import seal

    result = seal(result)  # check reuses it only while this seal and its inputs binding hold
    atomic_write_json(out / VERIFY_JSON, result)
    atomic_write_text(out / "verify.md", render_markdown(result))
    result["out_dir"] = str(out)
    return result


def _heldout(ed: ExportDir, cfg: VerifyConfig):
    """The export's held-out windows (first cfg.max_windows), refused when empty or not finite."""
    w = load_windows(ed.file(HELDOUT))
    if cfg.max_windows is not None:
        w = w.subset(np.arange(min(cfg.max_windows, len(w))))
    if len(w) == 0:
        raise EdgePPGError(f"{ed.file(HELDOUT)} holds no windows; re-run `edgeppg export` with a non-empty test split")
    if not np.isfinite(w.x).all():
        raise EdgePPGError(f"{ed.file(HELDOUT)} holds NaN/Inf samples in {int((~np.isfinite(w.x)).any(axis=(1, 2)).sum())} "
                           f"windows; held-out windows must be finite ({_REEXPORT})")
    if not ed.manifest.get("outputs"):
        raise EdgePPGError(f"{ed.file('manifest.json')} lists no outputs, so nothing can be decoded; {_REEXPORT}")
    return w


@dataclass
class _TflmRun:
    q: np.ndarray  # the int8 model inputs
    arena: Any  # find_min_arena's result
    tflm: TFLMRunner
    specs: list
    outputs: list[np.ndarray]
    decoded: dict
    metrics: dict


def _run_tflm(ed: ExportDir, model: bytes, w, log: Callable[[str], None]) -> _TflmRun:
    """Smallest arena first, then every held-out window run IN that arena (it must suffice for all)."""
    probe = TFLMRunner(model, max(64 << 10, 16 * len(model)))
    in_scale, in_zp, in_shape = input_qparams(ed.manifest, probe.input_details())
    q = quantize(nct_to_model(w.x, in_shape), in_scale, in_zp)
    arena = find_min_arena(model, q[:1])
    log(f"TFLM arena: {arena.arena_bytes} bytes (allocation total {arena.allocation_total_bytes}, {arena.trials} trials)")
    tflm = TFLMRunner(model, arena.arena_bytes)
    specs = output_specs(ed.manifest, [tflm.output_details(i) for i in range(tflm.n_outputs)])
    outputs = tflm.run(q)
    decoded = decode(specs, outputs)
    metrics = task_metrics(decoded, w)
    metrics["n_windows"] = len(w)
    return _TflmRun(q, arena, tflm, specs, outputs, decoded, metrics)


def _vs_litert_reference(ed: ExportDir, q: np.ndarray, tflm_out: list[np.ndarray],
                         log: Callable[[str], None]) -> tuple[int, np.ndarray]:
    """Max LSB difference between TFLM and LiteRT's reference kernels, and which windows differ at all."""
    ref_out = LiteRTRunner(ed.file(TFLITE), reference=True).run(q)
    max_lsb = max(int(np.max(np.abs(a.astype(np.int16) - b.astype(np.int16)))) for a, b in zip(tflm_out, ref_out))
    differ = np.zeros(len(q), bool)
    for a, b in zip(tflm_out, ref_out):
        differ |= (a.reshape(len(q), -1) != b.reshape(len(q), -1)).any(axis=1)
    log(f"TFLM vs LiteRT reference kernels: max {max_lsb} LSB, {int(differ.sum())} of {len(q)} windows differ")
    return max_lsb, differ


def _host_latency(ed: ExportDir, q1: np.ndarray, x1: np.ndarray, tflm: TFLMRunner, cfg: VerifyConfig) -> dict:
    lite = LiteRTRunner(ed.file(TFLITE))
    out = {"litert_int8": time_calls(lambda: lite.run_one(q1), cfg.latency_runs, cfg.latency_warmup)}
    if ed.has(ONNX_INT8):
        ort = OrtRunner(ed.file(ONNX_INT8))
        xo = ort.prepare(x1)
        out["onnxruntime_int8"] = time_calls(lambda: ort.run_one(xo), cfg.latency_runs, cfg.latency_warmup)
    else:
        out["onnxruntime_int8"] = None  # not exported: reported as missing rather than invented
    out["tflm"] = time_calls(lambda: tflm.run_one(q1), cfg.latency_runs, cfg.latency_warmup)
    return out


_REEXPORT = "re-run `edgeppg export`"


def _metrics_schema():
    from edgeppg.schema import Float, Maybe, Obj

    return Obj({k: Maybe(Float()) for k in ("rhythm_macro_f1", "hr_mae_bpm", "rr_mae_bpm")})


def _read_json(path: Path) -> dict:
    """parity.json, with the keys verify computes with typed (an artifact, but only as honest as the manifest)."""
    from edgeppg.schema import Int, Maybe, Obj, read_json_file, validate

    doc = read_json_file(path, "parity report", _REEXPORT)
    m = _metrics_schema()
    return validate(doc, Obj({"torch_fp32": m, "int8_tflite": m, "tflm_vs_litert_ref_mismatch":
                              Obj({"explained_as_rounding_tie": Maybe(Int(0, 10**9))})}),
                    f"parity report {path}", _REEXPORT)


def _degradation(parity: dict | None) -> dict | None:
    """int8 TFLite vs fp32 torch on the same held-out windows (positive = int8 is worse)."""
    if not parity or "torch_fp32" not in parity or "int8_tflite" not in parity:
        return None
    fp, q = parity["torch_fp32"], parity["int8_tflite"]

    def diff(key, sign):
        a, b = fp.get(key), q.get(key)
        return None if a is None or b is None else round(sign * (b - a), 6)

    return {"f1_drop": diff("rhythm_macro_f1", -1), "hr_mae_increase_bpm": diff("hr_mae_bpm", 1),
            "rr_mae_increase_bpm": diff("rr_mae_bpm", 1)}


def _find_distill_metrics(ed: ExportDir, cfg: VerifyConfig) -> dict | None:
    """distill's metrics.json (teacher vs student): the path in cfg, else EXPORT_DIR/distill_metrics.json if present."""
    if cfg.distill_metrics:
        path = Path(cfg.distill_metrics)
        if not path.is_file():
            raise EdgePPGError(f"distill metrics file {path} not found; pass the metrics.json written by `edgeppg distill`")
        cands = [path]
    else:
        cands = [ed.path / "distill_metrics.json"]
    params = ed.manifest.get("model", {}).get("params")
    for p in cands:
        if not p.is_file():
            continue
        from edgeppg.schema import Int, Maybe, Obj, read_json_file, validate

        try:
            d = read_json_file(p, "distill metrics", "pass the metrics.json `edgeppg distill` wrote")
            d = validate(d, Obj({"teacher": _metrics_schema(), "student": _metrics_schema(),
                                 "teacher_params": Maybe(Int(1, 10**10)), "student_params": Maybe(Int(1, 10**10))}),
                         f"distill metrics {p}", "pass the metrics.json `edgeppg distill` wrote")
        except EdgePPGError:
            if cfg.distill_metrics:
                raise
            d = None
        ok = isinstance(d, dict) and isinstance(d.get("teacher"), dict)
        same = ok and (d.get("student_params") in (None, params) or params is None)
        if ok and same:
            return {"path": str(p), "teacher": d["teacher"], "teacher_params": d.get("teacher_params"),
                    "student": d.get("student"), "student_params": d.get("student_params")}
        if cfg.distill_metrics:  # named explicitly: say why it cannot be used instead of silently dropping it
            why = "has no 'teacher' metrics" if not ok else (f"describes a {d.get('student_params')}-parameter "
                                                            f"student, this export has {params}")
            raise EdgePPGError(f"distill metrics {p} {why}; pass the metrics.json `edgeppg distill` wrote for this student")
    return None


def _plots(out: Path, w, decoded: dict, specs, result: dict, cfg: VerifyConfig) -> dict[str, str]:
    made: dict[str, str] = {}
    if "hr" in decoded:
        ok = w.hr_valid & np.isfinite(w.hr_bpm) & np.isfinite(decoded["hr"])
        if ok.sum() >= 2:
            pred, true = decoded["hr"][ok], w.hr_bpm[ok].astype(float)
            made["hr_bland_altman"] = plots.bland_altman(pred, true, out / "hr_bland_altman.png").name
            pairs = {"HR": (pred, true, "BPM")}
            if "rr" in decoded:
                okr = ok & np.isfinite(w.rr_bpm)
                if okr.sum() >= 2:
                    pairs["RR"] = (decoded["rr"][okr], w.rr_bpm[okr].astype(float), "breaths/min")
            made["pred_vs_true"] = plots.scatter(pairs, out / "pred_vs_true.png").name
    rh = next((s for s in specs if s.head.name == "rhythm"), None)
    if rh is not None and (w.rhythm >= 0).any():
        cm = confusion(w.rhythm, decoded["rhythm"], rh.head.n_out)
        labels = list(rh.head.labels) or [str(i) for i in range(rh.head.n_out)]
        made["rhythm_confusion"] = plots.confusion_matrix(cm, labels, out / "rhythm_confusion.png",
                                                          result["metrics"].get("rhythm_macro_f1", float("nan"))).name
    points = _size_points(result)
    if points:
        made["size_accuracy"] = plots.size_accuracy(points, out / "size_accuracy.png").name
    return made


def _size_points(result: dict) -> list[dict]:
    """Teacher (fp32, from distill metrics), student fp32 (parity torch_fp32), student int8 (measured on TFLM)."""
    pts = []
    d, parity, params = result["distill_metrics"], result["parity"], result["model"]["params"]
    if d and d.get("teacher_params"):
        pts.append({**d["teacher"], "label": "teacher fp32", "bytes": 4 * int(d["teacher_params"])})
    if parity and params and "torch_fp32" in parity:
        pts.append({**parity["torch_fp32"], "label": "student fp32", "bytes": 4 * int(params)})
    pts.append({**result["metrics"], "label": "student int8 (TFLM)", "bytes": result["model"]["model_bytes"]})
    return pts
