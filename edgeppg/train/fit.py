"""The ONE training loop every stage uses (pretrain, finetune, distill): the objective is passed in.

    result = fit(model, objective, train_arrays, cfg.fit, run_dir, evaluate=lambda m: {...,"val_score": ...})

What it does: seeded shuffling (sharded like DistributedSampler under DDP), AdamW with one-cycle / cosine /
constant schedules (linear warmup), gradient clipping, early stopping on `cfg.monitor` (maximised) with
patience, best-weights restore, per-epoch metrics in run_dir/history.json, a tqdm bar on rank 0.

Resumable: after every epoch rank 0 writes run_dir/last.safetensors (model, best weights, optimizer
tensors, objective parameters) + run_dir/last.json (epoch, step, best score, history, optimizer scalars,
a fingerprint of config and data). Calling fit again with the same run_dir continues after the last
finished epoch and ends with the same weights as an uninterrupted run. Randomness (dropout) is reseeded
at the start of every epoch from (seed, epoch, rank) and batch orders are a function of (seed, epoch), so
no RNG state needs saving. Nothing is pickled.

Distributed: under `torchrun --nproc_per_node N` (WORLD_SIZE > 1) the process group is initialised (gloo on
CPU, nccl on GPU), the model is wrapped in DistributedDataParallel, batches are sharded, and rank 0 alone
evaluates and writes files; its early-stop decision is broadcast. Objectives must call `model(x)` (the
wrapped forward) for gradients to be synchronised; extra objective parameters are all-reduced here.
Frozen BatchNorm layers (all parameters requires_grad=False) are kept in eval mode so their running
statistics stay those of the pretrained network.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

import numpy as np
import torch
import torch.distributed as dist
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save
from torch import nn
from tqdm.auto import tqdm

from edgeppg.config import FitConfig
from edgeppg.errors import EdgePPGError
from edgeppg.faults import hold_point
from edgeppg.io import atomic_write_bytes, atomic_write_json, sha256_bytes, to_jsonable
from edgeppg.train.data import batches, check_arrays, epoch_order, to_batch

STATE_SCHEMA = "edgeppg.fitstate/1"


class Objective(Protocol):
    def loss(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]: ...

    def parameters(self) -> list[nn.Parameter]: ...


@dataclass
class FitResult:
    best_epoch: int
    best_score: float
    history: list[dict]
    stopped_early: bool
    checkpoint: Path | None


# ---------------------------------------------------------------- distributed

def setup_distributed() -> tuple[int, int]:
    """(rank, world). Initialises the process group once when launched by torchrun (WORLD_SIZE > 1)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1 or not dist.is_available():
        return 0, 1
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend)
    return dist.get_rank(), dist.get_world_size()


def is_main_process() -> bool:
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def shutdown_distributed() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def _device(world: int) -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")) if world > 1 else 0)
    return torch.device("cpu")


# ---------------------------------------------------------------- schedule

def lr_multiplier(step: int, total: int, schedule: str, warmup_frac: float) -> float:
    """LR factor at optimizer step `step` of `total` (linear warmup, then the schedule's decay)."""
    warm = int(round(warmup_frac * total))
    if schedule == "onecycle":
        # torch OneCycleLR's shape: start at 1/25, linear up to 1, cosine down to 1/1e4
        warm = max(warm, 1)
        if step < warm:
            return 1 / 25 + (1 - 1 / 25) * step / warm
        t = (step - warm) / max(total - warm, 1)
        return 1e-4 + (1 - 1e-4) * 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))
    if step < warm:
        return (step + 1) / warm
    if schedule == "cosine":
        t = (step - warm) / max(total - warm, 1)
        return 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))
    return 1.0


# ---------------------------------------------------------------- helpers

def _optimizer(model: nn.Module, objective: Objective, cfg: FitConfig,
               param_groups: Callable[[nn.Module], list[dict]] | None) -> torch.optim.AdamW:
    """Groups may carry "lr_mult" (x cfg.lr) or "lr"; objective parameters get their own group without decay."""
    groups = param_groups(model) if param_groups else [{"params": list(model.parameters()), "name": "model"}]
    out = []
    for g in groups:
        g = dict(g)
        g["params"] = list(g["params"])
        if not g["params"]:
            continue
        g["lr"] = float(g.get("lr", cfg.lr * float(g.pop("lr_mult", 1.0))))
        g.pop("lr_mult", None)
        g["base_lr"] = g["lr"]
        out.append(g)
    extra = list(objective.parameters())
    if extra:
        out.append({"params": extra, "lr": cfg.lr, "base_lr": cfg.lr, "weight_decay": 0.0, "name": "objective"})
    if not out:
        raise EdgePPGError("nothing to train: param_groups returned no parameters")
    return torch.optim.AdamW(out, lr=cfg.lr, weight_decay=cfg.weight_decay)


