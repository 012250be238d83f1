"""verify + check on a folder written by the real `edgeppg.export.export_student` (random-init s2k student).

Built once per source version of edgeppg/export (cached in pytest's cache dir), so the manifest, parity.json
and heldout.npz formats verify reads are the exporter's own, not the toy's.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from edgeppg.cli.main import main
from edgeppg.verify import VerifyConfig, verify_export
from tests.fixtures.toy import toy_windows

pytest.importorskip("edgeppg.export")

FAST = VerifyConfig(latency_runs=10, latency_warmup=2, plots=False)


@pytest.fixture(scope="module")
def real_export(real_export_cached, tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("real") / "export"
    shutil.copytree(real_export_cached, d)
    return d


def test_verify_reads_the_exporters_folder(real_export):
    r = verify_export(real_export, cfg=FAST)
    manifest = json.loads((real_export / "manifest.json").read_text())
    parity = json.loads((real_export / "parity.json").read_text())
    assert r["model"]["macs"] == manifest["model"]["macs"]
    assert r["model"]["model_bytes"] == manifest["artifacts"]["student_int8.tflite"]["bytes"]
    assert r["arena"]["minus_16_fails"] and r["arena"]["minus_1_fails"]
    from edgeppg.int8.fixedpoint import quantize
    from edgeppg.int8.tflm import ArenaProbe

    x = quantize(toy_windows(1, 3).x.transpose(0, 2, 1), manifest["input"]["scale"], manifest["input"]["zero_point"])
    with ArenaProbe((real_export / "student_int8.tflite").read_bytes(), x) as probe:
        assert probe.works(r["arena_bytes"]) and not probe.works(r["arena_bytes"] - 16)
    assert r["host_latency_us"]["onnxruntime_int8"] is not None
    # TFLM outputs decoded with the manifest give the exporter's own int8 TFLite metrics
    for k in ("rhythm_macro_f1", "hr_mae_bpm", "rr_mae_bpm"):
        assert r["metrics"][k] == pytest.approx(parity["int8_tflite"][k], rel=1e-4, abs=1e-6)
    assert r["tflm_vs_litert_ref_max_lsb"] == parity["tflm_vs_litert_ref_max_lsb"]


def test_check_gates_the_exporters_folder_and_refuses_tampering(real_export, tmp_path, capsys):
    vj = verify_export(real_export, cfg=FAST)
    budget = tmp_path / "b.toml"
    budget.write_text(f"[flash]\nmax_model_bytes = {vj['model']['model_bytes']}\n"
                      f"[ram]\nmax_arena_bytes = {vj['arena_bytes'] - 1}\n"
                      "[targets.nrf52840]\nmax_latency_ms = 20.0\nmust_fit = true\n")
    assert main(["check", str(real_export), "--budget", str(budget)]) == 1
    out = capsys.readouterr()
    assert "ram.max_arena_bytes" in out.err and "OVER" in out.out
    data = bytearray((real_export / "model_data.c").read_bytes())
    data[-5] ^= 0x01
    (real_export / "model_data.c").write_bytes(bytes(data))
    assert main(["check", str(real_export), "--budget", str(budget)]) == 2
    assert "model_data.c was modified after export" in capsys.readouterr().err
