"""`edgeppg check`: a budget.toml gate over verify.json — flash, RAM, per-target latency, accuracy, int8 loss.

Budget file (every key optional, at least one budget; unknown keys are errors):

    [flash]        max_model_bytes, max_total_bytes          (int, bytes)
    [ram]          max_arena_bytes, max_total_bytes          (int, bytes)
                   max_total_bytes gates verify's primary figure: the C library's ELF where it was built (nRF52840),
                   else the TFLM estimate; the row's source says which
    [targets.<profile>]  max_latency_ms (float), min_flash_free_bytes, min_ram_free_bytes (int), must_fit (bool)
    [accuracy]     min_rhythm_macro_f1, max_hr_mae_bpm, max_rr_mae_bpm                      (float)
    [degradation]  max_f1_drop, max_hr_mae_increase_bpm, max_rr_mae_increase_bpm (float), max_tflm_lsb (int)
    [real]         max_hr_mae_bpm, min_coverage (float): the int8 model on the real-PPG sources, pooled over the
                   original recordings, read from real.json (`edgeppg eval EXPORT_DIR --real`, or the pipeline's
                   real stage) measured on THIS export's manifest; run now when absent, refused when foreign/stale

A budget whose figure is missing from verify.json (e.g. no parity.json for a degradation budget) fails:
the gate cannot show the model is within it.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeppg.errors import EdgePPGError, unknown_name
from edgeppg.verify.artifacts import verify_artifacts
from edgeppg.verify.measure import VERIFY_JSON, VerifyConfig, default_out_dir, load_fresh, verify_export
from edgeppg.verify.report import table
from edgeppg.verify.targets import PROFILES, TFLM_FLASH_SOURCE, TFLM_RAM_SOURCE

# section -> key -> (type, direction "max"/"min"/"bool", path into verify.json, unit)
_SPEC: dict[str, dict[str, tuple[type, str, tuple[str, ...], str]]] = {
    "flash": {"max_model_bytes": (int, "max", ("model", "model_bytes"), "B"),
              "max_total_bytes": (int, "max", ("flash_bytes",), "B")},
    "ram": {"max_arena_bytes": (int, "max", ("arena_bytes",), "B"),
            "max_total_bytes": (int, "max", ("ram_bytes",), "B")},
    "accuracy": {"min_rhythm_macro_f1": (float, "min", ("metrics", "rhythm_macro_f1"), ""),
                 "max_hr_mae_bpm": (float, "max", ("metrics", "hr_mae_bpm"), "BPM"),
                 "max_rr_mae_bpm": (float, "max", ("metrics", "rr_mae_bpm"), "br/min")},
    "degradation": {"max_f1_drop": (float, "max", ("degradation", "f1_drop"), ""),
                    "max_hr_mae_increase_bpm": (float, "max", ("degradation", "hr_mae_increase_bpm"), "BPM"),
                    "max_rr_mae_increase_bpm": (float, "max", ("degradation", "rr_mae_increase_bpm"), "br/min"),
                    "max_tflm_lsb": (int, "max", ("tflm_vs_litert_ref_max_lsb",), "LSB")},
}
# figures from real.json (not verify.json): the int8 model on real PPG, pooled over the original recordings
_REAL_SPEC: dict[str, dict[str, tuple[type, str, tuple[str, ...], str]]] = {
    "real": {"max_hr_mae_bpm": (float, "max", ("real", "hr_mae_bpm"), "BPM"),
             "min_coverage": (float, "min", ("real", "coverage"), "")},
}
_TARGET_SPEC: dict[str, tuple[type, str, str, str]] = {
    "max_latency_ms": (float, "max", "est_latency_ms", "ms"),
    "min_flash_free_bytes": (int, "min", "flash_free_bytes", "B"),
    "min_ram_free_bytes": (int, "min", "ram_free_bytes", "B"),
    "must_fit": (bool, "bool", "fits", ""),
}
_TOP = ("name", "description", "flash", "ram", "targets", "accuracy", "degradation", "real")
_NONNEG = ("_bytes", "_lsb", "max_latency_ms", "max_hr_mae_bpm", "max_rr_mae_bpm")


@dataclass(frozen=True)
class Budget:
    path: str
    name: str
    items: tuple[tuple[str, type, str, tuple[str, ...], str, Any], ...]  # (metric, type, dir, verify path, unit, budget)


def _typed(value: Any, tp: type, where: str) -> Any:
    if tp is bool:
        ok = isinstance(value, bool)
    elif tp is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok:
        raise EdgePPGError(f"budget key {where} must be {tp.__name__}, got {value!r}")
    if tp is float:
        value = float(value)
    if tp is not bool and where.endswith(_NONNEG) and value < 0:
        raise EdgePPGError(f"budget key {where} must be >= 0, got {value}")
    if where.endswith(("min_rhythm_macro_f1", "min_coverage")) and not 0 <= value <= 1:
        raise EdgePPGError(f"budget key {where} must be in [0, 1], got {value}")
    return value


def _table(section: Any, where: str) -> dict:
    if not isinstance(section, dict):
        raise EdgePPGError(f"budget section [{where}] must be a table, got {section!r}")
    return section


def load_budget(path: str | Path) -> Budget:
    """Parse and strictly validate a budget TOML (unknown keys/targets, wrong types -> EdgePPGError naming them)."""
    path = Path(path)
    if not path.is_file():
        raise EdgePPGError(f"budget file {path} not found; start from examples/budget_nrf52840.toml")
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise EdgePPGError(f"budget file {path} is not valid TOML: {exc}") from None
    for key in data:
        if key not in _TOP:
            raise EdgePPGError(f"unknown budget key {key!r} in {path}; valid top-level keys: {', '.join(_TOP)}")
    for key in ("name", "description"):
        if key in data and not isinstance(data[key], str):
            raise EdgePPGError(f"budget key {key} must be a string, got {data[key]!r}")
    items = []
    for section, spec in {**_SPEC, **_REAL_SPEC}.items():
        for key, value in _table(data.get(section, {}), section).items():
            if key not in spec:
                raise EdgePPGError(f"unknown budget key {section}.{key!r} in {path}; valid keys in [{section}]: "
                                   f"{', '.join(spec)}")
            tp, direction, vpath, unit = spec[key]
            items.append((f"{section}.{key}", tp, direction, vpath, unit, _typed(value, tp, f"{section}.{key}")))
    for target, tsec in _table(data.get("targets", {}), "targets").items():
        if target not in PROFILES:
            raise unknown_name("target profile", target, PROFILES)
        for key, value in _table(tsec, f"targets.{target}").items():
            if key not in _TARGET_SPEC:
                raise EdgePPGError(f"unknown budget key targets.{target}.{key!r} in {path}; valid keys in "
                                   f"[targets.{target}]: {', '.join(_TARGET_SPEC)}")
            tp, direction, vkey, unit = _TARGET_SPEC[key]
            where = f"targets.{target}.{key}"
            items.append((where, tp, direction, ("targets", target, vkey), unit, _typed(value, tp, where)))
    if not items:
        raise EdgePPGError(f"budget file {path} sets no budgets; see examples/budget_nrf52840.toml for the keys")
    return Budget(str(path), str(data.get("name", path.stem)), tuple(items))


@dataclass(frozen=True)
class Row:
    metric: str
    budget: Any
    actual: Any
    over_by: Any  # > 0 (or True/"missing") when the budget is exceeded; None when within
    ok: bool
    unit: str = ""
    source: str = ""  # where the actual comes from when it is not a plain measurement (latency: estimate/measured)

    def to_json(self) -> dict:
        return {"metric": self.metric, "budget": self.budget, "actual": self.actual, "over_by": self.over_by,
                "ok": self.ok, "unit": self.unit, "source": self.source}

    @classmethod
    def from_json(cls, d: dict) -> "Row":
        return cls(str(d["metric"]), d.get("budget"), d.get("actual"), d.get("over_by"), bool(d["ok"]),
                   str(d.get("unit") or ""), str(d.get("source") or ""))


@dataclass(frozen=True)
class CheckResult:
    passed: bool
    rows: tuple[Row, ...]
    budget: str
    export_dir: str
    verify_json: str
    reused_verify: bool  # True: a fresh verify.json was used; False: verify ran now
    extra: dict = field(default_factory=dict)

    @property
    def failures(self) -> tuple[Row, ...]:
        return tuple(r for r in self.rows if not r.ok)

    def to_json(self) -> dict:
        return {"schema": CHECK_SCHEMA, "passed": self.passed, "budget": self.budget, "export_dir": self.export_dir,
                "verify_json": self.verify_json, "reused_verify": self.reused_verify,
                "failed": [r.metric for r in self.failures], "rows": [r.to_json() for r in self.rows], **self.extra}

    @classmethod
    def from_json(cls, d: dict) -> "CheckResult":
        """check.json (as to_json wrote it) back into the typed result; the report reads budgets only this way."""
        known = {"schema", "passed", "budget", "export_dir", "verify_json", "reused_verify", "failed", "rows"}
        return cls(bool(d["passed"]), tuple(Row.from_json(r) for r in d.get("rows", [])), str(d.get("budget", "")),
                   str(d.get("export_dir", "")), str(d.get("verify_json", "")), bool(d.get("reused_verify", False)),
                   {k: v for k, v in d.items() if k not in known})

    def table(self) -> str:
        def fmt(v):
            return "-" if v is None else f"{v:.4g}" if isinstance(v, float) else str(v)

        rows = [[r.metric, f"{fmt(r.budget)} {r.unit}".strip(), f"{fmt(r.actual)} {r.unit}".strip(),
                 "" if r.ok else f"{fmt(r.over_by)} {r.unit}".strip(), "ok" if r.ok else "OVER"] for r in self.rows]
        if any(r.source for r in self.rows):  # latency rows say whether the actual was measured or estimated
            return table(["metric", "budget", "actual", "over by", "status", "source"],
                         [row + [r.source or "-"] for row, r in zip(rows, self.rows)])
        return table(["metric", "budget", "actual", "over by", "status"], rows)


CHECK_SCHEMA = "edgeppg.check/1"


def _lookup(d: dict, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(d, dict) or d.get(key) is None:
            return None
        d = d[key]
    return d


# where each gated figure comes from: measured, or an estimate (and of what), so no reader takes one for the other
_SOURCES: dict[tuple[str, ...], str] = {
    ("model", "model_bytes"): "measured: .tflite bytes",
    ("flash_bytes",): TFLM_FLASH_SOURCE,  # a verify.json without flash_source (see _source)
    ("arena_bytes",): "measured: smallest TFLM arena that runs",
    ("ram_bytes",): TFLM_RAM_SOURCE,
    ("tflm_vs_litert_ref_max_lsb",): "measured: TFLM vs LiteRT reference kernels",
}


def _source(verify: dict, vpath: tuple[str, ...]) -> str:
    """The source of the figure at vpath: latency says estimate (which kernels) or measured (which count)."""
    if len(vpath) == 3 and vpath[0] == "targets":
        t = _lookup(verify, vpath[:2])
        if vpath[2] != "est_latency_ms":
            return _target_memory_source(t, vpath[2])
        from edgeppg.verify.targets import latency_kind

        return ", ".join(latency_kind(t)) if isinstance(t, dict) else ""
    primary = {("flash_bytes",): "flash_source", ("ram_bytes",): "ram_source"}.get(vpath)
    if primary and isinstance(verify.get(primary), str):
        return verify[primary]  # the C library ELF (measured) or the TFLM estimate, and why
    if vpath[0] in ("metrics", "degradation"):
        return "measured: int8 TFLM on the held-out windows" if vpath[0] == "metrics" else "measured: parity.json"
    if vpath[0] == "real":
        return "measured: real.json (int8 LiteRT on real PPG)"
    return _SOURCES.get(vpath, "")


def _target_memory_source(t: Any, key: str) -> str:
    """A target's free flash/RAM (or fits): the board's total minus the primary figure, named by its source."""
    t = t if isinstance(t, dict) else {}
    flash = str(t.get("flash_source") or TFLM_FLASH_SOURCE)  # a verify.json from before: the TFLM estimate
    ram = str(t.get("ram_source") or TFLM_RAM_SOURCE)
    if key == "flash_free_bytes":
        return f"{flash}, subtracted from the board's flash"
    if key == "ram_free_bytes":
        return f"{ram}, subtracted from the board's RAM"
    if flash.startswith("measured") and ram.startswith("measured"):
        return "measured: C library ELF flash and RAM against the board"
    return f"estimate: TFLM flash and RAM against the board{flash[len(TFLM_FLASH_SOURCE):]}"


def evaluate(budget: Budget, verify: dict) -> tuple[Row, ...]:
    """Each budget against verify.json's figure; missing/NaN figures fail (nothing proves them within budget)."""
    rows = []
    for metric, tp, direction, vpath, unit, limit in budget.items:
        actual = _lookup(verify, vpath)
        if actual is None or (isinstance(actual, float) and actual != actual):
            rows.append(Row(metric, limit, None, "missing", False, unit, _source(verify, vpath)))
            continue
        if direction == "bool":
            ok = bool(actual) or not limit
            rows.append(Row(metric, limit, bool(actual), None if ok else "does not fit", ok, unit, _source(verify, vpath)))
            continue
        over = actual - limit if direction == "max" else limit - actual
        ok = over <= 0
        if tp is float:
            over = round(float(over), 6)
        rows.append(Row(metric, limit, actual, None if ok else over, ok, unit, _source(verify, vpath)))
    return tuple(rows)