def _keep_frozen_bn_in_eval(model: nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            ps = list(m.parameters(recurse=False))
            if ps and not any(p.requires_grad for p in ps):
                m.eval()


def _trainable_signature(model: nn.Module) -> tuple[bool, ...]:
    return tuple(p.requires_grad for p in model.parameters())


def _clone_state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _fingerprint(cfg: FitConfig, train: dict[str, np.ndarray], world: int, model: nn.Module) -> str:
    """Resuming is only valid for the same config, data, world size and model shape."""
    h = hashlib.sha256()
    fit_keys = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in ("progress", "num_threads")}
    h.update(json.dumps(fit_keys, sort_keys=True).encode())
    h.update(f"world={world}".encode())
    for k in sorted(train):
        a = np.ascontiguousarray(train[k])
        h.update(f"{k}:{a.dtype}:{a.shape}".encode())
        h.update(a.tobytes())
    for k, v in model.state_dict().items():
        h.update(f"{k}:{tuple(v.shape)}".encode())
    return h.hexdigest()


def _seed_epoch(seed: int, epoch: int, rank: int) -> None:
    torch.manual_seed(int(np.random.SeedSequence([seed, epoch, rank]).generate_state(1)[0]))


# ---------------------------------------------------------------- resumable state

@dataclass
class _Progress:
    epoch: int = 0  # epochs finished
    step: int = 0
    best_score: float = float("-inf")
    best_epoch: int = -1
    bad_epochs: int = 0
    stopped_early: bool = False
    history: list = dataclasses.field(default_factory=list)


def _save_state(run_dir: Path, model: nn.Module, best: dict, opt: torch.optim.Optimizer, objective: Objective,
                prog: _Progress, fingerprint: str) -> None:
    tensors: dict[str, torch.Tensor] = {}
    for k, v in model.state_dict().items():
        tensors[f"model.{k}"] = v.detach().cpu().contiguous()
    for k, v in best.items():
        tensors[f"best.{k}"] = v.detach().cpu().contiguous()
    osd = opt.state_dict()
    for pid, st in osd["state"].items():
        for k, v in st.items():
            if torch.is_tensor(v):
                tensors[f"optim.{pid}.{k}"] = v.detach().cpu().contiguous()
    for i, p in enumerate(objective.parameters()):
        tensors[f"objective.{i}"] = p.detach().cpu().contiguous()
    blob = st_save(tensors, metadata={"schema": STATE_SCHEMA})
    scalars = {pid: {k: v for k, v in st.items() if not torch.is_tensor(v)} for pid, st in osd["state"].items()}
    meta = {"schema": STATE_SCHEMA, "tensors_sha256": sha256_bytes(blob), "fingerprint": fingerprint,
            "progress": to_jsonable(dict(dataclasses.asdict(prog), best_score=prog.best_score if math.isfinite(prog.best_score) else None)),
            "optimizer": {"param_groups": osd["param_groups"], "scalars": scalars},
            "rng": "reseeded per epoch from (seed, epoch, rank); nothing to restore"}
    atomic_write_bytes(run_dir / "last.safetensors", blob)
    atomic_write_json(run_dir / "last.json", meta)


