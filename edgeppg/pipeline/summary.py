"""Gather every stage's figures into report.md / report.html / summary.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edgeppg.config import PipelineConfig, to_dict
from edgeppg.pipeline.report import write_report
from edgeppg.pipeline.stages import StageRecord


def _json(p: Path) -> dict:
    try:
        return json.loads(p.read_text()) if p.is_file() else {}
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}


def _f(v: Any, nd: int = 3) -> str:
    if isinstance(v, float):
        return f"{v:.{nd}f}"
    return "—" if v is None else str(v)


def _metric_rows(rows: list[tuple[str, dict]]) -> str:
    out = ["| model | rhythm macro-F1 | HR MAE (BPM) | RR MAE (br/min) |", "|---|---:|---:|---:|"]
    for name, m in rows:
        if m:
            out.append(f"| {name} | {_f(m.get('rhythm_macro_f1'))} | {_f(m.get('hr_mae_bpm'), 2)} | {_f(m.get('rr_mae_bpm'), 2)} |")
    return "\n".join(out)


def report(cfg: PipelineConfig, run_dir: Path, records: dict[str, StageRecord]) -> dict[str, Any]:
    run_dir = Path(run_dir)
    corpus = _json(run_dir / "data" / "corpus.json")
    teacher = _json(run_dir / "teacher" / "metrics.json")
    distill = _json(run_dir / "distill" / "metrics.json")
    parity = _json(run_dir / "export" / "parity.json")
    manifest = _json(run_dir / "export" / "manifest.json")
    verify = _json(run_dir / "verify" / "verify.json")
    check = _json(run_dir / "check" / "check.json")
    real = _json(run_dir / "real" / "real.json")
    benches = {p.parent.name if p.parent != run_dir / "bench" else "qemu-m4": _json(p)
               for p in sorted((run_dir / "bench").rglob("bench.json"))}
    sections: list[tuple[str, str, list[Path]]] = []

    if corpus:
        counts = corpus.get("ppg", {}).get("class_counts", {})
        sections.append(("Data", f"{cfg.data.n_windows} paired ECG/PPG windows (seed {cfg.data.seed}), "
                         f"classes {counts}, generated at {corpus.get('pairs_per_s')} pairs/s.", []))
    if teacher:
        body = _metric_rows([("teacher (held-out test)", teacher.get("test", teacher))])
        init = "the `pretrain` stage of this run" if cfg.pretrain_from_scratch else f"`{cfg.finetune.init}`"
        body += f"\n\nInit: {init}, strategy `{cfg.finetune.strategy}`."
        sections.append(("Teacher (ECG-pretrained ResNet1d fine-tuned on PPG)", body,
                         sorted((run_dir / "teacher").glob("*.png"))))
    if distill:
        body = _metric_rows([("teacher", distill.get("teacher", {})), ("student (KD)", distill.get("student", {})),
                             ("student without KD", distill.get("student_no_kd", {}))])
        body += (f"\n\nTeacher {distill.get('teacher_params')} params → student {distill.get('student_params')} params, "
                 f"{distill.get('student_macs')} MACs per window.")
        sections.append(("Distillation", body, sorted((run_dir / "distill").glob("*.png"))))
    if parity:
        body = _metric_rows([("torch fp32", parity.get("torch_fp32", {})), ("ONNX int8", parity.get("onnx_int8", {})),
                             ("TFLite int8", parity.get("int8_tflite", {}))])
        body += (f"\n\nONNX fp32 vs torch max |diff| {parity.get('onnx_fp32_max_abs_diff')}; TFLM vs LiteRT reference "
                 f"kernels: {parity.get('tflm_vs_litert_ref_max_lsb')} LSB; TFLite ops: {', '.join(parity.get('tflite_ops', []))}.")
        sections.append(("int8 parity", body, []))
    if verify:
        lat = verify.get("host_latency_us", {})
        body = [f"TFLM arena {verify.get('arena_bytes')} B (smallest that works), flash {verify.get('flash_bytes')} B.",
                "", "| runtime | median µs | p90 µs |", "|---|---:|---:|"]
        for k, v in lat.items():
            if isinstance(v, dict):
                body.append(f"| {k} | {_f(v.get('median'), 1)} | {_f(v.get('p90'), 1)} |")
        body += ["", "| target | est. latency ms | flash free B | RAM free B | fits |", "|---|---:|---:|---:|---|"]
        for name, t in verify.get("targets", {}).items():
            body.append(f"| {name} | {_f(t.get('est_latency_ms'), 2)} | {t.get('flash_free_bytes')} | "
                        f"{t.get('ram_free_bytes')} | {'yes' if t.get('fits') else 'NO'} |")
        sections.append(("Host emulator (TFLM) and device estimates", "\n".join(body),
                         sorted((run_dir / "verify").glob("*.png"))))
    if benches:
        body = ["| target | instructions/inference | instructions/MAC | flash B | RAM B | bit-exact vs TFLM |",
                "|---|---:|---:|---:|---:|---|"]
        for t, b in benches.items():
            body.append(f"| {b.get('target', t)} | {b.get('instructions_per_inference') or b.get('cycles_per_inference')} | "
                        f"{_f(b.get('instructions_per_mac'), 2)} | {b.get('flash_bytes')} | {b.get('ram_bytes')} | "
                        f"{b.get('bitexact_vs_tflm')} |")
        sections.append(("Firmware harness", "\n".join(body), []))
    if real:
        sections.append(("Real PPG", _real_body(real), sorted((run_dir / "real").glob("*.png"))))
    if check:
        body = [f"**{'PASSED' if check.get('passed') else 'FAILED'}** against `{check.get('budget')}`", "",
                "| metric | budget | actual | over by | ok |", "|---|---:|---:|---:|---|"]
        for r in check.get("rows", []):
            body.append(f"| {r.get('metric')} | {r.get('limit')} | {_f(r.get('actual'))} | {_f(r.get('over'))} | "
                        f"{'yes' if r.get('ok') else 'NO'} |")
        sections.append(("Budget verdict", "\n".join(body), []))

    summary = {"schema": "edgeppg.summary/1", "preset": cfg.preset, "config": to_dict(cfg),
               "teacher": teacher.get("test", teacher), "distill": {k: distill.get(k) for k in
               ("teacher", "student", "student_no_kd", "teacher_params", "student_params", "student_macs")},
               "parity": parity, "verify": {k: verify.get(k) for k in ("arena_bytes", "flash_bytes", "host_latency_us", "targets")},
               "bench": benches, "check": check, "model": manifest.get("model", {}), "real": _real_summary(real)}
    write_report(run_dir, records, sections, summary)
    return summary


def _real_summary(real: dict) -> dict:
    """summary.json's real-PPG figures: status, per model the pooled row, and every per-source row."""
    if not real:
        return {}
    rows = [{k: r.get(k) for k in ("estimator", "source", "group", "derived_from", "n", "n_ref", "n_covered", "coverage",
                                  "hr_mae_bpm", "within_5bpm", "bias_bpm", "hr_mae_ungated_bpm", "classes")}
            for r in real.get("rows", [])]
    return {"status": real.get("status"), "options": real.get("options"),
            "models": {m["label"]: {"kind": m.get("kind"), "manifest_sha256": m.get("manifest_sha256"),
                                    "weights_sha256": m.get("weights_sha256"), "overall": m.get("overall"),
                                    "overall_derived": m.get("overall_derived")} for m in real.get("models", [])},
            "rows": rows, "sources": [{k: s.get(k) for k in ("name", "group", "n_windows", "n_ref", "license", "status")}
                                      for s in real.get("sources", [])]}


