"""`edgeppg bench`: generate, build, run and check the firmware harness; write bench.json."""

from __future__ import annotations

import json
import os
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

from edgeppg.bench.build import ICOUNT_SHIFT, QEMU_MACHINE, build, harness_argv, memory_report, require_tools, tools_for
from edgeppg.bench.protocol import Harness
from edgeppg.errors import CheckFailed, EdgePPGError
from edgeppg.firmware.codegen import load_firmware_graph, write_model
from edgeppg.int8.fixedpoint import quantize
from edgeppg.int8.tflm import tflm_outputs
from edgeppg.io import atomic_write_json, sha256_file

BENCH_TARGETS = ("host", "qemu-m4", "qemu-m33")


def checked_export(export_dir: Path):
    """THE artifact check verify uses (edgeppg.verify.artifacts): a schema-valid manifest, every listed artifact's
    sha256, student_int8.tflite listed, and the model parsed in a child process first. A folder verify refuses,
    bench refuses, with the same line."""
    from edgeppg.verify.artifacts import TFLITE, verify_artifacts

    if not Path(export_dir).is_dir():
        raise EdgePPGError(f"export dir not found: {export_dir}")
    return verify_artifacts(export_dir, need=(TFLITE,))


def read_export(export_dir: Path) -> tuple[Path, dict]:
    """The .tflite to bench and the manifest, after `checked_export`."""
    ed = checked_export(Path(export_dir))
    return ed.file("student_int8.tflite"), ed.manifest


def _find_heldout(export_dir: Path, manifest: dict) -> Path | None:
    """The held-out windows the manifest names (`heldout.file`), only if listed as an artifact (sha256 checked)."""
    held = manifest.get("heldout")
    name = held.get("file") if isinstance(held, dict) else None
    if isinstance(name, str) and name in (manifest.get("artifacts") or {}) and (export_dir / name).is_file():
        return export_dir / name
    return None


def _to_model_input(arr: np.ndarray, in_shape: tuple, scale: float, zp: int) -> np.ndarray:
    """(N, C, T) or (N, T, C) float windows (windows contract) or int8 -> (N, *in_shape[1:]) int8."""
    want = tuple(in_shape[1:])
    if arr.ndim == len(want):  # a single window
        arr = arr[None]
    body = arr.shape[1:]
    if body != want:
        if len(body) == 2 and body[::-1] == want:
            arr = np.swapaxes(arr, 1, 2)
        elif int(np.prod(body)) == int(np.prod(want)) and len(want) == 2 and want[1] == 1:
            arr = arr.reshape((len(arr),) + want)
        else:
            raise EdgePPGError(f"held-out windows have shape {list(arr.shape[1:])}; the model input is {list(want)}")
    if arr.dtype == np.int8:
        return np.ascontiguousarray(arr)
    if not scale:
        raise EdgePPGError("float held-out windows need the model input's int8 scale, which is missing")
    return quantize(arr, scale, zp)


def load_windows(export_dir: Path, manifest: dict, tflite: Path, n: int, seed: int) -> tuple[np.ndarray, dict]:
    g = load_firmware_graph(tflite)
    t = g.tensors[g.inputs[0]]
    scale, zp = float(t.s) if t.scale.size else 0.0, t.zp
    held = _find_heldout(export_dir, manifest)
    if held is not None:
        from edgeppg.io import load_npz

        try:
            z = load_npz(held)
        except EdgePPGError:
            raise
        except Exception as exc:  # noqa: BLE001 - a corrupt archive is one line, not a zipfile traceback
            raise EdgePPGError(f"{held} is not a readable .npz ({type(exc).__name__}); re-run `edgeppg export`") from None
        key = "x"  # the windows contract's signal array (docs/design.md §1)
        if key not in z:
            raise EdgePPGError(f"{held} has no window array (expected key 'x')")
        arr = z[key]
        if arr.dtype.kind not in "fiu":
            raise EdgePPGError(f"{held}: array {key!r} is {arr.dtype}, not numeric")
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise EdgePPGError(f"{held}: array {key!r} holds NaN/Inf samples; held-out windows must be finite "
                               "(re-run `edgeppg export`)")
        x = _to_model_input(arr, t.shape, scale, zp)
        if n and len(x) > n:
            x = x[:n]
        return x, {"source": held.name, "key": key, "count": int(len(x))}
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, size=(n,) + tuple(t.shape[1:]), dtype=np.int8)
    return x, {"source": "random-int8", "seed": seed, "count": int(n)}


