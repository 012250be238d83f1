"""`edgeppg eval MODEL... --real`: edgeppg's models and the classical estimators on the real-PPG sources.

Each model runs through `edgeppg.infer.Predictor` (the exact path `edgeppg predict` takes: manifest or
sidecar preprocessing, int8 LiteRT/TFLM or fp32 torch, the quality gate), scored with
`edgeppg.realppg.benchmark.score_predictor` on every source's window grid, beside
`edgeppg.realppg.benchmark.estimator_table`. Figures per source, pooled over the original sources ("all")
and over the derived, degraded rows ("all-derived"):

  hr_mae_bpm   mean |model HR - reference| over the windows where both exist
  within_5bpm  share of those windows within 5 BPM
  coverage     share of the windows with a reference on which the model gives an HR (not withheld)
  n / n_ref    windows / windows with a reference; classes: the model's rhythm-class counts

real.json is bound to what it measured: each model entry records its manifest sha256 (export folders) or
weights sha256 (checkpoints); `edgeppg check` reads a `[real]` budget only from an entry whose manifest
sha256 is the checked export's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from edgeppg.errors import EdgePPGError

REAL_SCHEMA = "edgeppg.real/1"
REAL_JSON = "real.json"
REAL_MD = "real.md"
REAL_SUBDIR = "real"  # default output folder inside an export folder (like verify/)
SKIPPED_NOT_INSTALLED = "skipped: not installed"
POOLED = "all"  # the pooled row over the original (not derived) sources: what budgets read


@dataclass(frozen=True)
class RealOptions:
    max_sources: int | None = None  # first N original sources (with their derived rows); None = all
    max_windows: int | None = None  # first N windows of each source; None = all
    derived: bool = True  # also the degraded (resampled / quantised / inverted) rows
    estimators: bool = True  # classical reference estimators in the same table
    estimator_names: tuple[str, ...] | None = None  # None = every available one
    runtime: str = "litert"

    def __post_init__(self):
        for k in ("max_sources", "max_windows"):
            v = getattr(self, k)
            if v is not None and v < 1:
                raise EdgePPGError(f"{k} must be >= 1 or unset, got {v}")


def select_sources(sources: Sequence, opts: RealOptions) -> list:
    """The subset an options set asks for (smoke runs: a couple of sources, a few windows each)."""
    out = [s for s in sources if opts.derived or not s.derived_from]
    if opts.max_sources is not None:
        keep = [s.name for s in out if not s.derived_from][:opts.max_sources]
        out = [s for s in out if (s.derived_from or s.name) in keep]
    if opts.max_windows is not None:
        cut = []
        for s in out:
            k = min(opts.max_windows, s.n_windows)
            n = int(round(((k - 1) * s.hop_s + s.window_s) * s.fs_hz)) if k else 0
            extra = {"acc": s.acc[:, :n]} if getattr(s, "acc", None) is not None else {}
            cut.append(replace(s, signal=s.signal[:n], ref_hr=s.ref_hr[:k], **extra))
        out = cut
    return out


@dataclass
class ModelRun:
    label: str
    info: dict[str, Any]
    rows: list[dict]
    pairs: dict[str, tuple[np.ndarray, np.ndarray]]  # source -> (pred HR, ref HR) per window, NaN kept


def _label(info: dict, taken: set[str]) -> str:
    base = f"{info.get('name')}-{'int8' if info.get('kind') == 'int8-tflite' else 'fp32'}"
    label, k = base, 2
    while label in taken:
        label, k = f"{base}-{k}", k + 1
    return label


def score_model(predictor, sources: Sequence, label: str) -> ModelRun:
    """One model on every source's window grid (rows from realppg.benchmark.score_predictor)."""
    from edgeppg.realppg.benchmark import score_predictor

    pairs: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    ungated: dict[str, np.ndarray] = {}
    by_signal: dict[int, Any] = {id(s.signal): s for s in sources}

    def fit(v, n):
        out = np.full(n, np.nan)
        m = min(n, len(v))
        out[:m] = v[:m]
        return out

    def fn(signal, fs_hz, hop_s):
        src = by_signal[id(signal)]
        wp = predictor.predict_recording(signal, fs_hz, hop_s)
        pairs[src.name] = (fit(wp.hr_bpm, src.n_windows), np.asarray(src.ref_hr, np.float64))
        ungated[src.name] = fit(wp.hr_raw, src.n_windows)
        return wp.hr_bpm, wp.rhythm_names

    rows = score_predictor(label, fn, sources)
    derived = {s.name: bool(s.derived_from) for s in sources}
    for r in rows:  # the HR head's error with the gate off: how far off the withheld windows are
        names = ([r["source"]] if r["source"] in pairs else
                 [n for n in pairs if derived[n] == (r["source"] != POOLED)])
        raw = np.concatenate([ungated[n] for n in names]) if names else np.zeros(0)
        ref = np.concatenate([pairs[n][1] for n in names]) if names else np.zeros(0)
        ok = np.isfinite(raw) & np.isfinite(ref)
        r["hr_mae_ungated_bpm"] = float(np.mean(np.abs(raw[ok] - ref[ok]))) if ok.any() else float("nan")
    return ModelRun(label, dict(predictor.info), rows, pairs)


