"""The whole pipeline from one frozen config: data -> teacher -> distill -> export -> real -> bench -> verify -> check.

Each stage is one library call (the same one its CLI command makes) inside a resumable Stage. Bench runs
before verify so verify's per-target latency uses the harness's measured instruction count when there is one.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from edgeppg.config import PipelineConfig, to_dict
from edgeppg.errors import EdgePPGError
from edgeppg.io import atomic_write_json, sha256_file
from edgeppg.pipeline.results import read_json
from edgeppg.pipeline.stages import Stage, StageContext, StageRecord, run_stages

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class PipelineResult:
    run_dir: Path
    records: dict[str, StageRecord]
    passed: bool
    summary: dict[str, Any]


class Logger:
    """Human lines (or JSON lines for CI); --quiet keeps only the final verdict."""

    def __init__(self, quiet: bool = False, json_logs: bool = False):
        self.quiet, self.json_logs = quiet, json_logs
        self.t0 = time.perf_counter()

    def __call__(self, msg: str, **fields) -> None:
        if self.json_logs:
            print(json.dumps({"t": round(time.perf_counter() - self.t0, 3), "msg": msg, **fields}), flush=True)
        elif not self.quiet:
            print(msg, flush=True)

    @property
    def progress(self) -> bool:
        return not (self.quiet or self.json_logs) and sys.stderr.isatty()


def resolve_budget(path: str) -> Path:
    """Budget paths are relative to the current folder, else to the project (the shipped examples/)."""
    p = Path(path)
    for cand in (p, REPO_ROOT / p):
        if cand.is_file():
            return cand.resolve()
    raise EdgePPGError(f"budget file {path} not found; pass an existing TOML (see examples/budget_nrf52840.toml)")


def _toolchain_targets(targets) -> tuple[list[str], list[str]]:
    """Targets whose toolchain is present, and the skipped ones (with why)."""
    ok, skipped = [], []
    for t in targets:
        need = ["gcc"] if t == "host" else ["arm-none-eabi-gcc", "qemu-system-arm"]
        missing = [n for n in need if shutil.which(n) is None]
        (skipped if missing else ok).append(t if not missing else f"{t} (missing {', '.join(missing)})")
    return ok, skipped


# ---------------------------------------------------------------- one function per stage: (cfg, log, ctx) -> metrics

def _data(cfg: PipelineConfig, log: Logger, ctx: StageContext) -> dict:
    from edgeppg.data.corpus import build_corpus

    info = build_corpus(ctx.dir, n=cfg.data.n_windows, seed=cfg.data.seed, window_s=cfg.data.window_s,
                        fs_ecg=cfg.data.fs_ecg_hz, fs_ppg=cfg.data.fs_ppg_hz, sensor_domain=cfg.data.sensor_domain)
    return {"windows": cfg.data.n_windows, "pairs_per_s": info.get("pairs_per_s")}


def _pretrain(cfg: PipelineConfig, log: Logger, ctx: StageContext) -> dict:
    from edgeppg.train.transfer import pretrain as run_pretrain

    res = run_pretrain(cfg.pretrain, ctx.input_dir("data"), ctx.dir, data_cfg=cfg.data, log=log, progress=log.progress)
    return _pick(res.metrics)


def _teacher(cfg: PipelineConfig, log: Logger, ctx: StageContext) -> dict:
    from edgeppg.train.transfer import finetune

    init = cfg.finetune.init
    if cfg.pretrain_from_scratch:
        init = str(ctx.input_dir("pretrain") / "ecg.safetensors")
    res = finetune(cfg.finetune, ctx.input_dir("data"), ctx.dir, init=init, data_cfg=cfg.data, log=log,
                   progress=log.progress)
    return _pick(res.metrics)


def _distill(cfg: PipelineConfig, log: Logger, ctx: StageContext) -> dict:
    from edgeppg.pipeline.results import DistillResult
    from edgeppg.train.distill import distill as run_distill

    run_distill(cfg.distill, ctx.input_dir("teacher") / "teacher.safetensors", ctx.input_dir("data"),
                ctx.dir, data_cfg=cfg.data, log=log, progress=log.progress)
    d = DistillResult.from_json(read_json(ctx.dir / "metrics.json") or {})
    return {"student_params": d.student_params, "student_macs": d.student_macs,
            **{f"student_{k}": v for k, v in d.student.present().items()}}


def _export(cfg: PipelineConfig, log: Logger, ctx: StageContext) -> dict:
    from edgeppg.export import export_student
    from edgeppg.pipeline.results import ExportResult

    export_student(ctx.input_dir("distill") / "student.safetensors", ctx.dir, cfg.export, log=log)
    e = ExportResult.load(ctx.dir)
    return {"tflite_bytes": (ctx.dir / "student_int8.tflite").stat().st_size,
            **{f"int8_{k}": v for k, v in (e.int8_tflite.present() if e else {}).items()},
            "tflm_vs_litert_ref_max_lsb": e.tflm_vs_litert_ref_max_lsb if e else None}


def _bench(cfg: PipelineConfig, log: Logger, ctx: StageContext) -> dict:
    from edgeppg.bench.runner import run_bench
    from edgeppg.pipeline.results import BenchResult

    targets, skipped = _toolchain_targets(cfg.bench.targets)
    out: dict[str, Any] = {"skipped": skipped}
    for t in targets:
        # qemu-m4 (the reference board) lands at RUN/bench/bench.json: the verify stage passes that file in
        dest = ctx.dir if t == "qemu-m4" else ctx.dir / t
        b = BenchResult.from_json(run_bench(ctx.input_dir("export"), t, dest, windows=cfg.bench.windows))
        out[t] = {k: v for k, v in (("bitexact_vs_tflm", b.bitexact_vs_tflm), ("windows", b.windows),
                                    ("instructions_per_inference", b.instructions_per_inference),
                                    ("instructions_per_mac", b.instructions_per_mac),
                                    ("host_ns_per_inference", b.host_ns_per_inference),
                                    ("flash_bytes", b.flash_bytes), ("ram_bytes", b.ram_bytes)) if v is not None}
    return out


def verify_config(run_dir: Path):
    """verify's explicit inputs inside a run: the reference board's bench.json and distill's metrics.json."""
    from edgeppg.verify import VerifyConfig

    bench, distill = run_dir / "bench" / "bench.json", run_dir / "distill" / "metrics.json"
    return VerifyConfig(bench_json=str(bench) if bench.is_file() else None,
                        distill_metrics=str(distill) if distill.is_file() else None)