def _real_body(real: dict) -> str:
    if real.get("status") != "ok":
        return f"**{real.get('status')}**: {real.get('note', '')}"
    out = ["The exported int8 student (LiteRT, exactly as `edgeppg predict` runs it) and the fp32 teacher on real "
           "PPG recordings; coverage = share of the windows with a reference on which the model gives an HR "
           "(the rest are withheld by the quality gate); MAE over the covered windows; \"ungated\" = the HR head's "
           "MAE on every referenced window.", "",
           "| model | source | n | n_ref | coverage | HR MAE (BPM) | within 5 BPM | MAE ungated | classes |",
           "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    pct = (lambda v: "—" if v is None or v != v else f"{100 * v:.1f} %")
    for r in real.get("rows", []):
        cls = ", ".join(f"{k} {v}" for k, v in (r.get("classes") or {}).items())
        out.append(f"| {r['estimator']} | {r['source']} | {r['n']} | {r['n_ref']} | {pct(r.get('coverage'))} | "
                   f"{_f(r.get('hr_mae_bpm'), 2)} | {pct(r.get('within_5bpm'))} | {_f(r.get('hr_mae_ungated_bpm'), 2)} | {cls} |")
    srcs = [s for s in real.get("sources", []) if not s.get("derived_from")]
    out += ["", "Sources: " + "; ".join(f"{s['name']} ({s.get('license') or s.get('status')})" for s in srcs) + ". "
            "Labels: PPG-DaLiA's ECG-derived HR; unlabelled recordings: agreement of two offline detectors "
            "(windows where they differ by more than 3 BPM are left out). Details: `real/real.md`."]
    o = real.get("options") or {}
    if o.get("max_sources") or o.get("max_windows"):
        out.append(f"\nSubset (config [real]): first {o.get('max_sources') or 'all'} sources, first "
                   f"{o.get('max_windows') or 'all'} windows each.")
    out.append("\nThe bar chart (`real/realism.png`, figures in `real/realism.json`) compares the generator's windows "
               "with the real recordings: band powers of the raw signal (wander < 0.5 Hz, pulse 0.5-4 Hz, > 4 Hz) and "
               "the model input's spectral-peak concentration, 2nd-harmonic ratio, skewness and kurtosis (median, IQR).")
    return "\n".join(out)