def evaluate_real(models: Sequence, opts: RealOptions = RealOptions(), *, labels: Sequence[str] | None = None,
                  sources: Sequence | None = None, log: Callable[[str], None] = lambda s: None) -> dict[str, Any]:
    """Score every model (export folder, checkpoint, or a loaded infer.Predictor) and the estimators on the real sources -> real.json dict.

    Models are loaded (and their sha256s checked) before any scoring, so a bad path costs nothing.
    With no real source installed the result says SKIPPED_NOT_INSTALLED and has no rows."""
    from edgeppg.infer import load_predictor

    if not models:
        raise EdgePPGError("name at least one model: an export folder or a .safetensors checkpoint")
    if labels is not None and len(labels) != len(models):
        raise EdgePPGError(f"{len(labels)} labels for {len(models)} models")
    if opts.estimators and opts.estimator_names:
        from edgeppg.realppg.estimators import available_estimators

        known = available_estimators()
        bad = [n for n in opts.estimator_names if n not in known]
        if bad:
            raise EdgePPGError(f"unknown estimator {bad[0]!r}; valid estimators: {', '.join(known)}")
    from edgeppg.infer import Predictor

    predictors = [m if isinstance(m, Predictor) else load_predictor(m, opts.runtime) for m in models]
    t0 = time.perf_counter()
    if sources is None:
        from edgeppg.realppg.sources import real_sources

        sources = real_sources(derived=opts.derived)
    from edgeppg.realppg.sources import sources_table

    table = sources_table(list(sources))
    sources = select_sources(sources, opts)
    result: dict[str, Any] = {"schema": REAL_SCHEMA, "options": _opts_json(opts), "sources": table,
                              "rules": RULES, "models": [], "rows": [], "estimators": {"ran": [], "skipped": {}}}
    if not sources:
        result["status"] = SKIPPED_NOT_INSTALLED
        result["note"] = "no real PPG source is installed (make setup installs requirements-real.txt)"
        for k, p in enumerate(predictors):
            label = labels[k] if labels is not None else _label(p.info, set())
            result["models"].append({"label": label, **_model_json(p.info), "status": SKIPPED_NOT_INSTALLED})
        return result
    result["status"] = "ok"
    result["scored_sources"] = [s.name for s in sources]
    taken: set[str] = set()
    for k, p in enumerate(predictors):
        label = labels[k] if labels is not None else _label(p.info, taken)
        taken.add(label)
        log(f"scoring {label} on {len(sources)} sources")
        run = score_model(p, sources, label)
        result["rows"] += run.rows
        overall = {r["source"]: r for r in run.rows if r["source"] in (POOLED, "all-derived")}
        result["models"].append({"label": label, **_model_json(p.info), "status": "ok",
                                 "overall": overall.get(POOLED), "overall_derived": overall.get("all-derived"),
                                 "pairs": {s: {"pred_hr": pr, "ref_hr": rf} for s, (pr, rf) in run.pairs.items()}})
    if opts.estimators:
        from edgeppg.realppg.benchmark import estimator_table
        from edgeppg.realppg.estimators import available_estimators

        names = list(opts.estimator_names) if opts.estimator_names else list(available_estimators())
        log(f"estimators: {', '.join(names)}")
        erows = estimator_table(sources, names)
        for r in erows:
            if r.get("skipped"):
                result["estimators"]["skipped"][r["estimator"]] = r["skipped"]
            elif r["estimator"] not in result["estimators"]["ran"]:
                result["estimators"]["ran"].append(r["estimator"])
        result["rows"] += [r for r in erows if not r.get("skipped")]
    result["seconds"] = round(time.perf_counter() - t0, 2)
    return result