def _verify(cfg: PipelineConfig, log: Logger, ctx: StageContext) -> dict:
    from edgeppg.pipeline.results import VerifyResult
    from edgeppg.verify import verify_export

    verify_export(ctx.input_dir("export"), ctx.dir, verify_config(ctx.dir.parent), log=log)
    v = VerifyResult.from_json(read_json(ctx.dir / "verify.json") or {})
    nrf = next((t for t in v.targets if t.name == "nrf52840"), None)
    return {"arena_bytes": v.arena_bytes, "flash_bytes": v.flash_bytes, "ram_bytes": v.ram_bytes,
            "flash_ram_source": "measured: C library ELF" if v.memory_measured else "estimate: TFLM",
            "nrf52840_latency_ms": nrf.latency_ms if nrf else None,
            "nrf52840_latency_source": nrf.source_label() if nrf else None}


def _real(cfg: PipelineConfig, log: Logger, ctx: StageContext) -> dict:
    from edgeppg.evaluate import RealOptions, evaluate_real, write_real
    from edgeppg.pipeline.results import REAL_STUDENT, REAL_TEACHER

    opts = RealOptions(max_sources=cfg.real.max_sources, max_windows=cfg.real.max_windows,
                       derived=cfg.real.derived, estimators=False)
    models, labels = [ctx.input_dir("export")], [REAL_STUDENT]
    if cfg.real.teacher:
        models.append(ctx.input_dir("teacher") / "teacher.safetensors")
        labels.append(REAL_TEACHER)
    result = evaluate_real(models, opts, labels=labels)
    write_real(result, ctx.dir, plot_label=REAL_STUDENT)
    out: dict[str, Any] = {"status": result["status"]}
    if result["status"] == "ok":
        _realism_chart(cfg, ctx.dir)
    for m in result["models"] if result["status"] == "ok" else []:
        o = m.get("overall") or {}
        for k in ("hr_mae_bpm", "coverage", "within_5bpm"):
            out[f"{m['label'].replace('-', '_')}_{k}"] = o.get(k)
    return out


def _check(cfg: PipelineConfig, log: Logger, budget: Path, ctx: StageContext) -> dict:
    from edgeppg.verify import check_export

    real_json = ctx.input_dir("real") / "real.json" if cfg.real.enabled else None
    res = check_export(ctx.input_dir("export"), budget, verify_config(ctx.dir.parent), out_dir=ctx.input_dir("verify"),
                       log=log, real_json=real_json)
    atomic_write_json(ctx.dir / "check.json", res.to_json())  # the report reads it back with CheckResult.from_json
    return {"passed": res.passed, "over_budget": [r.metric for r in res.failures]}