def _ticks_per_instruction(h: Harness) -> Fraction:
    """Measured, not assumed: two spin loops of 2N instructions, differenced to cancel the call."""
    vals = {}
    for n in (1000, 101000):
        line = next(l for l in h.cmd(f"calib {n}") if l.startswith("m-calib-"))
        vals[n] = int(line.split("ticks=")[1].rstrip("]"))
    return Fraction(vals[101000] - vals[1000], 2 * 100000)


def _typical(t: dict) -> int:
    """Median of 3 runs (total - min - max): QEMU's icount timer read is occasionally off by ~4
    instructions in one run (translation-block boundary effects); the median is stable run to run."""
    return t["total"] - t["min"] - t["max"] if t["runs"] == 3 else t["min"]


def quality_gate_spec(manifest: dict) -> tuple[int, int] | None:
    """(rhythm output tensor index, noise class index) from the manifest; None when the model has no such head."""
    for o in manifest.get("outputs") or []:
        if o.get("name") == "rhythm" and o.get("kind") == "classes" and "noise" in (o.get("labels") or []):
            return int(o["index"]), list(o["labels"]).index("noise")
    return None


def _differing(outs: list, ref: list) -> list[int]:
    """Indices of output tensors that differ from the reference; a missing or extra output counts as differing."""
    n = max(len(outs), len(ref))
    return [j for j in range(n) if j >= len(outs) or j >= len(ref) or not np.array_equal(outs[j], ref[j])]


def _host_opt_mismatches(model_dir: Path, build_dir: Path, x: np.ndarray, golden: list, timeout: float) -> int:
    """Host runs the portable kernels in the main loop; this checks the DSP path too, its intrinsics emulated in C."""
    exe = build(model_dir, "host", build_dir, opt=True)
    bad = 0
    with Harness(harness_argv("host", exe), timeout=timeout) as h:
        for w, ref in zip(x, golden):
            h.load(w)
            bad += bool(_differing(h.infer(1, 0)[1], ref))
    return bad