RULES = {
    "hr_mae_bpm": "mean |HR - reference| over windows where the model gives an HR and a reference exists",
    "within_5bpm": "share of those windows with |HR - reference| <= 5 BPM",
    "coverage": "share of the windows with a reference on which the model gives an HR (the quality gate withholds the rest)",
    "hr_mae_ungated_bpm": "models only: the HR head's MAE on every window with a reference, gate ignored (not what a device shows)",
    "pooled": "'all' pools the windows of the original recordings, 'all-derived' those of the degraded copies",
    "windows": "8 s windows every 2 s; window i spans [2 i, 2 i + 8) s of the recording",
    "budget": "edgeppg check [real] reads the 'all' row of the entry whose manifest_sha256 is the checked export's",
}


def _opts_json(o: RealOptions) -> dict:
    return {"max_sources": o.max_sources, "max_windows": o.max_windows, "derived": o.derived,
            "estimators": o.estimators, "runtime": o.runtime}


def _model_json(info: dict) -> dict:
    keep = ("name", "kind", "runtime", "path", "manifest_sha256", "weights_sha256", "source_checkpoint_sha256", "arch")
    return {k: info[k] for k in keep if info.get(k) is not None}


# ------------------------------------------------------------------ output

def _f(v, fmt: str) -> str:
    return "-" if v is None or (isinstance(v, float) and v != v) else format(v, fmt)


def format_table(result: dict) -> str:
    """A readable table: per (model or estimator, source) row, n, coverage, MAE, within 5 BPM, classes."""
    if result.get("status") != "ok":
        return f"real PPG: {result.get('status')} ({result.get('note', '')})"
    out = [f"{'model / estimator':22} {'source':34} {'n':>5} {'n_ref':>5} {'cover':>6} {'MAE':>6} {'<=5':>5} "
           f"{'ungated':>7}  classes"]
    for r in result["rows"]:
        cls = ", ".join(f"{k} {v}" for k, v in (r.get("classes") or {}).items())
        out.append(f"{r['estimator'][:22]:22} {r['source'][:34]:34} {r['n']:5d} {r['n_ref']:5d} "
                   f"{_f(r['coverage'], '6.1%'):>6} {_f(r['hr_mae_bpm'], '6.2f'):>6} {_f(r['within_5bpm'], '5.0%'):>5} "
                   f"{_f(r.get('hr_mae_ungated_bpm'), '7.2f'):>7}  {cls}")
    for name, why in result["estimators"]["skipped"].items():
        out.append(f"{name:22} (skipped) {why}")
    return "\n".join(out)


