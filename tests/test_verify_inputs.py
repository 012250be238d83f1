"""`edgeppg verify` / `check` take their inputs besides the export folder explicitly (issue 15)."""

import numpy as np
import pytest

from edgeppg.cli.main import main


@pytest.mark.parametrize("command", ["verify", "check"])
def test_bench_json_flag_names_the_file_and_a_missing_one_is_one_line_exit_2(toy_export_cached, tmp_path, capsys, command):
    extra = ["--budget", "examples/budget_smoke.toml"] if command == "check" else ["--no-plots"]
    argv = [command, str(toy_export_cached), "--bench-json", str(tmp_path / "nope.json"), "--runs", "2", "--warmup", "0",
            "--out", str(tmp_path / "v"), *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "nope.json not found" in err and "Traceback" not in err


def test_bench_reads_only_the_held_out_file_the_manifest_names(tmp_path):
    """No guessing among file names (test/heldout/holdout/calib.npz) or array keys: manifest `heldout.file`, key 'x'."""
    import json

    from edgeppg.bench.runner import load_windows
    from edgeppg.errors import EdgePPGError
    from edgeppg.io import save_npz, sha256_file
    from tests.fixtures.testmodel import make_test_export

    d = make_test_export(tmp_path / "e", preset="s2k", n_test=3)
    manifest = json.loads((d / "manifest.json").read_text())
    tflite = d / "student_int8.tflite"
    x, info = load_windows(d, manifest, tflite, 10, 0)
    assert info["source"] == "test.npz" and len(x) == 3
    unnamed = {k: v for k, v in manifest.items() if k != "heldout"}
    x, info = load_windows(d, unnamed, tflite, 4, 0)
    assert info["source"] == "random-int8" and len(x) == 4  # listed as an artifact, but not named as held-out
    save_npz(d / "test.npz", {"windows": np.zeros((2, 512, 1), np.float32)})  # a guessed key is not read
    manifest["artifacts"]["test.npz"]["sha256"] = sha256_file(d / "test.npz")
    with pytest.raises(EdgePPGError, match="expected key 'x'"):
        load_windows(d, manifest, tflite, 4, 0)