def run_bench(export_dir: str | os.PathLike, target: str, out_dir: str | os.PathLike, windows: int = 100,
              seed: int = 0, optimized: bool = True, timeout: float = 120.0) -> dict:
    """Generate + build + run + compare against TFLM; writes and returns out_dir/bench.json."""
    if target not in BENCH_TARGETS:
        raise EdgePPGError(f"unknown bench target {target!r}; valid: {', '.join(BENCH_TARGETS)}")
    from edgeppg.outdir import check_writable

    export_dir, out_dir = Path(export_dir), Path(out_dir)
    check_writable(out_dir, "--out")
    require_tools(*tools_for(target))
    ed = checked_export(export_dir)
    tflite, manifest = ed.file("student_int8.tflite"), ed.manifest
    t0 = time.monotonic()
    gate = quality_gate_spec(manifest)
    gen = write_model(tflite, out_dir / "build" / "model", model_name=(manifest.get("model") or {}).get("name"),
                      gate=gate)
    if gate is not None and gate[0] >= len(gen.output_bytes):
        raise EdgePPGError(f"manifest output 'rhythm' has index {gate[0]} but the model has {len(gen.output_bytes)} "
                           "outputs; re-run `edgeppg export`")
    exe = build(out_dir / "build" / "model", target, out_dir / "build" / target,
                opt=optimized if target != "host" else False)  # host: portable here, DSP path below
    x, win_info = load_windows(export_dir, manifest, tflite, windows, seed)
    if len(x) == 0:
        raise EdgePPGError("no input windows to run")
    golden = tflm_outputs(tflite, x, len(gen.output_bytes))

    mismatches, first_bad, gate_disagree, hr_invalid = 0, None, 0, 0
    with Harness(harness_argv(target, exe), timeout=timeout) as h:
        prof = h.profile()
        tpi = _ticks_per_instruction(h) if target in QEMU_MACHINE else None
        h.load(x[0])
        timing, _ = h.infer(3, 2)
        again, _ = h.infer(3, 2)
        per_layer = h.layers()
        for i, (w, ref) in enumerate(zip(x, golden)):
            h.load(w)
            _, outs = h.infer(1, 0)
            bad = _differing(outs, ref)
            if gate is not None:
                py_valid = int(np.argmax(ref[gate[0]])) != gate[1]  # the Python gate on TFLM's own outputs
                hr_invalid += not py_valid
                gate_disagree += h.last_gate is None or h.last_gate[1] != py_valid
            if bad:
                mismatches += 1
                if first_bad is None:
                    first_bad = {"window": i, "output": bad[0],
                                 "firmware": outs[bad[0]].tolist() if bad[0] < len(outs) else "missing",
                                 "tflm": ref[bad[0]].tolist() if bad[0] < len(ref) else "missing"}
        stack = h.profile().get("stack", {})
    host_paths = None
    if target == "host":
        host_paths = {"portable": mismatches,
                      "opt-emulated": _host_opt_mismatches(out_dir / "build" / "model", out_dir / "build" / "host-opt",
                                                           x, golden, timeout)}
        mismatches = max(host_paths.values())

    stack_used = int(stack.get("used") or 0) or None
    mem = memory_report(exe, target, stack_used) if target != "host" else None
    result = {
        "target": target,
        "macs": gen.macs,
        "windows": int(len(x)),
        "bitexact_vs_tflm": mismatches == 0,
        "stack_bytes": stack_used,
        "flash_bytes": mem["flash_bytes"] if mem else None,
        "ram_bytes": mem["ram_bytes"] if mem else None,
    }
    if tpi is not None:
        ipi = round(_typical(timing) / tpi)
        result["instructions_per_inference"] = ipi
        result["instructions_per_mac"] = round(ipi / gen.macs, 4) if gen.macs else None
        result["cycles_per_inference"] = None
        repeat_ok = ipi == round(_typical(again) / tpi)
    else:
        result["instructions_per_inference"] = None
        result["instructions_per_mac"] = None
        result["cycles_per_inference"] = None
        repeat_ok = None
    result["details"] = {
        "model": {"tflite": tflite.name, "sha256": sha256_file(tflite), "layers": gen.layers,
                  "op_counts": gen.op_counts, "arena_bytes": gen.arena_bytes, "input_bytes": gen.input_bytes,
                  "output_bytes": gen.output_bytes},
        "kernels": prof.get("profile", {}).get("kernels"),
        "port": prof.get("profile", {}),
        "windows": win_info,
        "mismatched_windows": mismatches,
        **({"host_paths_checked": host_paths} if host_paths is not None else {}),
        "quality_gate": None if gate is None else {
            "rhythm_output": gate[0], "noise_class": gate[1], "hr_invalid_windows": hr_invalid,
            "agrees_with_python": gate_disagree == 0,
            "rule": "HR reported only when argmax(rhythm) != noise (edgeppg.quality, firmware m-gate line)"},
        "first_mismatch": first_bad,
        "timing": {"raw": timing, "repeat": again, "unit": timing["unit"], "identical_across_runs": repeat_ok},
        "per_layer": [dict(l, instructions=round(l["ticks"] / tpi) if tpi else None) for l in per_layer],
        "memory": mem,
        "seconds": round(time.monotonic() - t0, 2),
    }
    if tpi is not None:
        result["details"]["qemu"] = {"machine": QEMU_MACHINE[target], "icount_shift": ICOUNT_SHIFT,
                                     "ticks_per_instruction": float(tpi),
                                     "note": "QEMU is not cycle-accurate: counts are executed instructions"}
    else:
        result["details"]["host"] = {"ns_per_inference": timing["min"], "ns_median_of_3": _typical(timing),
                                     "note": "host wall time (CLOCK_MONOTONIC), not cycles; "
                                             "cycles_per_inference needs a board (generic-cm port, DWT CYCCNT)"}
    from edgeppg.seal import seal

    # bound to what it measured and sealed: verify/check use these figures only for exactly this export
    result["binding"] = {"manifest_sha256": ed.manifest_sha256, "tflite_sha256": ed.artifact_sha256[tflite.name]}
    result = seal(result)
    atomic_write_json(out_dir / "bench.json", result)
    if mismatches:
        raise CheckFailed(f"{mismatches}/{len(x)} windows differ from TFLM (first: {first_bad}); see {out_dir / 'bench.json'}")
    return result
