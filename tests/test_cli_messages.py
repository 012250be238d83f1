"""Issue 17's user mistakes: each ends in one line naming the problem and the fix, exit 2, before any work.

--out of verify/check an existing file or an impossible place; check --budget relative to the project from
another folder; an export artifact passed as --student; an unknown shipped name; an imported recording
passed to training as a corpus.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from edgeppg.cli.main import main

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def toy_export(request) -> Path:
    from tests.fixtures.toy import cached_toy_export

    return cached_toy_export(request.config.cache.mkdir("edgeppg-verify-toy"))


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.startswith("edgeppg: error:")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("cmd", ["verify", "check"])
@pytest.mark.parametrize("where", ["file", "proc"])
def test_verify_and_check_refuse_a_bad_out_before_measuring(toy_export, tmp_path, capsys, cmd, where):
    out = tmp_path / "existing.txt" if where == "file" else Path("/proc/edgeppg-x")
    if where == "file":
        out.write_text("mine\n")
    args = [cmd, str(toy_export), "--out", str(out)]
    if cmd == "check":
        args += ["--budget", str(REPO / "examples" / "budget_nrf52840.toml")]
    t = time.perf_counter()
    assert main(args) == 2  # never 1: that is check's "over budget"
    assert time.perf_counter() - t < 5  # refused up front, not after the measurement
    line = _one_line_error(capsys)
    assert str(out) in line and ("not a folder" in line or "not writable" in line)
    if where == "file":
        assert out.read_text() == "mine\n"


def test_check_budget_resolves_from_another_folder_like_run(toy_export, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    main(["check", str(toy_export), "--budget", "examples/budget_nrf52840.toml", "--runs", "2", "--warmup", "0"])
    assert "not found" not in capsys.readouterr().err
    assert main(["check", str(toy_export), "--budget", "examples/nope.toml"]) == 2
    line = _one_line_error(capsys)
    # the suggestion is a path that exists from here, never the one just refused
    assert f"start from {REPO / 'examples'}/budget_" in line


def test_export_artifacts_are_not_called_pickles(tmp_path, capsys):
    tfl = tmp_path / "student_int8.tflite"
    tfl.write_bytes(b"\x24\x00\x00\x00TFL3" + bytes(64))
    assert main(["export", "--student", str(tfl), "--out", str(tmp_path / "x")]) == 2
    line = _one_line_error(capsys)
    assert "TFLite model" in line and "pickle" not in line and "ppg-student-s12k.safetensors" in line
    onnx = tmp_path / "student.onnx"
    onnx.write_bytes(b"\x08\x08\x12\x07edgeppg" + bytes(64))
    assert main(["export", "--student", str(onnx), "--out", str(tmp_path / "x")]) == 2
    assert "ONNX model" in _one_line_error(capsys)


def test_unknown_student_name_lists_the_shipped_ones(tmp_path, capsys):
    assert main(["export", "--student", "ppg-student-s5k", "--out", str(tmp_path / "x")]) == 2
    line = _one_line_error(capsys)
    assert "did you mean ppg-student-s12k?" in line and line.endswith("shipped student name: ppg-student-s12k")


@pytest.mark.parametrize("cmd", ["finetune", "distill"])
def test_an_imported_folder_is_not_offered_to_data_synth(tmp_path, capsys, cmd):
    rec = tmp_path / "rec.csv"
    rec.write_text("ppg\n" + "\n".join(f"{v:.4f}" for v in np.sin(np.arange(64 * 20) / 10)))
    imp = tmp_path / "imported"
    assert main(["data", "import", str(rec), "--fs", "64", "--out", str(imp)]) == 0
    capsys.readouterr()
    args = [cmd, "--preset", "smoke", "--data", str(imp), "--out", str(tmp_path / "o")]
    if cmd == "distill":
        args += ["--teacher", str(REPO / "models" / "ecg-resnet18.safetensors")]
    assert main(args) == 2
    line = _one_line_error(capsys)
    assert "imported recording" in line and f"--out {imp}" not in line and "NEW_FOLDER" in line
    assert sorted(p.name for p in imp.iterdir() if not p.name.startswith(".")) == ["import.json", "windows.npz"]


def _csv(path: Path, fs: float, seconds: float, time_col: str | None, scale: float = 1.0) -> Path:
    t = np.arange(int(fs * seconds)) / fs
    x = np.sin(2 * np.pi * 1.2 * t)
    head = f"{time_col},ppg" if time_col else "ppg"
    rows = [f"{a * scale:.6f},{b:.5f}" if time_col else f"{b:.5f}" for a, b in zip(t, x)]
    path.write_text(head + "\n" + "\n".join(rows) + "\n")
    return path


@pytest.mark.parametrize("time_col,scale", [("time", 1.0), ("timer", 1000.0), ("timestamp", 1000.0)])
def test_import_refuses_an_fs_the_time_column_contradicts(tmp_path, capsys, time_col, scale):
    rec = _csv(tmp_path / "rec.csv", 25.0, 120, time_col, scale)
    assert main(["data", "import", str(rec), "--fs", "64", "--out", str(tmp_path / "a")]) == 2
    line = _one_line_error(capsys)
    assert "--fs 64 contradicts" in line and "25 Hz" in line and "drop --fs" in line
    assert not (tmp_path / "a" / "windows.npz").exists()
    assert main(["data", "import", str(rec), "--out", str(tmp_path / "b")]) == 0  # the rate from the file
    out = capsys.readouterr().out
    assert f"recorded rate: 25 Hz, from time column {time_col!r}" in out and "15 windows of 8 s at 25 Hz" in out
    assert main(["data", "import", str(rec), "--fs", "25", "--out", str(tmp_path / "c")]) == 0  # agreeing --fs
    capsys.readouterr()


def test_import_without_a_time_column_takes_fs_and_help_explains_resample(tmp_path, capsys):
    rec = _csv(tmp_path / "plain.csv", 25.0, 40, None)
    assert main(["data", "import", str(rec), "--fs", "25", "--resample", "64", "--out", str(tmp_path / "a")]) == 0
    out = capsys.readouterr().out
    assert "25 Hz, from --fs; resampled to 64 Hz" in out and "at 64 Hz" in out
    assert main(["data", "import", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--fs says what the recording IS" in text and "--resample says what to turn it INTO" in text


def test_npz_stated_rate_must_agree_with_fs(tmp_path, capsys):
    p = tmp_path / "r.npz"
    np.savez(p, ppg=np.sin(np.arange(25 * 40) / 5.0), fs_hz=25.0)
    assert main(["data", "import", str(p), "--fs", "64", "--out", str(tmp_path / "a")]) == 2
    assert "contradicts" in _one_line_error(capsys)


@pytest.mark.parametrize("args", [["predict", "MODEL", "REC", "--out", "/proc/edgeppg-x.csv"],
                                  ["predict", "MODEL", "REC", "--out", "DIR"],
                                  ["data", "show", "REC", "--png", "/proc/edgeppg-x.png"]])
def test_output_files_are_checked_before_reading_anything(tmp_path, capsys, args):
    args = [str(tmp_path) if a == "DIR" else str(tmp_path / "missing") if a in ("MODEL", "REC") else a for a in args]
    assert main(args) == 2
    line = _one_line_error(capsys)
    assert ("not writable" in line or "is a folder" in line) and "missing" not in line


def test_import_reads_the_rate_from_iso_date_times(tmp_path, capsys):
    """heartpy's data3.csv layout: `datetime,hr` with ISO stamps (repeats included: the logger buffers)."""
    t0 = np.datetime64("2016-11-24T13:58:58.000", "ms")
    stamps = t0 + (np.arange(25 * 40) * 40).astype("timedelta64[ms]")
    stamps[5] = stamps[4]  # a buffered repeat
    rec = tmp_path / "d.csv"
    rec.write_text("datetime,hr\n" + "\n".join(f"{str(s).replace('T', ' ')},{500 + 20 * np.sin(i / 4):.1f}"
                                               for i, s in enumerate(stamps)) + "\n")
    assert main(["data", "import", str(rec), "--out", str(tmp_path / "a")]) == 0
    assert "recorded rate: 25 Hz, from time column 'datetime'" in capsys.readouterr().out
    assert main(["data", "import", str(rec), "--fs", "64", "--out", str(tmp_path / "b")]) == 2
    assert "contradicts" in _one_line_error(capsys)
