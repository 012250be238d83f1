"""Gather every stage's figures into report.md / report.html / summary.json.

Stage outputs are read only through the typed results in edgeppg.pipeline.results. Every table cell is a number
or an explicit "n/a (reason)"; the report opens with a per-target card: fits? latency (with its source), flash,
RAM, fp32 vs int8 accuracy on synthetic and real data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgeppg.config import PipelineConfig, to_dict
from edgeppg.pipeline.report import write_report
from edgeppg.pipeline.results import (REAL_STUDENT, REAL_TEACHER, BenchResult, RealResult, RunResults, Scores,
                                      TflmEstimate, VerifyResult)
from edgeppg.pipeline.stages import StageRecord
from edgeppg.verify.budget import CheckResult, Row

def na(why: str) -> str:
    return f"n/a ({why})"


def num(v: Any, nd: int = 3, why: str = "not measured", unit: str = "") -> str:
    """A figure, or n/a with its reason: never None, —, or an empty cell."""
    if v is None or (isinstance(v, float) and v != v):
        return na(why)
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):  # 5.96e-08 must not print as 0.000
        text = f"{v:.3g}" if v and abs(v) < 0.5 * 10 ** -nd else f"{v:.{nd}f}"
    else:
        text = f"{v:,}" if isinstance(v, int) else str(v)
    return f"{text} {unit}".rstrip()


def pct(v: Any, why: str = "no windows with a reference") -> str:
    return na(why) if v is None or v != v else f"{100 * v:.1f} %"


def _scores_table(rows: list[tuple[str, Scores]]) -> str:
    out = ["| model | rhythm macro-F1 | HR MAE (BPM) | RR MAE (br/min) |", "|---|---:|---:|---:|"]
    for name, m in rows:
        out.append(f"| {name} | {num(m.rhythm_macro_f1, why='no rhythm head')} | {num(m.hr_mae_bpm, 2, 'no HR head')} | "
                   f"{num(m.rr_mae_bpm, 2, 'no RR head')} |")
    return "\n".join(out)


def heldout_note(res: RunResults) -> str:
    """Whether distill's test split and the export's held-out windows are the same windows (their fp32 F1 may differ)."""
    d, e = res.distill, res.export
    if d is None or e is None:
        return ""
    if d.test_ids_sha256 and d.test_ids_sha256 == e.heldout_ids_sha256:
        return (f"Test sets: the distillation table and the int8 parity table use the same {e.heldout_windows} "
                "held-out windows (window-id sha256 match).")
    return (f"Test sets differ: the distillation table is on distill's test split ({num(d.test_windows)} windows), the "
            f"int8 parity table on the export's held-out windows ({num(e.heldout_windows)} windows, heldout.npz), so "
            "the student's fp32 figures differ between the two tables.")


# ---------------------------------------------------------------- the card at the top

CARD_TITLE = "Will it fit, how fast, how accurate"


def _target_budget(check: CheckResult | None, target: str) -> str:
    if check is None:
        return na("no check stage")
    own = [r for r in check.rows if r.metric.startswith(f"targets.{target}.")]
    shared = [r for r in check.rows if not r.metric.startswith("targets.")]
    over = [r.metric for r in own + shared if not r.ok]
    if not own:
        return na(f"budget sets no [targets.{target}] keys; shared budgets "
                  + ("within" if not any(not r.ok for r in shared) else "over"))
    if over:
        return f"NO (over: {', '.join(over)})"
    return f"yes ({len(own)} target + {len(shared)} shared budgets within)"


def card(res: RunResults) -> str:
    v, check = res.verify, res.check
    out = []
    if check is not None:
        n_ok = sum(r.ok for r in check.rows)
        out.append(f"Budget check: {'PASSED' if check.passed else 'FAILED'} against `{Path(check.budget).name}` "
                   f"({n_ok} of {len(check.rows)} budgets within).")
    else:
        out.append("Budget check: not run.")
    out.append("")
    if v is not None and v.targets:
        out += ["| figure | " + " | ".join(t.name for t in v.targets) + " |", "|---|" + "---|" * len(v.targets)]
        rows = [("fits the budget", [_target_budget(check, t.name) for t in v.targets]),
                ("fits in flash and RAM", [("yes" if t.fits else "NO") for t in v.targets]),
                ("latency", [t.latency_label() for t in v.targets]),
                ("latency, TFLM reference kernels", [t.reference_label() for t in v.targets]),
                *_memory_rows(v)]
        out += [f"| {name} | " + " | ".join(cells) + " |" for name, cells in rows]
    else:
        out.append("Per-target figures: n/a (no verify stage in this run).")
    out += ["", _accuracy_card(res)]
    return "\n".join(out)


def _memory_rows(v: VerifyResult) -> list[tuple[str, list[str]]]:
    """Primary flash/RAM per target (the edgeppg C library image's ELF on the board it was built for, the TFLM
    estimate elsewhere; each cell names its source), then the TFLM path as the labelled second option."""
    def primary(t, what: str) -> str:
        used, total, free = ((t.flash_bytes, t.flash_total_bytes, t.flash_free_bytes) if what == "flash" else
                             (t.ram_bytes, t.ram_total_bytes, t.ram_free_bytes))
        src = "measured from the edgeppg C library ELF" if t.memory_measured else _why_estimate(v, t)
        return f"{used:,} B of {total:,} B ({free:,} B free; {src})"

    est = v.tflm_estimate or TflmEstimate(v.flash_bytes, v.ram_bytes)
    return [("flash (edgeppg C library image where built, else TFLM estimate)", [primary(t, "flash") for t in v.targets]),
            ("RAM (edgeppg C library image where built, else TFLM estimate)", [primary(t, "RAM") for t in v.targets]),
            ("flash, TFLM option (model + TFLM runtime est.)",
             [f"{est.flash_bytes:,} B of {t.flash_total_bytes:,} B (estimate)" for t in v.targets]),
            ("RAM, TFLM option (measured arena + runtime est.)",
             [f"{est.ram_bytes:,} B of {t.ram_total_bytes:,} B (estimate)" for t in v.targets])]


def _why_estimate(v: VerifyResult, t) -> str:
    img = v.firmware_image
    if img is None:
        return "TFLM estimate: no C library image in this verify.json"
    if not img.measured:
        return f"TFLM estimate: C library image not built, {img.reason or 'not measured'}"
    return f"TFLM estimate: C library image built for {img.board} only"


def _accuracy_card(res: RunResults) -> str:
    e, real, d = res.export, res.real, res.distill
    real_ok = real is not None and real.status == "ok"
    why_real = ("real stage not run" if real is None else real.status if not real_ok else "")

    def real_cells(label: str | None) -> tuple[str, str]:
        if label is None:
            return na("the real stage runs the int8 export and the teacher only"), na("see HR MAE")
        m = real.model(label) if real_ok else None
        if m is None:
            return na(why_real or f"{label} not evaluated"), na(why_real or f"{label} not evaluated")
        return num(_f(m.overall.get("hr_mae_bpm")), 2, "no covered windows"), pct(m.overall.get("coverage"))

    no_export = Scores()
    rows = [("student fp32 (torch)", e.torch_fp32 if e else no_export, None),
            ("student int8 (TFLite)", e.int8_tflite if e else no_export, REAL_STUDENT)]
    if d is not None:
        rows.insert(0, ("teacher fp32", d.teacher, REAL_TEACHER))
    out = ["| model | synthetic rhythm macro-F1 | synthetic HR MAE (BPM) | real HR MAE (BPM) | real HR coverage |",
           "|---|---:|---:|---:|---:|"]
    for name, s, label in rows:
        mae, cov = real_cells(label)
        why = "no export stage" if e is None and label != REAL_TEACHER else "no such head"
        out.append(f"| {name} | {num(s.rhythm_macro_f1, why=why)} | {num(s.hr_mae_bpm, 2, why)} | {mae} | {cov} |")
    where = []
    if e is not None:
        where.append(f"synthetic student figures on the export's {num(e.heldout_windows)} held-out windows (heldout.npz)")
    if d is not None:
        same = e is not None and d.test_ids_sha256 and d.test_ids_sha256 == e.heldout_ids_sha256
        where.append(f"teacher on distill's test split ({num(d.test_windows)} windows, "
                     + ("the same windows)" if same else "different windows from the students' held-out set)"))
    if real_ok:
        o = real.options
        where.append(f"real: pooled over the original recordings ({o.get('max_sources') or 'all'} sources, "
                     f"{o.get('max_windows') or 'all'} windows each), HR MAE on the windows the quality gate covers")
    return "\n".join(out) + ("\n\n" + "; ".join(where) + "." if where else "")


def _f(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


# ---------------------------------------------------------------- the sections

def _verify_body(v: VerifyResult) -> str:
    est = v.tflm_estimate or TflmEstimate(v.flash_bytes, v.ram_bytes)
    body = [f"Flash {v.flash_bytes:,} B ({v.flash_source}), RAM {v.ram_bytes:,} B ({v.ram_source}). "
            f"TFLM option: flash {est.flash_bytes:,} B (model + TFLM runtime estimate), RAM {est.ram_bytes:,} B "
            f"(TFLM arena {v.arena_bytes:,} B, the smallest that works, + runtime estimate).", "",
            "### Host latency (this machine, one thread, one window per call)", "",
            "| runtime | median µs | p90 µs |", "|---|---:|---:|"]
    for h in v.host_latency:
        body.append(f"| {h.runtime} | {num(h.median_us, 1, 'not exported')} | {num(h.p90_us, 1, 'not exported')} |")
    body += ["", "### Per-target figures", "",
             "| target | latency ms | latency source | TFLM reference kernels ms (est.) | flash free B | RAM free B | fits |",
             "|---|---:|---|---:|---:|---:|---|"]
    for t in v.targets:
        body.append(f"| {t.name} | {num(t.latency_ms, 2)} | {t.source_label()} | "
                    f"{num(t.latency_ms_reference_kernels, 2, 'not in verify.json')} | {t.flash_free_bytes:,} | "
                    f"{t.ram_free_bytes:,} | {'yes' if t.fits else 'NO'} |")
    body += ["", "Free flash/RAM: " + "; ".join(
        f"{t.name} after {'the edgeppg C library ELF (measured)' if t.memory_measured else 'the TFLM estimate'}"
        for t in v.targets) + "."]
    if v.bench_ignored:
        body += ["", f"bench.json {v.bench_path} ignored: {v.bench_ignored}"]
    return "\n".join(body)


def _bench_body(benches: dict[str, BenchResult]) -> str:
    body = ["| target | instructions/inference | instructions/MAC | host µs/inference | flash B | RAM B | "
            "bit-exact vs TFLM | windows |", "|---|---:|---:|---:|---:|---:|---|---:|"]
    for b in benches.values():
        host = b.target == "host"
        no_count = "host build: wall time only" if host else "not measured"
        no_image = "host build: no device image" if host else "not measured"
        us = None if b.host_ns_per_inference is None else b.host_ns_per_inference / 1e3
        body.append(f"| {b.target} | {num(b.instructions_per_inference, why=no_count)} | "
                    f"{num(b.instructions_per_mac, 2, no_count)} | {num(us, 1, 'QEMU target: instruction count only')} | "
                    f"{num(b.flash_bytes, why=no_image)} | {num(b.ram_bytes, why=no_image)} | "
                    f"{'yes' if b.bitexact_vs_tflm else 'NO'} | {b.windows} |")
    for b in benches.values():
        if not b.layers:
            continue
        host = b.target == "host"
        body += ["", f"### Per layer ({b.target})", "",
                 "| layer | kind | MACs | instructions | instructions/MAC | host µs | output bytes |",
                 "|---|---|---:|---:|---:|---:|---:|"]
        for layer in b.layers:
            no_count = "host build: wall time only" if host else "not measured"
            ipm = layer.instructions_per_mac
            body.append(f"| {layer.name} | {layer.kind} | {layer.macs:,} | {num(layer.instructions, why=no_count)} | "
                        f"{num(ipm, 2, 'no MACs' if layer.instructions is not None else no_count)} | "
                        f"{num(None if layer.host_ns is None else layer.host_ns / 1e3, 1, 'QEMU target: instruction count only')} | "
                        f"{num(layer.out_bytes, why='not recorded')} |")
    return "\n".join(body)


def _check_value(r: Row, v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):  # as the budget file states it: 20 ms, 0.005, 3.614 ms
        return f"{v:.4g} {r.unit}".rstrip()
    return num(v, 3, "figure missing", r.unit)


def _check_body(check: CheckResult) -> str:
    body = [f"Verdict: {'PASSED' if check.passed else 'FAILED'} against `{check.budget}`", "",
            "| metric | budget | actual | over by | ok | source |", "|---|---:|---:|---:|---|---|"]
    for r in check.rows:
        if r.ok:
            over = na("within budget")
        elif isinstance(r.over_by, (int, float)) and not isinstance(r.over_by, bool):
            over = _check_value(r, r.over_by)
        else:
            over = na(str(r.over_by))
        source = r.source or ("real.json" if r.metric.startswith("real.") else "verify.json")  # check.json before sources
        body.append(f"| {r.metric} | {_check_value(r, r.budget)} | {_check_value(r, r.actual)} | {over} | "
                    f"{'yes' if r.ok else 'NO'} | {source} |")
    return "\n".join(body)


def report(cfg: PipelineConfig, run_dir: Path, records: dict[str, StageRecord]) -> dict[str, Any]:
    run_dir = Path(run_dir)
    res = RunResults.load(run_dir)
    sections: list[tuple[str, str, list[Path]]] = []
    note = heldout_note(res)

    if res.data:
        classes = ", ".join(f"{k} {n}" for k, n in res.data.class_counts.items()) or na("no class counts")
        sections.append(("Data", f"{res.data.windows} paired ECG/PPG windows (seed {cfg.data.seed}), classes: {classes}; "
                         f"generated at {num(res.data.pairs_per_s, 1, 'not timed')} pairs/s.", []))
    if res.teacher:
        body = _scores_table([(f"teacher (its own held-out test split, {num(res.teacher.n_test)} windows)",
                               res.teacher.test)])
        init = "the `pretrain` stage of this run" if cfg.pretrain_from_scratch else f"`{cfg.finetune.init}`"
        body += f"\n\nInit: {init}, strategy `{cfg.finetune.strategy}`."
        sections.append(("Teacher (ECG-pretrained ResNet1d fine-tuned on PPG)", body,
                         sorted((run_dir / "teacher").glob("*.png"))))
    if res.distill:
        d = res.distill
        body = _scores_table([("teacher", d.teacher), ("student (KD)", d.student), ("student without KD", d.student_no_kd)])
        body += (f"\n\nOn distill's test split ({num(d.test_windows)} windows). Teacher {num(d.teacher_params)} params → "
                 f"student {num(d.student_params)} params, {num(d.student_macs)} MACs per window.")
        body += f"\n\n{note}" if note else ""
        sections.append(("Distillation", body, sorted((run_dir / "distill").glob("*.png"))))
    if res.export:
        e = res.export
        body = _scores_table([("torch fp32", e.torch_fp32), ("ONNX int8", e.onnx_int8), ("TFLite int8", e.int8_tflite)])
        body += (f"\n\nOn the export's {num(e.heldout_windows)} held-out windows (heldout.npz). ONNX fp32 vs torch max "
                 f"|diff| {num(e.onnx_fp32_max_abs_diff, why='not measured')}; TFLM vs LiteRT reference kernels: "
                 f"{num(e.tflm_vs_litert_ref_max_lsb, why='not measured')} LSB; TFLite ops: {', '.join(e.tflite_ops)}.")
        body += f"\n\n{note}" if note else ""
        sections.append(("int8 parity", body, []))
    if res.verify:
        sections.append(("Host emulator (TFLM) and device estimates", _verify_body(res.verify),
                         sorted((run_dir / "verify").glob("*.png"))))
    if res.benches:
        sections.append(("Firmware harness", _bench_body(res.benches), []))
    if res.real:
        sections.append(("Real PPG", _real_body(res.real), sorted((run_dir / "real").glob("*.png"))))
    if res.check:
        sections.append(("Budget verdict", _check_body(res.check), []))

    e = res.export
    summary = {"schema": "edgeppg.summary/2", "preset": cfg.preset, "config": to_dict(cfg),
               "teacher": res.teacher.test.to_json() if res.teacher else {},
               "distill": res.distill.to_json() if res.distill else {},
               "parity": e.to_json() if e else {}, "verify": res.verify.to_json() if res.verify else {},
               "bench": {t: b.to_json() for t, b in res.benches.items()},
               "check": res.check.to_json() if res.check else {}, "model": e.model if e else {},
               "real": res.real.to_json() if res.real else {}}
    write_report(run_dir, records, sections, summary, card=(CARD_TITLE, card(res)))
    return summary


def _real_body(real: RealResult) -> str:
    if real.status != "ok":
        return f"Status: {real.status}. {real.note}".rstrip()
    out = ["The exported int8 student (LiteRT, exactly as `edgeppg predict` runs it) and the fp32 teacher on real "
           "PPG recordings; coverage = share of the windows with a reference on which the model gives an HR "
           "(the rest are withheld by the quality gate); MAE over the covered windows; \"ungated\" = the HR head's "
           "MAE on every referenced window.", "",
           "| model | source | n | n_ref | coverage | HR MAE (BPM) | within 5 BPM | MAE ungated | classes |",
           "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in real.rows:
        cls = ", ".join(f"{k} {v}" for k, v in (r.get("classes") or {}).items()) or na("no windows")
        out.append(f"| {r['estimator']} | {r['source']} | {r['n']} | {r['n_ref']} | {pct(r.get('coverage'))} | "
                   f"{num(_f(r.get('hr_mae_bpm')), 2, 'no covered windows')} | "
                   f"{pct(r.get('within_5bpm'), 'no covered windows')} | "
                   f"{num(_f(r.get('hr_mae_ungated_bpm')), 2, 'no windows with a reference')} | {cls} |")
    srcs = [s for s in real.sources if not s.get("derived_from")]
    out += ["", "Sources: " + "; ".join(f"{s['name']} ({s.get('license') or s.get('status')})" for s in srcs) + ". "
            "Labels: PPG-DaLiA's ECG-derived HR; unlabelled recordings: agreement of two offline detectors "
            "(windows where they differ by more than 3 BPM are left out). Details: `real/real.md`."]
    o = real.options
    if o.get("max_sources") or o.get("max_windows"):
        out.append(f"\nSubset (config [real]): first {o.get('max_sources') or 'all'} sources, first "
                   f"{o.get('max_windows') or 'all'} windows each.")
    out.append("\nThe bar chart (`real/realism.png`, figures in `real/realism.json`) compares the generator's windows "
               "with the real recordings: band powers of the raw signal (wander < 0.5 Hz, pulse 0.5-4 Hz, > 4 Hz) and "
               "the model input's spectral-peak concentration, 2nd-harmonic ratio, rival-rhythm ratio (a second peak "
               "such as arm swing), skewness and kurtosis (median, IQR).")
    return "\n".join(out)

