"""Regenerate the shipped ECG-pretrained checkpoint: models/ecg-resnet18.{safetensors,json,md}.

    .venv/bin/python tools/make_pretrained.py            # ~5-10 min on 2 cores
    .venv/bin/python tools/make_pretrained.py --work runs/make_pretrained --epochs 12

Seeded end to end (a rerun with the same thread count gives bit-identical tensors and, since checkpoints
write a single metadata key, identical file bytes): the synthetic ECG corpus (its own seed, disjoint from the default PPG corpus seed so the
fine-tuning test set was never seen in pretraining), the split, the init and the batch order. The release file
is fp16 (half the bytes; loading casts back to fp32). The card records data, task, epochs, metrics and sha256.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgeppg.config import DataConfig, FitConfig, PretrainConfig  # noqa: E402
from edgeppg.io import atomic_write_text, sha256_file  # noqa: E402

NAME = "ecg-resnet18"
CORPUS_SEED = 1001  # != DataConfig.seed (1): pretraining never sees the default PPG corpus' paired ECG


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=ROOT / "runs" / "make_pretrained")
    ap.add_argument("--out", type=Path, default=ROOT / "models")
    ap.add_argument("--windows", type=int, default=8000)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1)  # 1: on a shared 2-core box 2 threads ran 5x slower
    args = ap.parse_args(argv)

    from edgeppg.data.corpus import build_corpus
    from edgeppg.train.checkpoint import load_checkpoint, save_checkpoint
    from edgeppg.train.transfer import pretrain

    data_cfg = DataConfig(n_windows=args.windows, seed=CORPUS_SEED, use_real=True)
    cfg = PretrainConfig(model="resnet18", width=args.width, loss_balance="uncertainty",
                         fit=FitConfig(epochs=args.epochs, batch_size=64, lr=3e-3, patience=0, seed=0,
                                       num_threads=args.threads))
    data_dir = args.work / "data"
    if not (data_dir / "corpus.json").is_file():
        build_corpus(data_dir, data_cfg.n_windows, data_cfg.seed, window_s=data_cfg.window_s,
                     fs_ecg=data_cfg.fs_ecg_hz, fs_ppg=data_cfg.fs_ppg_hz, workers=args.threads)
    res = pretrain(cfg, data_dir, args.work / "pretrain", data_cfg=data_cfg)

    ck = load_checkpoint(args.work / "pretrain" / "ecg.safetensors", expect_arch="resnet1d")
    m = res.metrics
    release = save_checkpoint(args.out / f"{NAME}.safetensors", ck.model, train_config=ck.meta["train_config"],
                              metrics=ck.meta["metrics"], input_spec=ck.meta["input"], half=True,
                              extra={"data": ck.meta["data"], "task": ck.meta["task"], "best_epoch": ck.meta["best_epoch"],
                                     "produced_by": "tools/make_pretrained.py", "data_config": data_cfg.__dict__})
    sha = sha256_file(release)
    real = m["data"]["real_ecg"]
    tm = ck.meta["metrics"]
    card = f"""# {NAME}: ECG-pretrained ResNet1d-18 (pre-activation v2, kernels 7/5/5/3)

Produced by `tools/make_pretrained.py` (seeded: a rerun with the same thread count gives bit-identical tensors).

| | |
|---|---|
| file | `models/{NAME}.safetensors` ({release.stat().st_size} bytes, fp16) + `models/{NAME}.json` sidecar |
| sha256 (file) | `{sha}` |
| architecture | resnet1d depth 18, width {args.width} (stages {args.width}/{2 * args.width}/{4 * args.width}/{8 * args.width} channels), {ck.meta['params']} parameters |
| input | {ck.meta['input']['channels']} channel ECG, {ck.meta['input']['fs_hz']:g} Hz, {ck.meta['input']['window_s']:g} s ({ck.meta['input']['samples']} samples), per-window z-score (eps 1e-6) |
| heads | rhythm (normal/brady/tachy/af/noise), HR (z*50+100 BPM), RR (z*6+15 breaths/min) |

## Data
- Synthetic paired generator (`edgeppg.data.synth`, {data_cfg.n_windows} windows, seed {CORPUS_SEED}), ECG at
  {data_cfg.fs_ecg_hz:g} Hz resampled to {ck.meta['input']['fs_hz']:g} Hz; split by record
  ({m['data']['n_train']} train / {m['data']['n_val']} val / {m['data']['n_test']} test windows).
- Real ECG from the catalog: {('%d train + %d held-out windows from %s, HR auto-labelled from R-peaks (rhythm unknown, masked)' % (real['n_train'], real['n_val'], ', '.join(real['recordings']))) if real.get('used') else 'not used (' + real.get('why', 'not installed') + ')'}.

## Task
Supervised multi-task: rhythm cross-entropy + HR and RR Huber regression, Kendall uncertainty weighting;
AdamW, one-cycle LR {cfg.fit.lr:g}, batch {cfg.fit.batch_size}, {args.epochs} epochs (best val epoch {ck.meta['best_epoch']}
restored), seed {cfg.fit.seed}, {args.threads} threads.

## Metrics (held-out synthetic ECG test split)
- rhythm macro-F1 {tm.get('rhythm_macro_f1', float('nan')):.3f}, accuracy {tm.get('rhythm_accuracy', float('nan')):.3f}
- HR MAE {tm.get('hr_mae_bpm', float('nan')):.2f} BPM, RR MAE {tm.get('rr_mae_bpm', float('nan')):.2f} breaths/min
- real ECG held-out HR MAE: {('%.2f BPM' % tm['real_ecg_hr_mae_bpm']) if 'real_ecg_hr_mae_bpm' in tm else 'n/a'}
- training time {m['train_seconds']:.0f} s ({m['windows_per_s']:.0f} windows/s, shared 2-core machine)

## Use
`edgeppg finetune --init {NAME} --out runs/teacher` (or `--init models/{NAME}.safetensors`). Fine-tuning uses
only the backbone (`edgeppg.train.transfer.feature_extractor`) and trains new heads on PPG.
"""
    atomic_write_text(args.out / f"{NAME}.md", card)
    print(f"wrote {release} ({release.stat().st_size} bytes, sha256 {sha})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
