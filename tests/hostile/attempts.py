"""The hostile-input attempts of issue 12, crafted again: each one builds its files in a scratch folder, runs
one `edgeppg` command (in-process through edgeppg.cli.main.main, or as a subprocess for exact exit signals and
peak RSS) and is classified.

    clean refusal      exit 1/2 (or a gate that did not pass), one `edgeppg: error:` line, no traceback
    traceback          a Python traceback (subprocess) or an exception escaping main() (in-process)
    crash              killed by a signal
    code executed      the payload's marker file exists afterwards
    user file lost     a file the attempt planted as "the user's" is gone or changed
    forged gate passed a forged verify.json/bench.json/manifest made `check`/`verify`/`bench` exit 0

`tools/hostile_table.py` runs them all as subprocesses and prints the table; tests/test_hostile.py runs them
in-process (fast) and requires zero tracebacks, crashes, executions, losses and passed forgeries.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import pickle
import resource
import shutil
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

REPO = Path(__file__).resolve().parents[2]
PY = sys.executable


@dataclass
class Attempt:
    name: str
    group: str
    make: Callable[["Ctx"], list[str]]  # builds files, returns argv for `edgeppg`
    forge: bool = False  # exit 0 means a forged gate passed
    bomb: bool = False  # report peak RSS
    needs: tuple[str, ...] = ()  # "toy" (a verified toy export), "ckpt" (a student checkpoint), "gcc"
    recovers: bool = False  # the right answer is to carry on (exit 0) without a traceback, not to refuse


@dataclass
class Ctx:
    root: Path  # scratch folder for this attempt
    toy: Path | None = None
    ckpt: Path | None = None
    marker: Path = field(init=False)
    keep: dict[Path, bytes] = field(default_factory=dict)  # user files that must survive

    def __post_init__(self):
        self.marker = self.root / "PWNED"

    def user_file(self, path: Path, text: str = "my thesis data\n") -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        self.keep[path] = text.encode()
        return path

    def export_copy(self) -> Path:
        d = self.root / "export"
        shutil.copytree(self.toy, d)
        return d

    def manifest(self, d: Path) -> dict:
        return json.loads((d / "manifest.json").read_text())

    def write_manifest(self, d: Path, m) -> None:
        data = m if isinstance(m, bytes) else m.encode() if isinstance(m, str) else json.dumps(m).encode()
        (d / "manifest.json").write_bytes(data)

    def reseal(self, d: Path, name: str, data: bytes) -> None:
        """Replace an artifact AND update its sha256/bytes in the manifest (what a forger does)."""
        from edgeppg.io import sha256_bytes

        (d / name).write_bytes(data)
        m = self.manifest(d)
        m["artifacts"][name] = {"bytes": len(data), "sha256": sha256_bytes(data)}
        self.write_manifest(d, m)

    def budget(self, text: str) -> Path:
        p = self.root / "budget.toml"
        p.write_text(text)
        return p

    def sidecar(self, edit: Callable[[dict], None]) -> Path:
        d = self.root / "ck"
        d.mkdir(exist_ok=True)
        shutil.copy(self.ckpt, d / "s.safetensors")
        meta = json.loads(self.ckpt.with_suffix(".json").read_text())
        edit(meta)
        (d / "s.json").write_text(json.dumps(meta))
        return d / "s.safetensors"


def payload(marker: Path) -> str:
    return (f'x */\n#include <stdio.h>\n__attribute__((constructor)) static void pwn(void) '
            f'{{ FILE *f = fopen("{marker}", "w"); if (f) fclose(f); }}\n/* ')


# ---------------------------------------------------------------- crafting helpers

def _tflite_zero_subgraphs(ctx: Ctx) -> bytes:
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb
    import flatbuffers

    m = fb.ModelT.InitFromObj(fb.Model.GetRootAs(bytearray((ctx.toy / "student_int8.tflite").read_bytes()), 0))
    m.subgraphs = []
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def _tflite_bad_tensor_index(ctx: Ctx) -> bytes:
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb
    import flatbuffers

    m = fb.ModelT.InitFromObj(fb.Model.GetRootAs(bytearray((ctx.toy / "student_int8.tflite").read_bytes()), 0))
    m.subgraphs[0].operators[0].inputs[0] = 100000
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def _tflite_bad_buffer(ctx: Ctx) -> bytes:
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb
    import flatbuffers

    m = fb.ModelT.InitFromObj(fb.Model.GetRootAs(bytearray((ctx.toy / "student_int8.tflite").read_bytes()), 0))
    for t in m.subgraphs[0].tensors:
        t.buffer = 999999
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def _tflite_huge_shape(ctx: Ctx) -> bytes:
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb
    import flatbuffers

    m = fb.ModelT.InitFromObj(fb.Model.GetRootAs(bytearray((ctx.toy / "student_int8.tflite").read_bytes()), 0))
    m.subgraphs[0].tensors[0].shape = [1, 1 << 30, 1 << 20]
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def _resealed(transform):
    def make(ctx: Ctx) -> list[str]:
        d = ctx.export_copy()
        data = transform(ctx) if callable(transform) else transform
        ctx.reseal(d, "student_int8.tflite", data)
        return ["verify", str(d), "--out", str(ctx.root / "v"), "--runs", "1", "--warmup", "0", "--no-plots"]
    return make


def _bench_resealed(transform):
    def make(ctx: Ctx) -> list[str]:
        d = ctx.export_copy()
        ctx.reseal(d, "student_int8.tflite", transform(ctx))
        return ["bench", str(d), "--target", "host", "--out", str(ctx.root / "b"), "--windows", "2"]
    return make


def _manifest_edit(edit, cmd="verify"):
    def make(ctx: Ctx) -> list[str]:
        d = ctx.export_copy()
        m = ctx.manifest(d)
        m = edit(m) or m
        ctx.write_manifest(d, m)
        if cmd == "bench":
            return ["bench", str(d), "--target", "host", "--out", str(ctx.root / "b"), "--windows", "2"]
        return ["verify", str(d), "--out", str(ctx.root / "v"), "--runs", "1", "--warmup", "0", "--no-plots"]
    return make


def _set(path: str, value):
    def edit(m):
        node = m
        *parents, leaf = path.split(".")
        for p in parents:
            node = node[int(p)] if isinstance(node, list) else node[p]
        if isinstance(node, list):
            node[int(leaf)] = value
        else:
            node[leaf] = value
    return edit


def _sidecar_edit(path: str, value):
    def make(ctx: Ctx) -> list[str]:
        ck = ctx.sidecar(_set(path, value))
        return ["export", "--student", str(ck), "--out", str(ctx.root / "exp")]
    return make


def _cfg(text: str, *extra):
    def make(ctx: Ctx) -> list[str]:
        p = ctx.root / "c.toml"
        (p.write_bytes(text) if isinstance(text, bytes) else p.write_text(text))
        return ["config", "show", "--config", str(p), *extra]
    return make


def _sets(*pairs):
    def make(ctx: Ctx) -> list[str]:
        args = ["run", "--preset", "smoke", "--out", str(ctx.root / "run")]
        for p in pairs:
            args += ["--set", p]
        return args
    return make


def _out_is_file(cmd: Callable[[Ctx, str], list[str]]):
    def make(ctx: Ctx) -> list[str]:
        f = ctx.user_file(ctx.root / "notes.txt")
        return cmd(ctx, str(f))
    return make


def _out_read_only(cmd: Callable[[Ctx, str], list[str]]):
    def make(ctx: Ctx) -> list[str]:
        return cmd(ctx, "/proc/edgeppg-out")  # a read-only place even for root
    return make


def _csv(ctx: Ctx, text: str) -> Path:
    p = ctx.root / "rec.csv"
    p.write_text(text)
    return p


def _npz(ctx: Ctx, **arrays) -> Path:
    p = ctx.root / "rec.npz"
    np.savez(p, **arrays)
    return p


def _sparse_safetensors(ctx: Ctx) -> list[str]:
    p = ctx.root / "big.safetensors"
    with open(p, "wb") as fh:
        fh.write(struct.pack("<Q", 64) + b"{" + b" " * 62 + b"}")
        fh.truncate(3 << 30)  # 3 GB, sparse on disk
    shutil.copy(ctx.ckpt.with_suffix(".json"), p.with_suffix(".json"))
    return ["export", "--student", str(p), "--out", str(ctx.root / "exp")]


def _pickle_bomb(ctx: Ctx) -> list[str]:
    # _reconstruct(ndarray, (10**9,), b'b'): 65 bytes asking numpy for 1 GB before any data
    p = ctx.root / "S1.pkl"
    p.write_bytes(b"\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nJ\x00\xca\x9a;\x85U\x01b\x87R.")
    return ["data", "import", str(p), "--out", str(ctx.root / "imp")]


def _pickle_payload(ctx: Ctx) -> list[str]:
    class P:
        def __reduce__(self):
            return (os.system, (f"touch {ctx.marker}",))

    p = ctx.root / "S1.pkl"
    p.write_bytes(pickle.dumps(P(), protocol=2))
    return ["data", "import", str(p), "--out", str(ctx.root / "imp")]


def _npz_bomb(ctx: Ctx) -> list[str]:
    p = ctx.root / "rec.npz"
    np.savez_compressed(p, signal=np.zeros((30000, 25000), np.float32), fs_hz=np.float64(64))  # 3 GB inflated
    return ["data", "import", str(p), "--out", str(ctx.root / "imp")]


def _npz_header_lie(ctx: Ctx) -> list[str]:
    import zipfile

    p = ctx.root / "rec.npz"
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)})
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("signal.npy", buf.getvalue() + b"\0" * 64)
    return ["data", "import", str(p), "--out", str(ctx.root / "imp")]


def _forge_verify_json(ctx: Ctx) -> list[str]:
    from edgeppg.verify import VerifyConfig, verify_export

    d = ctx.export_copy()
    verify_export(d, cfg=VerifyConfig(latency_runs=1, latency_warmup=0, plots=False))
    vj = json.loads((d / "verify" / "verify.json").read_text())
    vj["model"]["model_bytes"] = 500  # the forgery: a 1,000 B budget for a model several times larger
    (d / "verify" / "verify.json").write_text(json.dumps(vj))
    return ["check", str(d), "--budget", str(ctx.budget("[flash]\nmax_model_bytes = 1000\n")), "--runs", "1",
            "--warmup", "0"]


def _forge_verify_json_resealed_inputs(ctx: Ctx) -> list[str]:
    """A complete hand-written verify.json whose `inputs` binding is recomputed correctly (no seal key)."""
    from edgeppg.verify import VerifyConfig, verify_export

    d = ctx.export_copy()
    verify_export(d, cfg=VerifyConfig(latency_runs=1, latency_warmup=0, plots=False))
    vj = json.loads((d / "verify" / "verify.json").read_text())
    vj["arena_bytes"] = 10
    vj["seal"] = {"alg": "hmac-sha256", "mac": "0" * 64}
    (d / "verify" / "verify.json").write_text(json.dumps(vj))
    return ["check", str(d), "--budget", str(ctx.budget("[ram]\nmax_arena_bytes = 100\n")), "--runs", "1",
            "--warmup", "0"]


def _forge_bench_json(ctx: Ctx) -> list[str]:
    d = ctx.export_copy()
    macs = ctx.manifest(d)["model"]["macs"]
    (d / "bench.json").write_text(json.dumps({"target": "qemu-m4", "instructions_per_inference": 10, "macs": macs,
                                              "instructions_per_mac": 10 / macs}))
    return ["check", str(d), "--budget", str(ctx.budget("[targets.nrf52840]\nmax_latency_ms = 1.0\n")),
            "--runs", "1", "--warmup", "0"]


def _forge_decode_add(ctx: Ctx) -> list[str]:
    d = ctx.export_copy()
    m = ctx.manifest(d)
    for o in m["outputs"]:
        if o["name"] == "hr":
            o["decode"]["add"] += 40.0
    ctx.write_manifest(d, m)
    return ["check", str(d), "--budget", str(ctx.budget("[flash]\nmax_model_bytes = 1000000\n")), "--runs", "1",
            "--warmup", "0"]


def _bench_manifest_deleted(ctx: Ctx) -> list[str]:
    d = ctx.export_copy()
    data = bytearray((d / "student_int8.tflite").read_bytes())
    data[300] ^= 1
    (d / "student_int8.tflite").write_bytes(bytes(data))
    (d / "manifest.json").unlink()
    return ["bench", str(d), "--target", "host", "--out", str(ctx.root / "b"), "--windows", "2"]


def _bench_entry_deleted(ctx: Ctx) -> list[str]:
    d = ctx.export_copy()
    data = bytearray((d / "student_int8.tflite").read_bytes())
    data[300] ^= 1
    (d / "student_int8.tflite").write_bytes(bytes(data))
    m = ctx.manifest(d)
    del m["artifacts"]["student_int8.tflite"]
    ctx.write_manifest(d, m)
    return ["bench", str(d), "--target", "host", "--out", str(ctx.root / "b"), "--windows", "2"]


def _nan_heldout(cmd: str):
    def make(ctx: Ctx) -> list[str]:
        from edgeppg.data.windows import load_windows, save_windows

        d = ctx.export_copy()
        w = load_windows(d / "heldout.npz")
        w.x[0, 0, :10] = np.nan
        save_windows(ctx.root / "h.npz", w)
        ctx.reseal(d, "heldout.npz", (ctx.root / "h.npz").read_bytes())
        if cmd == "bench":
            return ["bench", str(d), "--target", "host", "--out", str(ctx.root / "b"), "--windows", "2"]
        return ["verify", str(d), "--out", str(ctx.root / "v"), "--runs", "1", "--warmup", "0", "--no-plots"]
    return make


def _run_into_user_folder(ctx: Ctx) -> list[str]:
    out = ctx.root / "myproject"
    ctx.user_file(out / "data" / "recording.csv", "t,ppg\n0,1\n")
    ctx.user_file(out / "export" / "slides.txt")
    return ["run", "--preset", "smoke", "--out", str(out)]


def _run_into_old_run_with_user_stage(ctx: Ctx) -> list[str]:
    """A run folder edgeppg made earlier, with a user's own `verify/` folder put inside by hand: the stage
    library must refuse to wipe it (checked at library level, no training)."""
    from edgeppg.pipeline.stages import Stage, run_stages

    out = ctx.root / "run"
    (out / ".stages").mkdir(parents=True)
    ctx.user_file(out / "verify" / "notes.txt")
    (ctx.root / "lib.py").write_text(
        "import sys\nfrom pathlib import Path\nfrom edgeppg.pipeline.stages import Stage, run_stages\n"
        "from edgeppg.cli.main import main\nfrom edgeppg.errors import EdgePPGError\n"
        f"try:\n    run_stages([Stage('verify', {{}}, (), lambda c: {{}})], Path({str(out)!r}), print)\n"
        "except EdgePPGError as e:\n    print('edgeppg: error:', e, file=sys.stderr); sys.exit(2)\n")
    return ["--python", str(ctx.root / "lib.py")]


def _truncated_stage_record(ctx: Ctx) -> list[str]:
    out = ctx.root / "run"
    (out / ".stages").mkdir(parents=True)
    (out / ".stages" / "s.json").write_text('{"schema": "edgeppg.stage/1", "config_sha')
    (out / ".stages" / "s.attempt.json").write_text('{"config_sha256": ')
    (ctx.root / "lib.py").write_text(
        "from pathlib import Path\nfrom edgeppg.pipeline.stages import Stage, run_stages\n"
        f"run_stages([Stage('s', {{}}, (), lambda c: {{}})], Path({str(out)!r}), print)\n")
    return ["--python", str(ctx.root / "lib.py")]


def _export_into_foreign_manifest(ctx: Ctx) -> list[str]:
    out = ctx.root / "webapp"
    ctx.user_file(out / "manifest.json", '{"name": "my web app", "version": 3}\n')
    ctx.user_file(out / "index.html", "<html></html>\n")
    return ["export", "--student", str(ctx.ckpt), "--out", str(out)]


def _cmd_out(cmd: str) -> Callable[[Ctx, str], list[str]]:
    def argv(ctx: Ctx, out: str) -> list[str]:
        return {
            "run": ["run", "--preset", "smoke", "--out", out],
            "synth": ["data", "synth", "--n", "10", "--out", out],
            "export": ["export", "--student", str(ctx.ckpt), "--out", out],
            "verify": ["verify", str(ctx.toy), "--out", out, "--runs", "1", "--warmup", "0", "--no-plots"],
            "bench": ["bench", str(ctx.toy), "--target", "host", "--out", out, "--windows", "2"],
            "distill": ["distill", "--teacher", str(ctx.ckpt), "--out", out],
            "import": ["data", "import", str(_csv(ctx, "ppg\n" + "1\n2\n" * 400)), "--fs", "64", "--out", out],
        }[cmd]
    return argv


ATTEMPTS: list[Attempt] = [
    # 1. code execution through the model name
    Attempt("payload name in manifest -> bench", "code execution",
            _manifest_edit(lambda m: m["model"].__setitem__("name", payload(Path("/tmp/edgeppg-PWNED-bench"))), "bench"),
            needs=("toy", "gcc")),
    Attempt("payload name via export --name", "code execution",
            lambda c: ["export", "--student", str(c.ckpt), "--name", payload(c.marker), "--out", str(c.root / "e")],
            needs=("ckpt",)),
    Attempt("payload name via [export] name", "code execution",
            lambda c: (_cfg("[export]\nname = " + json.dumps(payload(c.marker)) + "\n")(c)[3:4] and
                       ["run", "--config", str(c.root / "c.toml"), "--out", str(c.root / "run")])),
    Attempt("pickle payload as DaLiA recording", "code execution", _pickle_payload),
    # 2. data loss
    Attempt("run --out into a user folder with data/ and export/", "data loss", _run_into_user_folder),
    Attempt("stage library over a user's verify/ folder", "data loss", _run_into_old_run_with_user_stage),
    Attempt("export --out over a folder with a foreign manifest.json", "data loss", _export_into_foreign_manifest,
            needs=("ckpt",)),
    # 3. forged gates
    Attempt("verify.json model_bytes edited to 500", "forged gate", _forge_verify_json, forge=True, needs=("toy",)),
    Attempt("verify.json with a fake seal", "forged gate", _forge_verify_json_resealed_inputs, forge=True, needs=("toy",)),
    Attempt("hand-written bench.json (10 instructions)", "forged gate", _forge_bench_json, forge=True, needs=("toy",)),
    Attempt("manifest HR decode add +40", "forged gate", _forge_decode_add, forge=True, needs=("toy",)),
    Attempt("bench on tampered .tflite, manifest deleted", "forged gate", _bench_manifest_deleted, forge=True,
            needs=("toy", "gcc")),
    Attempt("bench on tampered .tflite, manifest entry deleted", "forged gate", _bench_entry_deleted, forge=True,
            needs=("toy", "gcc")),
    # 4. malformed .tflite (resealed so the sha256 check passes)
    Attempt("tflite with 0 subgraphs -> verify", "malformed tflite", _resealed(_tflite_zero_subgraphs), needs=("toy",)),
    Attempt("tflite with 0 subgraphs -> bench", "malformed tflite", _bench_resealed(_tflite_zero_subgraphs),
            needs=("toy", "gcc")),
    Attempt("tflite operator tensor index 100000", "malformed tflite", _resealed(_tflite_bad_tensor_index), needs=("toy",)),
    Attempt("tflite tensors point at buffer 999999", "malformed tflite", _resealed(_tflite_bad_buffer), needs=("toy",)),
    Attempt("tflite tensor shape 2^50", "malformed tflite", _resealed(_tflite_huge_shape), needs=("toy",)),
    Attempt("tflite truncated to 100 bytes", "malformed tflite",
            _resealed(lambda c: (c.toy / "student_int8.tflite").read_bytes()[:100]), needs=("toy",)),
    Attempt("tflite = random bytes", "malformed tflite",
            _resealed(lambda c: np.random.default_rng(0).bytes(4096)), needs=("toy",)),
    Attempt("tflite = TFL3 header + zeros", "malformed tflite",
            _resealed(lambda c: b"\x10\0\0\0TFL3" + b"\0" * 2000), needs=("toy",)),
    # 5a. manifests with wrong types
    Attempt("manifest outputs = 5", "manifest types", _manifest_edit(_set("outputs", 5)), needs=("toy",)),
    Attempt("manifest input = []", "manifest types", _manifest_edit(_set("input", [])), needs=("toy",)),
    Attempt("manifest output index = '0'", "manifest types", _manifest_edit(_set("outputs.0.index", "0")), needs=("toy",)),
    Attempt("manifest output scale = 'x'", "manifest types", _manifest_edit(_set("outputs.1.scale", "x")), needs=("toy",)),
    Attempt("manifest artifacts entry = 7", "manifest types",
            _manifest_edit(lambda m: m["artifacts"].__setitem__("parity.json", 7)), needs=("toy",)),
    Attempt("manifest artifact path ../../etc/passwd", "manifest types",
            _manifest_edit(lambda m: m["artifacts"].__setitem__("../../etc/passwd", {"sha256": "0" * 64})), needs=("toy",)),
    Attempt("manifest labels = {}", "manifest types", _manifest_edit(_set("outputs.0.labels", {})), needs=("toy",)),
    Attempt("manifest nested 100k deep", "manifest types",
            _manifest_edit(lambda m: "[" * 100_000 + "]" * 100_000), needs=("toy",)),
    Attempt("manifest model.macs = 1e300", "manifest types", _manifest_edit(_set("model.macs", 1e300)), needs=("toy",)),
    Attempt("manifest = invalid UTF-8", "manifest types", _manifest_edit(lambda m: b'{"schema": "\xff\xfe"}'), needs=("toy",)),
    # 5b. checkpoint sidecars with wrong types / shapes
    Attempt("sidecar model_config = []", "sidecar types", _sidecar_edit("model_config", []), needs=("ckpt",)),
    Attempt("sidecar blocks = 'abc'", "sidecar types", _sidecar_edit("model_config.blocks", "abc"), needs=("ckpt",)),
    Attempt("sidecar block out_ch = '8'", "sidecar types", _sidecar_edit("model_config.blocks.0.out_ch", "8"), needs=("ckpt",)),
    Attempt("sidecar block kernel = -3", "sidecar types", _sidecar_edit("model_config.blocks.0.kernel", -3), needs=("ckpt",)),
    Attempt("sidecar heads = null", "sidecar types", _sidecar_edit("model_config.heads", None), needs=("ckpt",)),
    Attempt("sidecar head n_out = 0", "sidecar types", _sidecar_edit("model_config.heads.0.n_out", 0), needs=("ckpt",)),
    Attempt("sidecar samples = 'x'", "sidecar types", _sidecar_edit("model_config.samples", "x"), needs=("ckpt",)),
    Attempt("sidecar weights_sha256 = 5", "sidecar types", _sidecar_edit("weights_sha256", 5), needs=("ckpt",)),
    Attempt("sidecar = a list", "sidecar types",
            lambda c: (c.sidecar(lambda m: None), (c.root / "ck" / "s.json").write_text("[1, 2]"),
                       ["export", "--student", str(c.root / "ck" / "s.safetensors"), "--out", str(c.root / "e")])[-1],
            needs=("ckpt",)),
    Attempt("sidecar arch = 'resnet1d' with student config", "sidecar types", _sidecar_edit("arch", "resnet1d"),
            needs=("ckpt",)),
    # 5c. memory bombs
    Attempt("sidecar width 10^6", "memory bomb", _sidecar_edit("model_config.blocks.0.out_ch", 10**6), bomb=True,
            needs=("ckpt",)),
    Attempt("sidecar 10^4 blocks", "memory bomb",
            _sidecar_edit("model_config.blocks", [{"kind": "conv", "out_ch": 512, "kernel": 9}] * 10_000), bomb=True,
            needs=("ckpt",)),
    Attempt("3 GB sparse .safetensors", "memory bomb", _sparse_safetensors, bomb=True, needs=("ckpt",)),
    Attempt("65-byte DaLiA pickle asking for 1 GB", "memory bomb", _pickle_bomb, bomb=True),
    Attempt("3 MB .npz inflating to 3 GB", "memory bomb", _npz_bomb, bomb=True),
    Attempt(".npz header claiming 10^12 doubles", "memory bomb", _npz_header_lie, bomb=True),
    Attempt("data synth --n 1e9", "memory bomb", lambda c: ["data", "synth", "--n", "1000000000", "--out",
                                                            str(c.root / "s")], bomb=True),
    Attempt("--set data.n_windows=10^9", "memory bomb", _sets("data.n_windows=1000000000"), bomb=True),
    # 5d. config values
    Attempt("seed 10^32", "config", _sets("seed=100000000000000000000000000000000")),
    Attempt("seed -1", "config", _sets("distill.fit.seed=-1")),
    Attempt("lr = nan", "config", _sets("distill.fit.lr=nan")),
    Attempt("binary TOML", "config", _cfg(bytes(range(256)))),
    Attempt("epochs 10^12", "config", _sets("distill.fit.epochs=1000000000000")),
    Attempt("negative weight_decay", "config", _sets("distill.fit.weight_decay=-0.1")),
    Attempt("negative patience", "config", _sets("distill.fit.patience=-1")),
    Attempt("negative grad_clip", "config", _sets("distill.fit.grad_clip=-1.0")),
    Attempt("freeze_stages = 99", "config", _sets("finetune.freeze_stages=99")),
    Attempt("run --set budget=/etc/passwd", "config", _sets("budget=/etc/passwd")),
    # 5e. import
    Attempt("import --window-s nan", "import",
            lambda c: ["data", "import", str(_csv(c, "ppg\n1\n2\n")), "--fs", "64", "--window-s", "nan", "--out",
                       str(c.root / "i")]),
    Attempt("CSV field over 131k characters", "import",
            lambda c: ["data", "import", str(_csv(c, "ppg\n" + "1" * 200_000 + "\n")), "--fs", "64", "--out",
                       str(c.root / "i")]),
    Attempt("CSV with 10^6 columns (message size)", "import",
            lambda c: ["data", "import", str(_csv(c, ",".join(f"c{i}" for i in range(10**6)) + "\n")), "--fs", "64",
                       "--column", "nope", "--out", str(c.root / "i")]),
    Attempt("npz fs_hz as a string", "import",
            lambda c: ["data", "import", str(_npz(c, signal=np.sin(np.arange(4096) / 5.0), fs_hz=np.array("fast"))),
                       "--out", str(c.root / "i")]),
    Attempt("npz signal scaled to 1e300", "import",
            lambda c: ["data", "import", str(_npz(c, signal=1e300 * np.sin(np.arange(4096) / 5.0), fs_hz=64.0)),
                       "--out", str(c.root / "i")]),
    Attempt("truncated stage records (stage reruns)", "stage records", _truncated_stage_record, recovers=True),
    Attempt("NaN held-out windows -> verify", "held-out", _nan_heldout("verify"), needs=("toy",)),
    Attempt("NaN held-out windows -> bench", "held-out", _nan_heldout("bench"), needs=("toy", "gcc")),
]

# 5f. --out an existing file or a read-only place, for every command that writes
for _cmd in ("run", "synth", "export", "verify", "bench", "distill", "import"):
    _needs = {"export": ("ckpt",), "distill": ("ckpt",), "verify": ("toy",), "bench": ("toy", "gcc")}.get(_cmd, ())
    ATTEMPTS.append(Attempt(f"{_cmd} --out an existing file", "--out", _out_is_file(_cmd_out(_cmd)), needs=_needs))
    ATTEMPTS.append(Attempt(f"{_cmd} --out read-only", "--out", _out_read_only(_cmd_out(_cmd)), needs=_needs))


# ---------------------------------------------------------------- running and classifying

@dataclass
class Outcome:
    attempt: Attempt
    rc: int | None
    stderr: str
    traceback: bool
    crash: bool
    executed: bool
    lost: list[str]
    seconds: float
    peak_rss_mb: float | None = None

    @property
    def forged_passed(self) -> bool:
        return self.attempt.forge and self.rc == 0

    @property
    def clean(self) -> bool:
        if self.attempt.recovers:
            return self.rc == 0 and not (self.traceback or self.crash or self.executed or self.lost)
        lines = [ln for ln in self.stderr.splitlines() if ln.startswith("edgeppg: error:") or ln.startswith("Error:")]
        refused = self.rc in (1, 2) and bool(lines) and all(len(ln) <= 800 for ln in lines)
        return refused and not (self.traceback or self.crash or self.executed or self.lost)


def fixtures(root: Path, toy_cache: Path | None = None) -> dict:
    """A toy export (cached) and a small student checkpoint, shared by the attempts that need them."""
    from edgeppg.models.student import build_student, student_spec
    from edgeppg.train.checkpoint import save_checkpoint
    from tests.fixtures.toy import cached_toy_export
    import torch

    root.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    ckpt = save_checkpoint(root / "student.safetensors", build_student(student_spec("s2k")))
    return {"toy": cached_toy_export(toy_cache or root / "toycache"), "ckpt": ckpt}


def _env(root: Path) -> dict:
    return dict(os.environ, EDGEPPG_STATE_DIR=str(root / "state"), TF_CPP_MIN_LOG_LEVEL="3", OMP_NUM_THREADS="1")


def _prepare(a: Attempt, root: Path, fx: dict) -> tuple[Ctx, list[str]]:
    ctx = Ctx(root, toy=fx.get("toy"), ckpt=fx.get("ckpt"))
    root.mkdir(parents=True, exist_ok=True)
    old = os.environ.get("EDGEPPG_STATE_DIR")
    os.environ["EDGEPPG_STATE_DIR"] = str(root / "state")  # forgeries sealed in setup use the attempt's own key
    try:
        argv = a.make(ctx)
    finally:
        if old is None:
            os.environ.pop("EDGEPPG_STATE_DIR", None)
        else:
            os.environ["EDGEPPG_STATE_DIR"] = old
    return ctx, argv


def _judge(a: Attempt, ctx: Ctx, rc, err: str, tb: bool, secs: float, rss=None) -> Outcome:
    lost = [str(p) for p, data in ctx.keep.items() if not p.is_file() or p.read_bytes() != data]
    executed = ctx.marker.exists() or Path("/tmp/edgeppg-PWNED-bench").exists()
    crash = rc is not None and rc < 0
    return Outcome(a, rc, err, tb, crash, executed, lost, secs, rss)


def run_subprocess(a: Attempt, root: Path, fx: dict, timeout: float = 600) -> Outcome:
    """`python -m edgeppg.cli.main ARGV` (or a library script), with exit signal and peak RSS (wait4)."""
    ctx, argv = _prepare(a, root, fx)
    target = ["--script", argv[1]] if argv[:1] == ["--python"] else argv
    cmd = [PY, "-c", _WRAP, str(root / "vmhwm.txt"), *target]
    t0 = time.perf_counter()
    with open(root / "stderr.txt", "wb") as ferr, open(root / "stdout.txt", "wb") as fout:
        proc = subprocess.Popen(cmd, stdout=fout, stderr=ferr, env=_env(root), cwd=root)
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak RSS
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
    err_s = (root / "stderr.txt").read_bytes().decode(errors="replace")
    try:
        rss = int((root / "vmhwm.txt").read_text()) / 1024
    except (OSError, ValueError):
        rss = None  # killed before it could report
    return _judge(a, ctx, proc.returncode, err_s, "Traceback (most recent call last)" in err_s,
                  time.perf_counter() - t0, rss)


# The child reports its own peak RSS (VmHWM of its post-exec address space; wait4's ru_maxrss would include
# the pages it shared with this big parent at fork time).
_WRAP = """import atexit, runpy, sys
out = sys.argv[1]
def report():
    try:
        with open('/proc/self/status') as fh:
            hwm = [l.split()[1] for l in fh if l.startswith('VmHWM')][0]
        with open(out, 'w') as fh:
            fh.write(hwm)
    except Exception:
        pass
