"""Regenerate the shipped default PPG student: models/ppg-student-<preset>.{safetensors,json,md}.

    .venv/bin/python tools/make_student.py                 # default preset: data -> teacher -> distill

Runs the `default` pipeline's data, teacher, distill and export stages (resumable, in --work), then copies the distilled student
with a card. `.ci/run` exports this file and gates it with `edgeppg check` against
examples/budget_nrf52840.toml, so a change that makes the shipped student too big, slow or inaccurate
fails CI. The sidecar's local paths are dropped; instead the exact calibration (256 train-split) and
held-out (500 test-split) windows export uses are written to models/ppg-student-<preset>.calib.npz, their
sha256 recorded in the sidecar (`export_windows`), so `edgeppg export --student ppg-student-<preset>` needs
no corpus and writes the same bytes as `--data` with the corpus (`edgeppg data synth --n 12000 --seed 1`).

    .venv/bin/python tools/make_student.py --windows-only  # only rewrite the .calib.npz from --work's corpus
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


def _hr_text(d) -> str:
    if d.hr_mode == "bins":
        from edgeppg.models.heads import hr_bins_head

        h = hr_bins_head()  # the head distill builds for hr_mode "bins"
        return (f"HR as a softmax over {h.n_out} bins ({h.centers[0]:g}-{h.centers[-1]:g} BPM) on the teacher's HR "
                f"as a Gaussian soft target (sigma {d.hr_sigma_bpm:g} BPM)")
    return "HR regression"


def real_section(student: Path, work: Path) -> str:
    """The card's real-PPG figures: this student (fp32), its teacher and the no-KD control, beside the
    classical estimators, on every installed labelled real source (`edgeppg eval --real`)."""
    from edgeppg.evaluate import RealOptions, evaluate_real, markdown

    models = {"this student (int8, LiteRT)": work / "export", "this student (fp32)": student,
              "teacher (fp32)": work / "teacher" / "teacher.safetensors",
              "no-KD student (fp32)": work / "distill" / "student_no_kd.safetensors"}
    have = {k: m for k, m in models.items() if (m / "manifest.json" if m.is_dir() else m).is_file()}
    result = evaluate_real(list(have.values()), RealOptions(), labels=list(have))
    body = markdown(result).replace("# Real PPG benchmark", "## Real PPG benchmark (`edgeppg eval --real`)", 1)
    return "\n" + body.replace(str(work), "<work>").replace(str(ROOT) + "/", "")


def write_export_windows(dst: Path, corpus: Path) -> dict:
    """models/<name>.calib.npz: the windows `edgeppg export --data CORPUS` calibrates and scores on; the
    sidecar records its sha256 so export can use it when no corpus is given."""
    from edgeppg.config import ExportConfig
    from edgeppg.export.data import export_data, save_export_windows, windows_file
    from edgeppg.train.checkpoint import load_checkpoint

    ckpt = load_checkpoint(dst, expect_arch="student")
    cfg = ExportConfig()
    rec = save_export_windows(windows_file(dst), export_data(corpus, ckpt.meta, ckpt.model.spec, cfg), cfg)
    side = dst.with_suffix(".json")
    meta = json.loads(side.read_text())
    meta["export_windows"] = rec
    atomic_write_json(side, meta)
    return rec


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=ROOT / "runs" / "make_student")
    ap.add_argument("--out", type=Path, default=ROOT / "models")
    ap.add_argument("--windows-only", action="store_true",
                    help="only (re)write the shipped student's .calib.npz from --work's corpus")
    args = ap.parse_args(argv)
    if args.windows_only:
        for dst in sorted(args.out.glob("ppg-student-*.safetensors")):
            rec = write_export_windows(dst, args.work / "data")
            print(f"{dst.parent / rec['file']} sha256 {rec['sha256']}")
        return 0

    cfg = load_config("default")
    log = Logger()
    # export too: the card's real-PPG table shows the int8 model a device runs, not only its fp32 source
    stages = [s for s in build_stages(cfg, args.work, log) if s.name in ("data", "teacher", "distill", "export")]
    recs = run_stages(stages, args.work, log, on_done=lambda r: log(f"[{r.name}] {'skipped' if r.skipped else f'{r.seconds:.0f} s'}"))
    src = args.work / "distill" / "student.safetensors"
    meta = json.loads(src.with_suffix(".json").read_text())
    name = f"ppg-student-{meta['student']['preset']}"
    dst = args.out / f"{name}.safetensors"
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(src.read_bytes())
    meta["data"] = {k: v for k, v in meta["data"].items() if k != "corpus_dir"}  # machine-local path
    meta["teacher"] = {k: v for k, v in meta["teacher"].items() if k != "path"}
    meta["produced_by"] = "tools/make_student.py (edgeppg run --preset default: data, teacher, distill, export)"
    atomic_write_json(dst.with_suffix(".json"), meta)
    write_export_windows(dst, args.work / "data")
    dm = json.loads((args.work / "distill" / "metrics.json").read_text())
    sha = sha256_file(dst)
    s, t, nk = dm["student"], dm["teacher"], dm["student_no_kd"]
    par = json.loads((args.work / "export" / "parity.json").read_text())
    i8, parity_n = par["int8_tflite"], par["heldout_windows"]
    card = f"""# {name}: the default distilled PPG student