def _load_state(run_dir: Path, model: nn.Module, opt: torch.optim.Optimizer, objective: Objective,
                fingerprint: str) -> tuple[_Progress, dict]:
    meta_path, blob_path = run_dir / "last.json", run_dir / "last.safetensors"
    fix = f"delete {meta_path} and {blob_path} to start over, or use another run folder"
    try:
        meta = json.loads(meta_path.read_text())
        blob = blob_path.read_bytes()
    except (OSError, json.JSONDecodeError) as exc:
        raise EdgePPGError(f"resume state in {run_dir} is unreadable ({exc.__class__.__name__}); {fix}") from None
    if meta.get("schema") != STATE_SCHEMA or sha256_bytes(blob) != meta.get("tensors_sha256"):
        raise EdgePPGError(f"resume state in {run_dir} is corrupt or incomplete (sha256 mismatch); {fix}")
    if meta["fingerprint"] != fingerprint:
        raise EdgePPGError(f"{run_dir} holds a run with a different config, data or model; {fix}")
    t = st_load(blob)
    model.load_state_dict({k[6:]: v for k, v in t.items() if k.startswith("model.")}, strict=True)
    best = {k[5:]: v for k, v in t.items() if k.startswith("best.")}
    state: dict[int, dict] = {}
    for k, v in t.items():
        if k.startswith("optim."):
            _, pid, name = k.split(".", 2)
            state.setdefault(int(pid), {})[name] = v
    for pid, sc in meta["optimizer"]["scalars"].items():
        state.setdefault(int(pid), {}).update(sc)
    groups = [dict(g, betas=tuple(g["betas"])) if "betas" in g else g for g in meta["optimizer"]["param_groups"]]
    opt.load_state_dict({"state": state, "param_groups": groups})
    with torch.no_grad():
        for i, p in enumerate(objective.parameters()):
            p.copy_(t[f"objective.{i}"])
    prog = _Progress(**meta["progress"])
    if prog.best_score is None:  # -inf went through JSON as null
        prog.best_score = float("-inf")
    return prog, best


# ---------------------------------------------------------------- the loop