def overall_table(result: dict) -> str:
    """One line per model / estimator: the pooled original-source row (what a budget reads)."""
    rows = [r for r in result.get("rows", []) if r["source"] == POOLED]
    out = [f"{'model / estimator':22} {'n_ref':>5} {'cover':>6} {'MAE':>6} {'<=5':>5} {'ungated':>7}"]
    for r in rows:
        out.append(f"{r['estimator'][:22]:22} {r['n_ref']:5d} {_f(r['coverage'], '6.1%'):>6} "
                   f"{_f(r['hr_mae_bpm'], '6.2f'):>6} {_f(r['within_5bpm'], '5.0%'):>5} "
                   f"{_f(r.get('hr_mae_ungated_bpm'), '7.2f'):>7}")
    return "\n".join(out)


def markdown(result: dict) -> str:
    lines = ["# Real PPG benchmark", ""]
    if result.get("status") != "ok":
        return "\n".join(lines + [f"**{result.get('status')}**: {result.get('note', '')}", ""])
    lines += ["Models run exactly as `edgeppg predict` runs them (manifest/sidecar preprocessing, quality gate); "
              "estimators on the same windows.", "",
              "| model / estimator | source | n | n_ref | coverage | HR MAE (BPM) | within 5 BPM | MAE ungated | classes |",
              "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in result["rows"]:
        cls = ", ".join(f"{k} {v}" for k, v in (r.get("classes") or {}).items())
        lines.append(f"| {r['estimator']} | {r['source']} | {r['n']} | {r['n_ref']} | {_f(r['coverage'], '.1%')} | "
                     f"{_f(r['hr_mae_bpm'], '.2f')} | {_f(r['within_5bpm'], '.0%')} | "
                     f"{_f(r.get('hr_mae_ungated_bpm'), '.2f')} | {cls} |")
    if result["estimators"]["skipped"]:
        lines += ["", "Skipped estimators: " + "; ".join(f"{k}: {v}" for k, v in result["estimators"]["skipped"].items())]
    lines += ["", "## Models", ""]
    for m in result["models"]:
        sha = m.get("manifest_sha256") or m.get("weights_sha256") or ""
        lines.append(f"- `{m['label']}`: {m.get('kind')} ({m.get('runtime')}), `{m.get('path')}`, sha256 {sha[:16]}…")
    lines += ["", "## Sources, licences and labelling", "",
              "| source | group | fs (Hz) | s | windows | with reference | excluded | licence | labelling |",
              "|---|---|---:|---:|---:|---:|---|---|---|"]
    for s in result["sources"]:
        ex = "; ".join(f"{k}: {v}" for k, v in (s.get("excluded") or {}).items()) or "-"
        lines.append(f"| {s['name']} | {s['group']} | {s.get('fs_hz') or '-'} | {s.get('seconds') or '-'} | {s['n_windows']} | "
                     f"{s['n_ref']} | {ex} | {s.get('license') or s.get('status')} | {s.get('labelling') or '-'} |")
    lines += ["", "## Rules", ""] + [f"- **{k}**: {v}" for k, v in result["rules"].items()]
    o = result.get("options", {})
    if o.get("max_sources") or o.get("max_windows"):
        lines += ["", f"Subset: first {o.get('max_sources') or 'all'} sources, first {o.get('max_windows') or 'all'} "
                      "windows each (a smoke run; not comparable with full runs)."]
    return "\n".join(lines) + "\n"


def write_real(result: dict, out_dir: str | Path, plot_label: str | None = None) -> dict[str, Path]:
    """real.json + real.md (+ real_bland_altman.png of `plot_label`, default the first model), atomically."""
    from edgeppg.io import atomic_write_json, atomic_write_text

    out = Path(out_dir)
    paths = {"json": atomic_write_json(out / REAL_JSON, result), "md": atomic_write_text(out / REAL_MD, markdown(result))}
    png = bland_altman_for(result, out / "real_bland_altman.png", plot_label)
    if png is not None:
        paths["png"] = png
    return paths


def bland_altman_for(result: dict, path: Path, label: str | None = None) -> Path | None:
    """Bland–Altman of one model's HR against the references, pooled over the original sources."""
    from edgeppg.verify.plots import bland_altman

    models = [m for m in result.get("models", []) if m.get("status") == "ok" and (label is None or m["label"] == label)]
    if not models:
        return None
    m = models[0]
    derived = {s["name"] for s in result.get("sources", []) if s.get("derived_from")}
    pred, ref = [], []
    for src, pr in (m.get("pairs") or {}).items():
        if src in derived:
            continue
        p, r = np.asarray(pr["pred_hr"], np.float64), np.asarray(pr["ref_hr"], np.float64)
        ok = np.isfinite(p) & np.isfinite(r)
        pred.append(p[ok])
        ref.append(r[ok])
    pred = np.concatenate(pred) if pred else np.zeros(0)
    ref = np.concatenate(ref) if ref else np.zeros(0)
    if pred.size < 2:
        return None
    return bland_altman(pred, ref, path, title=f"{m['label']} vs reference HR, real PPG (original sources)")


def check_out_dir(out_dir: str | Path) -> Path:
    """Refuse an unusable output folder before any scoring (the one writability check, edgeppg.outdir)."""
    from edgeppg.outdir import check_writable

    return check_writable(out_dir, "--out")


def eval_real(models: Sequence[str | Path], out_dir: str | Path | None = None, opts: RealOptions = RealOptions(),
              log: Callable[[str], None] = lambda s: None) -> tuple[dict, dict[str, Path]]:
    """`edgeppg eval ... --real` in one call: out folder checked first, models loaded, scored, written.
    Default folder: EXPORT_DIR/real for one export folder, else ./real."""
    if out_dir is None:
        first = Path(models[0]) if models else Path(".")
        out_dir = first / REAL_SUBDIR if len(models) == 1 and first.is_dir() else Path(REAL_SUBDIR)
    out = check_out_dir(out_dir)
    result = evaluate_real(models, opts, log=log)
    return result, write_real(result, out)


# ------------------------------------------------------------------ budget view

def load_real_for(path: str | Path, manifest_sha256: str) -> dict:
    """The real.json entry measured on the export whose manifest has this sha256 (its pooled figures).

    Refuses (one line, exit 2) a real.json that is missing, unreadable, or measured on another export."""
    import json

    path = Path(path)
    if not path.is_file():
        raise EdgePPGError(f"the budget has a [real] section but {path} does not exist; run "
                           f"`edgeppg eval EXPORT_DIR --real` first (or `edgeppg run`, whose real stage writes it)")
    try:
        doc = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise EdgePPGError(f"{path} is not valid JSON ({exc}); re-run `edgeppg eval EXPORT_DIR --real`") from None
    if not isinstance(doc, dict) or doc.get("schema") != REAL_SCHEMA:
        raise EdgePPGError(f"{path} is not an edgeppg real-PPG result (schema {REAL_SCHEMA}); re-run `edgeppg eval EXPORT_DIR --real`")
    entries = [m for m in doc.get("models", []) if m.get("manifest_sha256") == manifest_sha256]
    if not entries:
        got = ", ".join(str(m.get("manifest_sha256") or m.get("weights_sha256") or "?")[:12] for m in doc.get("models", []))
        raise EdgePPGError(f"{path} was measured on another export (manifest sha256 {got or 'none'}, this export "
                           f"{manifest_sha256[:12]}…): stale or foreign; re-run `edgeppg eval EXPORT_DIR --real`")
    m = entries[0]
    overall = m.get("overall") or {}
    return {"status": m.get("status", doc.get("status")), "label": m.get("label"), "path": str(path),
            "hr_mae_bpm": overall.get("hr_mae_bpm"), "coverage": overall.get("coverage"),
            "within_5bpm": overall.get("within_5bpm"), "n_ref": overall.get("n_ref"),
            "options": doc.get("options")}