Produced by `tools/make_student.py` (the `default` preset's data, teacher, distill and export stages; seeded).
`.ci/run` exports it and gates it with `edgeppg check --budget examples/budget_nrf52840.toml`.

| | |
|---|---|
| file | `models/{dst.name}` ({dst.stat().st_size} bytes, fp32) + `models/{dst.with_suffix('.json').name}` sidecar |
| sha256 (file) | `{sha}` |
| architecture | student preset `{meta['student']['preset']}`: {meta['student']['params']} parameters (BN folded), {meta['student']['macs']} MACs per window |
| input | 1 channel PPG, 64 Hz, 8 s (512 samples), {_pre_text(meta)} (edgeppg/preprocess.py; exact steps in the export manifest) |
| teacher | ResNet1d-18 fine-tuned from `models/ecg-resnet18` (sha256 `{meta['parent_sha256']}`), {dm['teacher_params']} parameters |
| export windows | `models/{name}.calib.npz`: the 256 calibration + 500 held-out windows `edgeppg export` uses (sha256 in the sidecar); `edgeppg export --student {name} --out DIR` needs no corpus |
| data | synthetic paired corpus, {cfg.data.n_windows} windows, seed {cfg.data.seed} (`edgeppg data synth --n {cfg.data.n_windows} --seed {cfg.data.seed}`), split by record; corpus ppg.npz sha256 `{meta['data'].get('corpus_sha256')}` |
| training | Hinton KD (T={cfg.distill.temperature}, alpha={cfg.distill.alpha}) + {_hr_text(cfg.distill)}, {cfg.distill.unlabelled} teacher-only windows, {cfg.distill.fit.epochs} epochs, seeds {list(cfg.distill.seeds)} |

## Held-out synthetic PPG test split
| model | rhythm macro-F1 | HR MAE (BPM) |
|---|---:|---:|
| teacher | {t['rhythm_macro_f1']:.3f} | {t['hr_mae_bpm']:.2f} |
| this student (KD, fp32) | {s['rhythm_macro_f1']:.3f} | {s['hr_mae_bpm']:.2f} |
| this student (int8 TFLite, {parity_n} held-out windows) | {i8['rhythm_macro_f1']:.3f} | {i8['hr_mae_bpm']:.2f} |
| same student without KD | {nk['rhythm_macro_f1']:.3f} | {nk['hr_mae_bpm']:.2f} |

No RR head: on PPG it predicted about a constant (MAE 4.27 breaths/min against 4.22 for always saying the median).
"""
    card += real_section(dst, args.work)
    atomic_write_text(dst.with_suffix(".md"), card)
    print(f"{dst} sha256 {sha}; stages: " + ", ".join(f"{n}={r.seconds:.0f}s" for n, r in recs.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