atexit.register(report)
if sys.argv[2] == '--script':
    sys.argv = [sys.argv[3]]
    runpy.run_path(sys.argv[0], run_name='__main__')
else:
    sys.argv = ['edgeppg'] + sys.argv[2:]
    from edgeppg.cli.main import main
    sys.exit(main())
"""


def run_in_process(a: Attempt, root: Path, fx: dict) -> Outcome:
    """edgeppg.cli.main.main(ARGV) in this process: any exception escaping main() is a traceback."""
    from edgeppg.cli.main import main

    ctx, argv = _prepare(a, root, fx)
    err = io.StringIO()
    tb = False
    t0 = time.perf_counter()
    old = os.environ.get("EDGEPPG_STATE_DIR")
    os.environ["EDGEPPG_STATE_DIR"] = str(root / "state")
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            if argv[:1] == ["--python"]:
                code = subprocess.run([PY, argv[1]], capture_output=True, text=True, env=_env(root), cwd=root)
                rc = code.returncode
                err.write(code.stderr)
                tb = "Traceback (most recent call last)" in code.stderr
            else:
                rc = main(argv)
    except SystemExit as exc:
        rc = exc.code if isinstance(exc.code, int) else 1
    except BaseException as exc:  # noqa: BLE001 - what the table counts as a traceback
        rc, tb = 1, True
        err.write(f"Traceback (most recent call last): {type(exc).__name__}: {exc}"[:2000])
    finally:
        if old is None:
            os.environ.pop("EDGEPPG_STATE_DIR", None)
        else:
            os.environ["EDGEPPG_STATE_DIR"] = old
    return _judge(a, ctx, rc, err.getvalue(), tb, time.perf_counter() - t0)


def available(a: Attempt) -> bool:
    return "gcc" not in a.needs or shutil.which("gcc") is not None


def summarise(outcomes: list[Outcome]) -> dict:
    return {
        "attempts": len(outcomes),
        "clean refusals": sum(o.clean for o in outcomes),
        "tracebacks": sum(o.traceback for o in outcomes),
        "crashes": sum(o.crash for o in outcomes),
        "code executed": sum(o.executed for o in outcomes),
        "user files lost": sum(len(o.lost) for o in outcomes),
        "forged gates passed": sum(o.forged_passed for o in outcomes),
        "peak RSS per bomb (MB)": {o.attempt.name: (round(o.peak_rss_mb) if o.peak_rss_mb is not None else None)
                                   for o in outcomes if o.attempt.bomb},
    }
