"""A model name is untrusted text that reaches generated C: it is refused where it enters and inert where C is emitted."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from edgeppg.cli.main import main
from edgeppg.errors import EdgePPGError
from edgeppg.names import c_safe, check_model_name


def payload(marker) -> str:
    # closes the generated comment, adds a constructor that writes a file, reopens a comment
    return (f'x */\n#include <stdio.h>\n__attribute__((constructor)) static void pwn(void) '
            f'{{ FILE *f = fopen("{marker}", "w"); if (f) fclose(f); }}\n/* ')


@pytest.mark.parametrize("good", ["s5k", "ppg-student_v2", "A" * 64])
def test_good_names_pass(good):
    assert check_model_name(good) == good


@pytest.mark.parametrize("bad", ["", "a" * 65, "x*/y", "a b", "naïve", "a\nb", 'q"', None, 5])
def test_bad_names_refused_with_the_rule(bad):
    with pytest.raises(EdgePPGError, match=r"A-Z a-z 0-9 _ -"):
        check_model_name(bad)


def test_escaped_payload_compiles_inert(tmp_path):
    """Even when a caller skips the check, the emitted header cannot run the payload."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc not installed")
    from edgeppg.firmware.emit import emit_h as _emit_h
    marker = tmp_path / "PWNED"
    h = _emit_h(payload(marker), 1, 8, 4, [4], 1)
    assert "*/\n#include" not in h and "fopen" not in h.split("*/")[0]
    (tmp_path / "eppg_runtime.h").write_text("")
    (tmp_path / "model_gen.h").write_text(h)
    (tmp_path / "main.c").write_text('#include <stdio.h>\n#include "model_gen.h"\n'
                                     'int main(void) { puts(EPPG_MODEL_NAME); return 0; }\n')
    subprocess.run(["gcc", "-o", str(tmp_path / "a.out"), str(tmp_path / "main.c")], check=True, cwd=tmp_path)
    out = subprocess.run([str(tmp_path / "a.out")], capture_output=True, text=True, check=True).stdout
    assert not marker.exists()
    assert set(out.strip()) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")
    assert c_safe(payload(marker)) == out.strip()


def test_bench_refuses_payload_name_from_manifest(tmp_path, capsys):
    pytest.importorskip("tensorflow")
    if shutil.which("gcc") is None:
        pytest.skip("gcc not installed")
    from tests.fixtures.testmodel import make_test_export
    exp = make_test_export(tmp_path / "exp", preset="s2k", seed=1, n_calib=8)
    marker = tmp_path / "PWNED"
    m = json.loads((exp / "manifest.json").read_text())
    m.setdefault("model", {})["name"] = payload(marker)
    (exp / "manifest.json").write_text(json.dumps(m))
    assert main(["bench", str(exp), "--target", "host", "--out", str(tmp_path / "bench"), "--windows", "2"]) == 2
    assert "model.name" in capsys.readouterr().err  # refused by the manifest schema, before codegen
    assert not marker.exists()
    assert not (tmp_path / "bench" / "bench.json").exists()


def test_export_and_run_refuse_payload_name_before_work(tmp_path, capsys):
    marker = tmp_path / "PWNED"
    assert main(["export", "--student", str(tmp_path / "none.safetensors"), "--name", payload(marker),
                 "--out", str(tmp_path / "exp")]) == 2
    assert "is not allowed" in capsys.readouterr().err
    cfg = tmp_path / "c.toml"
    cfg.write_text("[export]\nname = " + json.dumps(payload(marker)) + "\n")
    assert main(["run", "--config", str(cfg), "--out", str(tmp_path / "run")]) == 2
    assert "is not allowed" in capsys.readouterr().err
    assert not (tmp_path / "run").exists() and not (tmp_path / "exp").exists()
