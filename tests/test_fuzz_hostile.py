"""Hypothesis over the documents and files edgeppg does not trust, through the CLI entry point in-process.

Manifest, checkpoint sidecar and config documents are mutated at random paths with random JSON values, and
random bytes stand in for .tflite / .npz / .safetensors files. Each example runs `edgeppg.cli.main.main`
and fails on: an exception escaping main() (a traceback), an exit code other than 0/1/2, an error that is
not one short line, any file written outside the example's folder, or this process's peak RSS over 2 GB.
A signal would kill the test process itself. `make test` runs few examples (under a minute);
`make fuzz` sets EDGEPPG_FUZZ_EXAMPLES for a long run.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import resource
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgeppg.cli.main import main

N = int(os.environ.get("EDGEPPG_FUZZ_EXAMPLES", "0"))
FAST = settings(max_examples=N or 12, deadline=None, derandomize=not N,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
RSS_LIMIT_MB = 2048

_json = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False),
              st.text(max_size=30), st.sampled_from(["int8", "classes", "bins", "affine", "../x", "*/", "s5k"])),
    lambda c: st.one_of(st.lists(c, max_size=4), st.dictionaries(st.text(max_size=8), c, max_size=4)),
    max_leaves=12)


def _paths(doc, prefix=()):
    """Every (path) into a JSON document, for picking where to mutate."""
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc[:4]):
            yield from _paths(v, prefix + (i,))


def _mutate(doc, path, value, delete):
    if not path:
        return value
    node = doc
    for p in path[:-1]:
        node = node[p]
    if delete and isinstance(node, dict):
        node.pop(path[-1], None)
    else:
        node[path[-1]] = value
    return doc


def _snapshot(folder: Path, deep: bool = True) -> set[str]:
    if not folder.is_dir():
        return set()
    return {str(p) for p in (folder.rglob("*") if deep else folder.iterdir())}


@contextlib.contextmanager
def _guard(watch: list[Path], allowed: Path):
    """Fail on writes outside `allowed` in the watched folders, and on peak RSS over the limit."""
    deep = {w: w != Path.cwd() for w in watch}  # the working folder (the repo) only at its top level
    before = {w: _snapshot(w, deep[w]) for w in watch}
    yield
    for w in watch:
        new = {p for p in _snapshot(w, deep[w]) - before[w] if not p.startswith(str(allowed))}
        assert not new, f"wrote outside the example folder: {sorted(new)[:5]}"
    peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
               resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    assert peak < RSS_LIMIT_MB, f"peak RSS {peak:.0f} MB"


def run_cli(argv: list[str], tmp: Path) -> tuple[int, str]:
    err = io.StringIO()
    os.environ["EDGEPPG_STATE_DIR"] = str(tmp / "state")
    with _guard([Path.cwd(), tmp.parent], tmp), contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            rc = main(argv)
        except SystemExit as exc:  # `run` exits 1 on a failed budget
            rc = exc.code if isinstance(exc.code, int) else 1
    text = err.getvalue()
    assert rc in (0, 1, 2), (rc, text[-1000:])
    for line in text.splitlines():
        if line.startswith("edgeppg: error:"):
            assert len(line) <= 800, len(line)
    if rc == 2:
        assert "edgeppg: error:" in text or "Error:" in text, text[-1000:]
    return rc, text


@pytest.fixture(scope="module")
def fx(request, tmp_path_factory):
    pytest.importorskip("tensorflow")
    from tests.hostile.attempts import fixtures

    # the verify/check tests' cached toy export (same builder and key): built once per machine
    return fixtures(tmp_path_factory.mktemp("fuzz_fixtures"), request.config.cache.mkdir("edgeppg-verify-toy"))


@pytest.fixture(autouse=True)
def _state_dir():
    old = os.environ.get("EDGEPPG_STATE_DIR")
    yield
    if old is None:
        os.environ.pop("EDGEPPG_STATE_DIR", None)
    else:
        os.environ["EDGEPPG_STATE_DIR"] = old


@FAST
@given(data=st.data(), value=_json, delete=st.booleans())
def test_fuzz_manifest(fx, data, value, delete):
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t) / "ex"
        tmp.mkdir()
        d = tmp / "export"
        shutil.copytree(fx["toy"], d)
        m = json.loads((d / "manifest.json").read_text())
        paths = list(_paths(m))
        path = data.draw(st.sampled_from(paths))
        (d / "manifest.json").write_text(json.dumps(_mutate(m, path, value, delete)))
        # bench stops after the shared artifact check when there is no toolchain problem; --target host
        run_cli(["bench", str(d), "--target", "host", "--out", str(tmp / "b"), "--windows", "1"], tmp)


@FAST
@given(data=st.data(), value=_json, delete=st.booleans())
def test_fuzz_sidecar(fx, data, value, delete):
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t) / "ex"
        tmp.mkdir()
        ck = tmp / "s.safetensors"
        shutil.copy(fx["ckpt"], ck)
        meta = json.loads(fx["ckpt"].with_suffix(".json").read_text())
        path = data.draw(st.sampled_from(list(_paths(meta))))
        ck.with_suffix(".json").write_text(json.dumps(_mutate(meta, path, value, delete)))
        run_cli(["export", "--student", str(ck), "--data", str(tmp / "no-corpus"), "--out", str(tmp / "e")], tmp)


_toml_value = st.one_of(st.integers(-(2**80), 2**80), st.floats(), st.booleans(), st.text(max_size=20),
                        st.lists(st.integers(-5, 10**6), max_size=3))
_keys = st.sampled_from(["seed", "budget", "data.n_windows", "data.window_s", "distill.fit.lr", "distill.fit.epochs",
                         "distill.fit.weight_decay", "distill.fit.patience", "distill.fit.grad_clip",
                         "finetune.freeze_stages", "finetune.width", "export.name", "export.calib_windows",
                         "distill.seeds", "distill.student", "bench.targets", "nope.key", "data"])


@FAST
@given(pairs=st.lists(st.tuples(_keys, _toml_value), max_size=4), raw=st.binary(max_size=200))
def test_fuzz_config(pairs, raw):
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t) / "ex"
        tmp.mkdir()
        sets = []
        for k, v in pairs:
            sets += ["--set", f"{k}={json.dumps(v) if not isinstance(v, bool) else str(v).lower()}"]
        run_cli(["config", "show", *sets], tmp)
        (tmp / "c.toml").write_bytes(raw)
        run_cli(["config", "show", "--config", str(tmp / "c.toml")], tmp)


@settings(FAST, max_examples=N or 8)
@given(blob=st.binary(max_size=3000), prefix=st.sampled_from([b"", b"\x18\0\0\0TFL3", b"PK\x03\x04"]))
def test_fuzz_model_and_array_bytes(fx, blob, prefix):
    from edgeppg.io import sha256_bytes

    blob = prefix + blob
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t) / "ex"
        tmp.mkdir()
        # .tflite: resealed into an export so it reaches the child-process parser
        d = tmp / "export"
        shutil.copytree(fx["toy"], d)
        (d / "student_int8.tflite").write_bytes(blob)
        m = json.loads((d / "manifest.json").read_text())
        m["artifacts"]["student_int8.tflite"] = {"bytes": len(blob), "sha256": sha256_bytes(blob)}
        (d / "manifest.json").write_text(json.dumps(m))
        run_cli(["verify", str(d), "--out", str(tmp / "v"), "--runs", "1", "--warmup", "0", "--no-plots"], tmp)
        # .npz
        (tmp / "rec.npz").write_bytes(blob)
        run_cli(["data", "import", str(tmp / "rec.npz"), "--fs", "64", "--out", str(tmp / "imp")], tmp)
        # .safetensors with a valid sidecar
        (tmp / "w.safetensors").write_bytes(blob)
        shutil.copy(fx["ckpt"].with_suffix(".json"), tmp / "w.json")
        run_cli(["export", "--student", str(tmp / "w.safetensors"), "--out", str(tmp / "e")], tmp)
