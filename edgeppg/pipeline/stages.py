"""Resumable stages: each stage folder records the config slice and input hashes it was made from.

RUN/.stages/<stage>.json          written LAST (atomically) when a stage finishes: config hash, input
                                  hashes, output files with sha256, metrics, seconds. Matching = skip.
RUN/.stages/<stage>.attempt.json  written when a stage starts: if a later run has a different
                                  config/inputs, the half-finished RUN/<stage>/ is wiped; if it matches,
                                  the stage resumes in place (training picks up its last epoch checkpoint).
Bookkeeping lives outside RUN/<stage>/ so each stage folder holds only that stage's own outputs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from edgeppg.errors import EdgePPGError
from edgeppg.faults import hold_point
from edgeppg.io import atomic_write_json, dumps_json, sha256_file
from edgeppg.outdir import MARKER, has_marker, write_marker

STAGE_SCHEMA = "edgeppg.stage/1"


def _plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj):
        return dataclasses.asdict(obj)
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    return obj


def config_hash(obj: Any) -> str:
    return hashlib.sha256(dumps_json(_plain(obj)).encode()).hexdigest()


@dataclass
class StageContext:
    name: str
    dir: Path
    config: Any
    inputs: dict[str, "StageRecord"]
    log: Callable[[str], None]

    def input_dir(self, stage: str) -> Path:
        return self.inputs[stage].dir


@dataclass
class StageRecord:
    name: str
    dir: Path
    config_sha256: str
    input_sha256: dict[str, str]
    outputs: dict[str, str]  # relative file -> sha256
    metrics: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    skipped: bool = False

    @property
    def sha256(self) -> str:
        """What downstream stages key on: the hash of this stage's outputs."""
        return hashlib.sha256(dumps_json(self.outputs).encode()).hexdigest()

    def to_json(self) -> dict:
        return {"schema": STAGE_SCHEMA, "name": self.name, "config_sha256": self.config_sha256,
                "input_sha256": self.input_sha256, "outputs": self.outputs, "metrics": self.metrics,
                "seconds": self.seconds}


@dataclass
class Stage:
    name: str
    config: Any
    needs: tuple[str, ...]
    fn: Callable[[StageContext], dict]  # does the work inside ctx.dir, returns key metrics
    outputs: Callable[[Path], list[Path]] | None = None  # which files to hash (default: all files)
    extra_inputs: Callable[[], dict[str, str]] | None = None  # e.g. a shipped checkpoint's sha256


def _hash_outputs(stage_dir: Path, files: list[Path] | None) -> dict[str, str]:
    if files is None:
        files = [p for p in stage_dir.rglob("*") if p.is_file() and not p.name.startswith(".")]
    return {str(p.relative_to(stage_dir)): sha256_file(p) for p in sorted(files)}


def _load_record(p: Path) -> dict | None:
    if not p.is_file():
        return None
    try:
        rec = json.loads(p.read_text())
    except (ValueError, UnicodeDecodeError, RecursionError, OSError):
        return None  # truncated or foreign: the stage simply reruns
    ok = (isinstance(rec, dict) and rec.get("schema") == STAGE_SCHEMA and isinstance(rec.get("config_sha256"), str)
          and isinstance(rec.get("input_sha256"), dict) and isinstance(rec.get("outputs"), dict)
          and all(isinstance(k, str) and isinstance(v, str) and ".." not in Path(k).parts and not Path(k).is_absolute()
                  for k, v in rec["outputs"].items())
          and isinstance(rec.get("metrics", {}), dict) and isinstance(rec.get("seconds", 0.0), (int, float)))
    return rec if ok else None


def _outputs_intact(stage_dir: Path, outputs: dict[str, str]) -> bool:
    for rel, sha in outputs.items():
        p = stage_dir / rel
        if not p.is_file() or sha256_file(p) != sha:
            return False
    return True


def _own_or_refuse(stage_dir: Path, attempted: bool) -> None:
    """Only a folder edgeppg made (its marker, or an attempt record from before markers) may be wiped or reused."""
    if has_marker(stage_dir) or attempted or (stage_dir.is_dir() and not any(stage_dir.iterdir())):
        return
    raise EdgePPGError(f"{stage_dir} exists but edgeppg did not create it (no {MARKER} marker); a run would delete "
                       f"or overwrite it — move it away or choose another --out")


def run_stage(stage: Stage, run_dir: Path, done: dict[str, StageRecord], log: Callable[[str], None]) -> StageRecord:
    """Skip when the record matches config + inputs and outputs are intact; else (re)run, resuming in place."""
    stage_dir = run_dir / stage.name
    book = run_dir / ".stages"
    record_path, attempt_path = book / f"{stage.name}.json", book / f"{stage.name}.attempt.json"
    cfg_sha = config_hash(stage.config)
    input_sha = {n: done[n].sha256 for n in stage.needs}
    if stage.extra_inputs:
        input_sha.update(stage.extra_inputs())
    rec = _load_record(record_path)
    if (rec and rec["config_sha256"] == cfg_sha and rec["input_sha256"] == input_sha
            and _outputs_intact(stage_dir, rec["outputs"])):
        return StageRecord(stage.name, stage_dir, cfg_sha, input_sha, rec["outputs"], rec.get("metrics", {}),
                           rec.get("seconds", 0.0), skipped=True)
    attempt = {"config_sha256": cfg_sha, "input_sha256": input_sha}
    try:
        prev = json.loads(attempt_path.read_text()) if attempt_path.is_file() else None
    except (ValueError, UnicodeDecodeError, RecursionError, OSError):
        prev = None  # truncated attempt record: treat the folder as made from other inputs
    if stage_dir.exists() and prev != attempt:
        _own_or_refuse(stage_dir, attempt_path.is_file())
        shutil.rmtree(stage_dir)  # made from other config/inputs: nothing in it can be reused
    record_path.unlink(missing_ok=True)
    if stage_dir.exists():
        _own_or_refuse(stage_dir, attempt_path.is_file())
    stage_dir.mkdir(parents=True, exist_ok=True)
    write_marker(stage_dir, f"stage:{stage.name}")
    atomic_write_json(attempt_path, attempt)
    t0 = time.perf_counter()
    ctx = StageContext(stage.name, stage_dir, stage.config, {n: done[n] for n in stage.needs}, log)
    metrics = stage.fn(ctx) or {}
    seconds = time.perf_counter() - t0
    outputs = _hash_outputs(stage_dir, stage.outputs(stage_dir) if stage.outputs else None)
    record = StageRecord(stage.name, stage_dir, cfg_sha, input_sha, outputs, metrics, round(seconds, 3))
    atomic_write_json(record_path, record.to_json())
    hold_point(f"stage-done:{stage.name}")
    return record


def run_stages(stages: list[Stage], run_dir: Path, log: Callable[[str], None],
               on_done: Callable[[StageRecord], None] | None = None) -> dict[str, StageRecord]:
    done: dict[str, StageRecord] = {}
    for st in stages:
        log(f"[{st.name}] ...")
        rec = run_stage(st, run_dir, done, log)
        done[st.name] = rec
        if on_done:
            on_done(rec)
    return done
