"""`edgeppg data` CLI: import happy path and bad input (one line, exit 2, nothing written)."""

import numpy as np
import pytest

from edgeppg.cli.main import main
from edgeppg.data.windows import load_windows


def _good(tmp_path):
    x = np.sin(2 * np.pi * 1.2 * np.arange(64 * 20) / 64.0)
    p = tmp_path / "good.csv"
    p.write_text("\n".join(f"{v:.5f}" for v in x))
    return p


def test_import_csv(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["data", "import", str(_good(tmp_path)), "--fs", "64", "--out", str(out)]) == 0
    w = load_windows(out / "windows.npz")
    assert w.x.shape == (2, 1, 512) and (out / "import.json").is_file()
    assert main(["data", "import", str(_good(tmp_path)), "--fs", "128", "--resample", "64", "--window-s", "4",
                 "--out", str(tmp_path / "o2")]) == 0
    w2 = load_windows(tmp_path / "o2" / "windows.npz")
    assert w2.fs_hz == 64 and w2.normalised and w2.x.shape == (2, 1, 256)


def _bad_cases(tmp_path):
    nan = tmp_path / "nan.csv"
    nan.write_text("\n".join(["1.0"] * 100 + ["nan"] + ["2.0"] * 1000))
    short = tmp_path / "short.csv"
    short.write_text("\n".join(str(np.sin(i / 5)) for i in range(100)))
    unk = tmp_path / "rec.edf"
    unk.write_bytes(b"0" * 100)
    good = _good(tmp_path)
    return {
        "missing": ([str(tmp_path / "nope.csv"), "--fs", "64"], "not found"),
        "unknown format": ([str(unk), "--fs", "64"], "unknown format"),
        "nan": ([str(nan), "--fs", "64"], "NaN"),
        "too short": ([str(short), "--fs", "64"], "shorter than one"),
        "no rate": ([str(good)], "rate is missing"),
        "absurd rate": ([str(good), "--fs", "0.01"], "absurd"),
        "absurd high rate": ([str(good), "--fs", "1e6"], "absurd"),
    }


@pytest.mark.parametrize("case", ["missing", "unknown format", "nan", "too short", "no rate", "absurd rate",
                                  "absurd high rate"])
def test_bad_input_exit_2_one_line_nothing_written(tmp_path, capsys, case):
    args, match = _bad_cases(tmp_path)[case]
    out = tmp_path / "out"
    assert main(["data", "import", *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and match in err[0] and err[0].startswith("edgeppg: error:"), err
    assert not out.exists()


def test_show_and_bad_show(tmp_path, capsys):
    assert main(["data", "synth", "--n", "10", "--seed", "0", "--out", str(tmp_path / "c")]) == 0
    assert main(["data", "show", str(tmp_path / "c")]) == 0
    assert (tmp_path / "c" / "show.png").stat().st_size > 1000
    assert "classes:" in capsys.readouterr().out
    assert main(["data", "import", str(_good(tmp_path)), "--fs", "64", "--out", str(tmp_path / "w")]) == 0
    assert main(["data", "show", str(tmp_path / "w" / "windows.npz"), "--png", str(tmp_path / "w.png")]) == 0
    assert (tmp_path / "w.png").is_file()
    assert main(["data", "show", str(tmp_path / "nothing")]) == 2