def fit(model: nn.Module, objective: Objective, train: dict[str, np.ndarray], cfg: FitConfig, run_dir: Path, *,
        evaluate: Callable[[nn.Module], dict[str, float]],
        param_groups: Callable[[nn.Module], list[dict]] | None = None,
        on_epoch_start: Callable[[int, nn.Module], None] | None = None,
        save_fn: Callable[[Path, nn.Module, dict], Path] | None = None) -> FitResult:
    """Train `model` on `train` minimising objective.loss; see the module docstring for the behaviour."""
    run_dir = Path(run_dir)
    n = check_arrays(train)
    rank, world = setup_distributed()
    torch.set_num_threads(cfg.num_threads)
    torch.manual_seed(cfg.seed)
    device = _device(world)
    model.to(device)
    with torch.no_grad():
        for p in objective.parameters():
            p.data = p.data.to(device)
    if rank == 0:
        run_dir.mkdir(parents=True, exist_ok=True)

    opt = _optimizer(model, objective, cfg, param_groups)
    steps_per_epoch = len(batches(epoch_order(n, cfg.seed, 0, rank, world), cfg.batch_size))
    total_steps = cfg.epochs * steps_per_epoch
    fingerprint = _fingerprint(cfg, train, world, model)
    prog, best = _Progress(), _clone_state(model)
    if (run_dir / "last.json").exists():
        prog, best = _load_state(run_dir, model, opt, objective, fingerprint)
        model.to(device)
        best = {k: v.to(device) for k, v in best.items()}

    trainable = [p for g in opt.param_groups for p in g["params"]]
    wrapped, wrapped_sig = model, None
    while prog.epoch < cfg.epochs and not prog.stopped_early:
        epoch = prog.epoch
        _seed_epoch(cfg.seed, epoch, rank)
        model.train()
        if on_epoch_start is not None:
            on_epoch_start(epoch, model)
        _keep_frozen_bn_in_eval(model)
        if world > 1 and _trainable_signature(model) != wrapped_sig:
            # DDP registers trainable parameters at construction: rewrap when unfreezing changes them
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*find_unused_parameters.*")
                wrapped = nn.parallel.DistributedDataParallel(
                    model, device_ids=[device.index] if device.type == "cuda" else None, find_unused_parameters=True)
            wrapped_sig = _trainable_signature(model)

        t0 = time.perf_counter()
        sums: dict[str, float] = {}
        n_batches = seen = 0
        order = batches(epoch_order(n, cfg.seed, epoch, rank, world), cfg.batch_size)
        bar = tqdm(order, desc=f"epoch {epoch + 1}/{cfg.epochs}", leave=False, dynamic_ncols=True,
                   disable=not (rank == 0 and cfg.progress))
        for idx in bar:
            mult = lr_multiplier(prog.step, total_steps, cfg.schedule, cfg.warmup_frac)
            for g in opt.param_groups:
                g["lr"] = g["base_lr"] * mult
            batch = to_batch(train, idx, device)
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*find_unused_parameters.*")
                loss, parts = objective.loss(wrapped, batch)
            if not torch.isfinite(loss):
                raise EdgePPGError(f"training loss became {float(loss)} at epoch {epoch + 1}, step {prog.step}; "
                                   f"lower fit.lr (now {cfg.lr}) or check the inputs for NaN/Inf")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if world > 1:
                for p in objective.parameters():  # not inside DDP: average their gradients by hand
                    if p.grad is not None:
                        dist.all_reduce(p.grad)
                        p.grad /= world
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_([p for p in trainable if p.grad is not None], cfg.grad_clip)
            opt.step()
            prog.step += 1
            n_batches += 1
            seen += len(idx)
            sums["train_loss"] = sums.get("train_loss", 0.0) + float(loss.detach())
            for k, v in parts.items():
                sums[k] = sums.get(k, 0.0) + float(v)
            if n_batches % 10 == 0:
                bar.set_postfix(loss=f"{sums['train_loss'] / n_batches:.4f}")
        bar.close()
        train_s = time.perf_counter() - t0
        entry = {"epoch": epoch + 1, "lr": opt.param_groups[0]["base_lr"] * mult, "train_seconds": round(train_s, 3),
                 "windows_per_s": round(seen * world / max(train_s, 1e-9), 1)}
        local = torch.tensor([sums.get("train_loss", 0.0) / max(n_batches, 1)], dtype=torch.float64)
        if world > 1:
            dist.all_reduce(local)
            local /= world
        entry["train_loss"] = float(local[0])
        entry.update({k: v / max(n_batches, 1) for k, v in sums.items() if k != "train_loss"})

        decision = [None]
        if rank == 0:
            model.eval()
            metrics = evaluate(model)
            model.train()
            if cfg.monitor not in metrics:
                raise EdgePPGError(f"evaluate() returned no {cfg.monitor!r} (fit.monitor); it returned {sorted(metrics)}")
            score = float(metrics[cfg.monitor])
            score = score if math.isfinite(score) else float("-inf")
            entry.update({k: float(v) for k, v in metrics.items()})
            improved = score > prog.best_score or prog.best_epoch < 0
            decision = [{"entry": entry, "improved": improved, "score": score}]
        if world > 1:
            dist.broadcast_object_list(decision, src=0)
        d = decision[0]
        entry = d["entry"]
        prog.history.append(entry)
        if d["improved"]:
            prog.best_score, prog.best_epoch, prog.bad_epochs = d["score"], epoch + 1, 0
            best = _clone_state(model)
        else:
            prog.bad_epochs += 1
            if cfg.patience > 0 and prog.bad_epochs >= cfg.patience:
                prog.stopped_early = True
        prog.epoch = epoch + 1
        if rank == 0:
            atomic_write_json(run_dir / "history.json", to_jsonable(prog.history))
            _save_state(run_dir, model, best, opt, objective, prog, fingerprint)
            hold_point("epoch-saved")
            if cfg.progress:
                shown = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in entry.items()
                         if k in ("train_loss", cfg.monitor, "rhythm_macro_f1", "hr_mae_bpm", "windows_per_s")}
                tqdm.write(f"epoch {epoch + 1}/{cfg.epochs} {shown}")
        barrier()

    model.load_state_dict(best)
    model.to("cpu")
    model.eval()
    ckpt = None
    if rank == 0:
        info = {"best_epoch": prog.best_epoch, "best_score": prog.best_score, "stopped_early": prog.stopped_early,
                "metrics": next((h for h in prog.history if h["epoch"] == prog.best_epoch), {}), "fit": cfg}
        if save_fn is not None:
            ckpt = save_fn(run_dir / "best.safetensors", model, info)
        elif getattr(model, "arch", None) is not None:
            from edgeppg.train.checkpoint import save_checkpoint  # late: checkpoint imports the model registry

            ckpt = save_checkpoint(run_dir / "best.safetensors", model, train_config=cfg, metrics=info["metrics"])
    barrier()
    return FitResult(best_epoch=prog.best_epoch, best_score=prog.best_score, history=list(prog.history),
                     stopped_early=prog.stopped_early, checkpoint=Path(ckpt) if ckpt is not None else None)
