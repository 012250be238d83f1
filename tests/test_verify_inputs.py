"""`edgeppg verify` / `check` take their inputs besides the export folder explicitly (issue 15)."""

from pathlib import Path

import pytest

from edgeppg.cli.main import main
from edgeppg.verify.toy import cached_toy_export


@pytest.fixture(scope="module")
def toy_export(request) -> Path:
    return cached_toy_export(request.config.cache.mkdir("edgeppg-verify-toy"))


@pytest.mark.parametrize("command", ["verify", "check"])
def test_bench_json_flag_names_the_file_and_a_missing_one_is_one_line_exit_2(toy_export, tmp_path, capsys, command):
    extra = ["--budget", "examples/budget_smoke.toml"] if command == "check" else ["--no-plots"]
    argv = [command, str(toy_export), "--bench-json", str(tmp_path / "nope.json"), "--runs", "2", "--warmup", "0",
            "--out", str(tmp_path / "v"), *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "nope.json not found" in err and "Traceback" not in err
