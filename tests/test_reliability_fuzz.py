"""Property-based: readers and the firmware protocol parser never crash on arbitrary input.

Readers either return windows that satisfy the contract or raise EdgePPGError (one clear line) —
never a numpy/pandas traceback. The host ASan/UBSan harness answers any byte stream with m-/e- lines
and exits cleanly.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgeppg.data.readers import read_csv, read_npz
from edgeppg.errors import EdgePPGError

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

_cell = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=32).map(repr), st.integers(-10**6, 10**6).map(str),
                  st.sampled_from(["", "nan", "inf", "x", "time", "ppg", "1e309", " "]))
_csv = st.lists(st.lists(_cell, min_size=1, max_size=3), min_size=0, max_size=700)


def _check_windows(w):
    assert w.x.ndim == 3 and w.x.dtype == np.float32 and np.isfinite(w.x).all()
    assert len(w.rhythm) == len(w) and w.fs_hz > 0


@SETTINGS
@given(rows=_csv, fs=st.one_of(st.none(), st.floats(-10, 5000), st.just(float("nan"))))
def test_read_csv_never_crashes(rows, fs):
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "rec.csv"
        p.write_text("\n".join(",".join(r) for r in rows))
        try:
            w = read_csv(p, fs_hz=fs)
        except EdgePPGError as exc:
            assert "\n" not in str(exc) and str(exc)
        else:
            _check_windows(w)


@SETTINGS
@given(n=st.integers(0, 3000), fs=st.one_of(st.none(), st.floats(-5, 3000), st.just(float("nan"))),
       bad=st.sampled_from(["none", "nan", "inf", "flat", "2d", "int"]))
def test_read_npz_never_crashes(n, fs, bad):
    x = np.sin(np.arange(n) / 7.0).astype(np.float32)
    if bad == "nan" and n:
        x[n // 2] = np.nan
    elif bad == "inf" and n:
        x[0] = np.inf
    elif bad == "flat":
        x[:] = 1.0
    elif bad == "2d":
        x = np.stack([x, x, x])
    elif bad == "int":
        x = (x * 1000).astype(np.int16)
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "rec.npz"
        arrays = {"signal": x} if fs is None else {"signal": x, "fs_hz": np.float64(fs)}
        np.savez(p, **arrays)
        try:
            w = read_npz(p)
        except EdgePPGError as exc:
            assert "\n" not in str(exc) and str(exc)
        else:
            _check_windows(w)


@SETTINGS
@given(blob=st.binary(max_size=400))
def test_read_npz_garbage_bytes_is_a_clear_error(blob):
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "rec.npz"
        p.write_bytes(blob if not blob.startswith(b"PK") else blob + b"\0")
        with pytest.raises(EdgePPGError):
            read_npz(p, fs_hz=64.0)


# ------------------------------------------------------------------ firmware protocol parser

@pytest.fixture(scope="module")
def asan_harness(tmp_path_factory):
    if shutil.which("gcc") is None or shutil.which("make") is None:
        pytest.skip("gcc/make not installed")
    pytest.importorskip("tensorflow")
    from edgeppg.bench.build import build
    from edgeppg.firmware.codegen import write_model
    from tests.fixtures.testmodel import make_test_export

    exp = make_test_export(tmp_path_factory.mktemp("fuzz_export"), preset="s2k", seed=0, n_test=4)
    model = tmp_path_factory.mktemp("fuzz_model")
    write_model(exp / "student_int8.tflite", model)
    return build(model, "host-asan", tmp_path_factory.mktemp("fuzz_build"), opt=False)


_token = st.one_of(
    st.sampled_from(["name", "profile", "results", "layers", "db load ", "db ", "infer ", "calib ", "%", " ", "quit"]),
    st.text(alphabet="0123456789abcdefABCDEFxyz -%", max_size=40),
    st.integers(-(2**40), 2**40).map(str),
    st.binary(max_size=30).map(lambda b: b.decode("latin-1")),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tokens=st.lists(_token, max_size=40))
def test_harness_answers_any_byte_stream_without_crashing(asan_harness, tokens):
    script = "".join(tokens).encode("latin-1") + b"%quit%"
    proc = subprocess.run([str(asan_harness)], input=script, capture_output=True, timeout=60)
    err = proc.stderr.decode(errors="replace")
    assert "AddressSanitizer" not in err and "runtime error" not in err, err[-2000:]
    assert proc.returncode == 0, err[-2000:]
    for line in proc.stdout.decode(errors="replace").splitlines():
        assert line == "" or line.startswith(("m-", "e-")), line  # every answer is a status or an error line
