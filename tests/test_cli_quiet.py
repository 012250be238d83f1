"""The CLI's stderr carries what edgeppg says, not the C++ runtimes' info lines (issue 17): no XNNPACK
delegate notice, no absl pre-init warning, no oneDNN notice, in `check` on a small export."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EDGEPPG = Path(sys.prefix) / "bin" / "edgeppg"
NOISE = ("XNNPACK", "absl::InitializeLog", "oneDNN", "I0000", "pre-processing before quantization")


@pytest.fixture(scope="session")
def toy_export(request) -> Path:
    from tests.fixtures.toy import cached_toy_export

    return cached_toy_export(request.config.cache.mkdir("edgeppg-verify-toy"))


def test_check_stderr_has_no_runtime_noise(toy_export, tmp_path):
    if not EDGEPPG.is_file():
        pytest.skip(f"{EDGEPPG} is not installed (make setup)")
    d = tmp_path / "export"
    shutil.copytree(toy_export, d)
    shutil.rmtree(d / "verify", ignore_errors=True)  # a fresh verify: every runtime is created
    p = subprocess.run([str(EDGEPPG), "check", str(d), "--budget", str(REPO / "examples" / "budget_smoke.toml"),
                        "--runs", "3", "--warmup", "0"], capture_output=True, text=True, timeout=300,
                       env={k: v for k, v in os.environ.items() if k != "EDGEPPG_RAW_STDERR"})
    assert p.returncode in (0, 1), p.stderr
    assert "running verify" in p.stderr  # edgeppg's own progress lines still come through
    assert [n for n in NOISE if n in p.stderr] == [], p.stderr


def test_filter_drops_only_known_lines_and_passes_partial_lines():
    code = ("import os; from edgeppg.cli.quiet import filter_stderr; r = filter_stderr(); "
            "os.write(2, b'INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\\nkeep me\\n'); "
            "os.write(2, b'WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\\n'); "
            "os.write(2, b'I0000 00:00:1796254212.316525    3641 port.cc:153] oneDNN custom operations are on.\\n'); "
            "os.write(2, b'INFO: something else\\n 50%|###   \\r'); r()")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60,
                       env={k: v for k, v in os.environ.items() if k != "EDGEPPG_RAW_STDERR"})
    assert p.returncode == 0 and p.stderr == b"keep me\nINFO: something else\n 50%|###   \r"


def test_bench_says_what_it_is_doing(toy_export, tmp_path, capsys):
    """bench was silent for seconds: now one line per stage (check, generate, build, reference, run)."""
    if shutil.which("gcc") is None:
        pytest.skip("bench --target host needs gcc")
    from edgeppg.cli.main import main

    assert main(["bench", str(toy_export), "--target", "host", "--out", str(tmp_path / "b"), "--windows", "3"]) == 0
    cap = capsys.readouterr()
    stages = ["check the export's files", "generate C", "build the harness for host", "reference outputs", "run on host"]
    at = [cap.err.find(s) for s in stages]
    assert all(i >= 0 for i in at) and at == sorted(at), cap.err
    assert "None B" not in cap.out and "host: " in cap.out


def test_filter_keeps_a_terminal_a_terminal():
    """Progress bars and colours ask sys.stderr.isatty(); behind the filter's pipe it must still say True."""
    if shutil.which("script") is None:
        pytest.skip("needs util-linux `script` for a pseudo-terminal")
    code = ("import sys; from edgeppg.cli.quiet import filter_stderr; r = filter_stderr(); "
            "a = sys.stderr.isatty(); r(); print('tty', a)")
    p = subprocess.run(["script", "-qc", f'{sys.executable} -c "{code}"', "/dev/null"], capture_output=True, text=True,
                       timeout=60, env={k: v for k, v in os.environ.items() if k != "EDGEPPG_RAW_STDERR"})
    assert "tty True" in p.stdout, p.stdout + p.stderr
