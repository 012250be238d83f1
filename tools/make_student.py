"""Regenerate the shipped default PPG student: models/ppg-student-<preset>.{safetensors,json,md}.

    .venv/bin/python tools/make_student.py                 # default preset: data -> teacher -> distill

Runs the `default` pipeline's first three stages (resumable, in --work), then copies the distilled student
with a card. `.ci/run` exports this file and gates it with `edgeppg check` against
examples/budget_nrf52840.toml, so a change that makes the shipped student too big, slow or inaccurate
fails CI. The sidecar's local paths are dropped: pass the corpus to export explicitly
(`edgeppg data synth --n 12000 --seed 1` regenerates it byte-identically; its sha256 is checked).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgeppg.config import load_config  # noqa: E402
from edgeppg.io import atomic_write_json, atomic_write_text, sha256_file  # noqa: E402
from edgeppg.pipeline.run import Logger, build_stages  # noqa: E402
from edgeppg.pipeline.stages import run_stages  # noqa: E402


def _pre_text(meta: dict) -> str:
    pre = (meta.get("input") or {}).get("preprocessing") or {}
    bp = pre.get("bandpass")
    return (f"Butterworth band-pass {bp['low_hz']:g}-{bp['high_hz']:g} Hz (order {bp['order']}, per window) then z-score"
            if bp else "per-window z-score")


def real_section(student: Path, work: Path) -> str:
    """The card's real-PPG figures: this student (fp32), its teacher and the no-KD control, beside the
    classical estimators, on every installed labelled real source (`edgeppg eval --real`)."""
    from edgeppg.evaluate import RealOptions, evaluate_real, markdown

    models = [student, work / "teacher" / "teacher.safetensors", work / "distill" / "student_no_kd.safetensors"]
    result = evaluate_real([m for m in models if m.is_file()], RealOptions(),
                           labels=["this student (fp32)", "teacher (fp32)", "no-KD student (fp32)"][:sum(m.is_file() for m in models)])
    body = markdown(result).replace("# Real PPG benchmark", "## Real PPG benchmark (`edgeppg eval --real`)", 1)
    return "\n" + body.replace(str(work), "<work>").replace(str(ROOT) + "/", "")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=ROOT / "runs" / "make_student")
    ap.add_argument("--out", type=Path, default=ROOT / "models")
    args = ap.parse_args(argv)

    cfg = load_config("default")
    log = Logger()
    stages = [s for s in build_stages(cfg, args.work, log) if s.name in ("data", "teacher", "distill")]
    recs = run_stages(stages, args.work, log, on_done=lambda r: log(f"[{r.name}] {'skipped' if r.skipped else f'{r.seconds:.0f} s'}"))
    src = args.work / "distill" / "student.safetensors"
    meta = json.loads(src.with_suffix(".json").read_text())
    name = f"ppg-student-{meta['student']['preset']}"
    dst = args.out / f"{name}.safetensors"
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(src.read_bytes())
    meta["data"] = {k: v for k, v in meta["data"].items() if k != "corpus_dir"}  # machine-local path
    meta["teacher"] = {k: v for k, v in meta["teacher"].items() if k != "path"}
    meta["produced_by"] = "tools/make_student.py (edgeppg run --preset default: data, teacher, distill)"
    atomic_write_json(dst.with_suffix(".json"), meta)
    dm = json.loads((args.work / "distill" / "metrics.json").read_text())
    sha = sha256_file(dst)
    s, t, nk = dm["student"], dm["teacher"], dm["student_no_kd"]
    card = f"""# {name}: the default distilled PPG student

Produced by `tools/make_student.py` (the `default` preset's data, teacher and distill stages; seeded).
`.ci/run` exports it and gates it with `edgeppg check --budget examples/budget_nrf52840.toml`.

| | |
|---|---|
| file | `models/{dst.name}` ({dst.stat().st_size} bytes, fp32) + `models/{dst.with_suffix('.json').name}` sidecar |
| sha256 (file) | `{sha}` |
| architecture | student preset `{meta['student']['preset']}`: {meta['student']['params']} parameters (BN folded), {meta['student']['macs']} MACs per window |
| input | 1 channel PPG, 64 Hz, 8 s (512 samples), {_pre_text(meta)} (edgeppg/preprocess.py; exact steps in the export manifest) |
| teacher | ResNet1d-18 fine-tuned from `models/ecg-resnet18` (sha256 `{meta['parent_sha256']}`), {dm['teacher_params']} parameters |
| data | synthetic paired corpus, {cfg.data.n_windows} windows, seed {cfg.data.seed} (`edgeppg data synth --n {cfg.data.n_windows} --seed {cfg.data.seed}`), split by record; corpus ppg.npz sha256 `{meta['data'].get('corpus_sha256')}` |
| training | Hinton KD (T={cfg.distill.temperature}, alpha={cfg.distill.alpha}) + HR/RR regression, {cfg.distill.fit.epochs} epochs, seeds {list(cfg.distill.seeds)} |

## Held-out synthetic PPG test split
| model | rhythm macro-F1 | HR MAE (BPM) | RR MAE |
|---|---:|---:|---:|
| teacher | {t['rhythm_macro_f1']:.3f} | {t['hr_mae_bpm']:.2f} | {t.get('rr_mae_bpm', float('nan')):.2f} |
| this student (KD) | {s['rhythm_macro_f1']:.3f} | {s['hr_mae_bpm']:.2f} | {s.get('rr_mae_bpm', float('nan')):.2f} |
| same student without KD | {nk['rhythm_macro_f1']:.3f} | {nk['hr_mae_bpm']:.2f} | {nk.get('rr_mae_bpm', float('nan')):.2f} |
"""
    card += real_section(dst, args.work)
    atomic_write_text(dst.with_suffix(".md"), card)
    print(f"{dst} sha256 {sha}; stages: " + ", ".join(f"{n}={r.seconds:.0f}s" for n, r in recs.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