def real_figures(ed, real_json: str | Path | None = None, log=lambda s: None) -> dict:
    """The [real] figures of this export: real.json (default EXPORT_DIR/real/real.json) bound to its manifest.
    A missing default real.json is measured now (int8 LiteRT, no estimators); a foreign/stale one is refused."""
    from edgeppg.evaluate import REAL_JSON, REAL_SUBDIR, RealOptions, eval_real, load_real_for

    path = Path(real_json) if real_json is not None else ed.path / REAL_SUBDIR / REAL_JSON
    if real_json is None and not path.is_file():
        log(f"no {path}; running the real-PPG eval")
        eval_real([ed.path], path.parent, RealOptions(estimators=False))
    return load_real_for(path, ed.manifest_sha256)


def check_export(export_dir: str | Path, budget_path: str | Path, cfg: VerifyConfig = VerifyConfig(),
                 out_dir: str | Path | None = None, log=lambda s: None, real_json: str | Path | None = None) -> CheckResult:
    """Budget gate: reuse a fresh verify.json (same manifest sha256), else run verify; never exits itself.
    A [real] budget reads `real_figures` (real_json: where real.json is; default EXPORT_DIR/real/real.json)."""
    budget = load_budget(budget_path)  # a bad budget file is reported before any measuring
    ed = verify_artifacts(export_dir)  # a tampered export is refused even when verify.json is fresh
    extra, real = {}, None
    if any(item[0].startswith("real.") for item in budget.items):
        real = real_figures(ed, real_json, log)  # a foreign/stale real.json is refused before any measuring
        extra["real_json"] = real["path"]
    out = Path(out_dir) if out_dir is not None else default_out_dir(ed.path)
    vj = out / VERIFY_JSON
    verify = load_fresh(ed, vj, cfg)
    reused = verify is not None
    if verify is None:
        log(f"no fresh {vj}; running verify")
        verify_export(ed.path, out, cfg, log=log)
        verify = json.loads(vj.read_text())  # the same JSON view a stored verify.json gives
    if real is not None:
        verify = dict(verify, real=real)
    rows = evaluate(budget, verify)
    return CheckResult(all(r.ok for r in rows), rows, budget.path, str(ed.path), str(vj), reused, extra)