def build_stages(cfg: PipelineConfig, run_dir: Path, log: Logger) -> list[Stage]:
    """The stage list for this config: each stage's config slice, the stages it reads, and its function."""
    fn = lambda f: partial(f, cfg, log)  # noqa: E731 - every stage function gets the run's config and logger
    budget = resolve_budget(cfg.budget)
    shipped = lambda: {"init_sha256": sha256_file(_init_path(cfg))}  # noqa: E731
    stages = [Stage("data", cfg.data, (), fn(_data))]
    if cfg.pretrain_from_scratch:
        stages.append(Stage("pretrain", (cfg.pretrain, cfg.data), ("data",), fn(_pretrain)))
        stages.append(Stage("teacher", (cfg.finetune, cfg.data), ("data", "pretrain"), fn(_teacher)))
    else:
        stages.append(Stage("teacher", (cfg.finetune, cfg.data), ("data",), fn(_teacher), extra_inputs=shipped))
    stages += [
        Stage("distill", (cfg.distill, cfg.data), ("data", "teacher"), fn(_distill)),
        Stage("export", cfg.export, ("distill",), fn(_export)),
    ]
    if cfg.real.enabled:  # the real sources are outside the run: their identity is an input
        stages.append(Stage("real", cfg.real, ("export", "teacher"), fn(_real), extra_inputs=_real_sources_key))
    stages += [
        Stage("bench", cfg.bench, ("export",), fn(_bench)),
        Stage("verify", {}, ("export", "bench", "distill"), fn(_verify)),
        Stage("check", {"budget_sha256": sha256_file(budget)},
              ("export", "verify") + (("real",) if cfg.real.enabled else ()), partial(_check, cfg, log, budget)),
    ]
    return stages




def _realism_chart(cfg: PipelineConfig, out_dir: Path) -> None:
    """Generator vs real recordings (spectral and pulse-shape statistics): realism.json + realism.png for the report."""
    from edgeppg.preprocess import Preprocessing
    from edgeppg.realppg.realism import real_groups, synthetic_groups, write_realism
    from edgeppg.realppg.sources import real_sources

    pre = Preprocessing(fs_hz=cfg.data.fs_ppg_hz, window_s=cfg.data.window_s)
    groups = {**synthetic_groups(300, seed=cfg.data.seed, sensor_domain=cfg.data.sensor_domain, fs_hz=cfg.data.fs_ppg_hz),
              **real_groups(real_sources(derived=False), pre, max_per_source=cfg.real.max_windows or 200)}
    write_realism(groups, pre, out_dir)


def _real_sources_key() -> dict[str, str]:
    """Which labelled real sources are installed (file content + labelling version): installing one re-runs `real`."""
    from edgeppg.realppg.sources import SPECS, cache_key, dalia_path
    from edgeppg.data.catalog import CATALOG, recording_path

    keys = {}
    for spec in SPECS:
        rec = next((r for r in CATALOG if r.name == spec.name), None)
        path = dalia_path() if rec is None else recording_path(rec)
        keys[spec.name] = cache_key(spec.name, path) if path is not None else "not installed"
    return {"real_sources": hashlib.sha256(json.dumps(keys, sort_keys=True).encode()).hexdigest()}


def _init_path(cfg: PipelineConfig) -> Path:
    from edgeppg.models.registry import resolve_pretrained

    return resolve_pretrained(cfg.finetune.init)


def _pick(m: dict) -> dict:
    return {k: m[k] for k in ("rhythm_macro_f1", "hr_mae_bpm", "rr_mae_bpm") if k in m}


def run_pipeline(cfg: PipelineConfig, run_dir: str | Path, *, quiet: bool = False, json_logs: bool = False) -> PipelineResult:
    run_dir = Path(run_dir)
    log = Logger(quiet, json_logs)
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(run_dir / "config.json", to_dict(cfg))
    stages = build_stages(cfg, run_dir, log)

    def done(rec: StageRecord) -> None:
        status = "up to date, skipped" if rec.skipped else f"{rec.seconds:.1f} s"
        log(f"[{rec.name}] {status}  " + ", ".join(f"{k}={_short(v)}" for k, v in rec.metrics.items()),
            stage=rec.name, seconds=rec.seconds, skipped=rec.skipped, metrics=rec.metrics)

    records = run_stages(stages, run_dir, lambda m: None, on_done=done)
    from edgeppg.pipeline.summary import report

    summary = report(cfg, run_dir, records)
    passed = bool(records["check"].metrics.get("passed"))
    verdict = "PASSED" if passed else "FAILED (over budget: " + ", ".join(records["check"].metrics.get("over_budget", [])) + ")"
    total = sum(r.seconds for r in records.values() if not r.skipped)
    line = f"edgeppg run: budget check {verdict}; {total:.0f} s; report: {run_dir / 'report.html'}"
    if json_logs:
        log(line, passed=passed)
    else:
        print(line, flush=True)
    return PipelineResult(run_dir, records, passed, summary)


def _short(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_short(x)}" for k, x in v.items()) + "}"
    return str(v)
