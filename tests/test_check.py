"""`edgeppg check`: every budget key gates (exit 1 + table when tightened below the actual), strict budget
files, tamper refusal, verify.json reuse, the shipped nRF52840 budget."""

from __future__ import annotations

import json
import os
import shutil
import tomllib
from pathlib import Path

import pytest

from edgeppg.cli.main import main
from edgeppg.errors import EdgePPGError
from edgeppg.verify import VerifyConfig, check_export, load_budget, verify_export
from edgeppg.verify.budget import _SPEC, _TARGET_SPEC, evaluate
from tests.fixtures.toy import cached_toy_export

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "examples" / "budget_nrf52840.toml"
FAST = VerifyConfig(latency_runs=10, latency_warmup=2, plots=False)

FLAT_KEYS = [f"{s}.{k}" for s, keys in _SPEC.items() for k in keys]
TARGET_KEYS = [f"targets.nrf52840.{k}" for k in _TARGET_SPEC]


@pytest.fixture(scope="session")
def toy_export(request) -> Path:
    # pytest's cache dir is shared by xdist workers and sessions; the toy is keyed by its source, built once
    return cached_toy_export(request.config.cache.mkdir("edgeppg-verify-toy"))


@pytest.fixture(scope="module")
def verified(toy_export, tmp_path_factory):
    """A toy export with a fresh verify.json in its default place, so check reuses it (fast)."""
    d = tmp_path_factory.mktemp("checked") / "export"
    shutil.copytree(toy_export, d)
    verify_export(d, cfg=FAST)
    return d, json.loads((d / "verify" / "verify.json").read_text())


def _write_budget(path: Path, metric: str, value) -> Path:
    *sections, key = metric.split(".")
    lit = ("true" if value else "false") if isinstance(value, bool) else repr(value)
    path.write_text(f"[{'.'.join(sections)}]\n{key} = {lit}\n")
    return path


def _actual(vj: dict, metric: str):
    if metric.startswith("targets."):
        _, target, key = metric.split(".")
        return vj["targets"][target][_TARGET_SPEC[key][2]]
    section, key = metric.split(".")
    d = vj
    for p in _SPEC[section][key][2]:
        d = d[p]
    return d


def _tightened(metric: str, actual):
    """A budget just beyond the actual value in the failing direction (None: impossible for this key)."""
    key = metric.rsplit(".", 1)[1]
    if key.startswith("min_"):
        if isinstance(actual, int):
            return actual + 1
        return None if actual >= 1 else min(1.0, actual + 0.01)
    if isinstance(actual, int):
        return actual - 1 if actual >= 1 else None  # byte/LSB budgets cannot be negative
    lowered = actual - max(0.01, abs(actual) * 0.05)
    nonneg = metric.endswith(("max_latency_ms", "max_hr_mae_bpm", "max_rr_mae_bpm"))
    return None if nonneg and lowered < 0 else round(lowered, 6)


@pytest.mark.parametrize("metric", FLAT_KEYS + [k for k in TARGET_KEYS if not k.endswith("must_fit")])
def test_tightening_any_budget_below_the_actual_fails_with_a_table(verified, tmp_path, capsys, metric):
    d, vj = verified
    actual = _actual(vj, metric)
    limit = _tightened(metric, actual)
    if limit is None:
        pytest.skip(f"{metric}: actual {actual!r} cannot be undercut on the toy export; covered by the evaluate test")
    budget = _write_budget(tmp_path / "b.toml", metric, limit)
    assert main(["check", str(d), "--budget", str(budget)]) == 1
    out = capsys.readouterr()
    assert "metric" in out.out and "over by" in out.out and "OVER" in out.out
    row = next(line for line in out.out.splitlines() if line.startswith(metric))
    assert "OVER" in row
    assert f"budgets exceeded: {metric}" in out.err
    # and at the actual value itself the same budget passes
    _write_budget(budget, metric, actual)
    assert main(["check", str(d), "--budget", str(budget)]) == 0


@pytest.mark.parametrize("metric", FLAT_KEYS + TARGET_KEYS)
def test_every_budget_key_is_evaluated_in_its_direction(tmp_path, metric):
    """Independent of the toy's values: each key fails just beyond a synthetic actual and passes at it."""
    *sec, key = metric.split(".")
    tp, direction = (_TARGET_SPEC[key][:2] if metric.startswith("targets.") else _SPEC[sec[0]][key][:2])
    vj: dict = {"targets": {"nrf52840": {}}}
    actual = True if tp is bool else (5 if tp is int else 0.5)
    if metric.startswith("targets."):
        vj["targets"]["nrf52840"][_TARGET_SPEC[key][2]] = actual
    else:
        d = vj
        *head, last = _SPEC[sec[0]][key][2]
        for p in head:
            d = d.setdefault(p, {})
        d[last] = actual
    within = load_budget(_write_budget(tmp_path / "ok.toml", metric, actual))
    assert all(r.ok for r in evaluate(within, vj))
    if tp is bool:
        vj["targets"]["nrf52840"]["fits"] = False
        bad = within
    else:
        step = 1 if tp is int else 0.1
        bad = load_budget(_write_budget(tmp_path / "bad.toml", metric, actual + step if direction == "min" else actual - step))
    (row,) = evaluate(bad, vj)
    assert not row.ok and row.over_by not in (None, 0)
    # a figure verify could not produce fails too (cannot be shown to be within budget)
    (row,) = evaluate(within, {"targets": {"nrf52840": {}}})
    assert not row.ok and row.over_by == "missing"


def test_check_reuses_fresh_verify_json_and_json_verdict(verified, tmp_path, capsys):
    d, vj = verified
    budget = _write_budget(tmp_path / "b.toml", "ram.max_arena_bytes", vj["arena_bytes"] + 1024)
    assert main(["check", str(d), "--budget", str(budget), "--json"]) == 0
    verdict = json.loads(capsys.readouterr().out)
    assert verdict["passed"] is True and verdict["reused_verify"] is True and verdict["failed"] == []
    assert verdict["rows"][0]["actual"] == vj["arena_bytes"]
    _write_budget(budget, "ram.max_arena_bytes", vj["arena_bytes"] - 16)
    assert main(["check", str(d), "--budget", str(budget), "--json"]) == 1
    verdict = json.loads(capsys.readouterr().out)
    assert verdict["passed"] is False and verdict["failed"] == ["ram.max_arena_bytes"]
    assert verdict["rows"][0]["over_by"] == 16


def test_check_runs_verify_when_verify_json_is_stale(verified, tmp_path):
    src, vj = verified
    d = tmp_path / "export"
    shutil.copytree(src, d)
    stale = json.loads((d / "verify" / "verify.json").read_text())
    stale["inputs"]["manifest_sha256"] = "0" * 64  # as if made from another export
    stale["arena_bytes"] = 1  # a figure the gate must not trust
    (d / "verify" / "verify.json").write_text(json.dumps(stale))
    budget = _write_budget(tmp_path / "b.toml", "ram.max_arena_bytes", vj["arena_bytes"])
    res = check_export(d, budget, FAST)
    assert res.passed and not res.reused_verify
    assert res.rows[0].actual == vj["arena_bytes"]


def test_tampered_artifact_makes_check_refuse_even_with_fresh_verify_json(verified, tmp_path, capsys):
    src, _ = verified
    d = tmp_path / "export"
    shutil.copytree(src, d)
    data = bytearray((d / "student_int8.tflite").read_bytes())
    data[200] ^= 0x01
    (d / "student_int8.tflite").write_bytes(bytes(data))
    assert main(["check", str(d), "--budget", str(SHIPPED)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "student_int8.tflite was modified after export" in err[0]


@pytest.mark.parametrize("text, match", [
    ("[flash]\nmax_modle_bytes = 1\n", r"unknown budget key flash\.'max_modle_bytes'.*valid keys in \[flash\]: max_model_bytes"),
    ("[speed]\nx = 1\n", r"unknown budget key 'speed'.*valid top-level keys: name, description, flash"),
    ("[targets.nrf52832]\nmax_latency_ms = 5.0\n", r"unknown target profile 'nrf52832'; valid target profiles: nrf52840, nrf5340, stm32l4r5"),
    ("[targets.nrf52840]\nmax_latncy_ms = 5.0\n", r"targets\.nrf52840\.'max_latncy_ms'.*max_latency_ms"),
    ("[flash]\nmax_model_bytes = \"32k\"\n", r"flash\.max_model_bytes must be int, got '32k'"),
    ("[flash]\nmax_model_bytes = 32.5\n", r"flash\.max_model_bytes must be int"),
    ("[targets.nrf52840]\nmust_fit = 1\n", r"must_fit must be bool"),
    ("[accuracy]\nmin_rhythm_macro_f1 = 1.5\n", r"must be in \[0, 1\]"),
    ("[ram]\nmax_arena_bytes = -1\n", r"must be >= 0"),
    ("[flash]\n", r"sets no budgets"),
    ("flash = 3\n", r"section \[flash\] must be a table"),
    ("[flash\n", r"not valid TOML"),
])
def test_budget_file_is_validated_strictly(tmp_path, text, match):
    p = tmp_path / "b.toml"
    p.write_text(text)
    with pytest.raises(EdgePPGError, match=match):
        load_budget(p)


def test_bad_budget_exits_2_before_measuring(toy_export, tmp_path, capsys):
    p = tmp_path / "b.toml"
    p.write_text("[ram]\nmax_arena = 1\n")
    assert main(["check", str(toy_export), "--budget", str(p)]) == 2
    assert "unknown budget key ram.'max_arena'" in capsys.readouterr().err
    assert main(["check", str(toy_export), "--budget", str(tmp_path / "nope.toml")]) == 2


def test_shipped_budget_states_the_wristband_targets():
    b = tomllib.loads(SHIPPED.read_text())
    assert b["flash"]["max_model_bytes"] <= 32 * 1024
    assert b["ram"]["max_arena_bytes"] <= 32 * 1024
    assert b["targets"]["nrf52840"]["max_latency_ms"] <= 20.0
    assert {"min_rhythm_macro_f1", "max_hr_mae_bpm"} <= set(b["accuracy"])
    assert {"max_f1_drop", "max_hr_mae_increase_bpm"} <= set(b["degradation"])
    keys = {r[0] for r in load_budget(SHIPPED).items}
    assert {"flash.max_model_bytes", "ram.max_arena_bytes", "targets.nrf52840.max_latency_ms"} <= keys


def test_shipped_budget_on_the_untrained_toy_fails_only_on_accuracy(verified):
    """Size/RAM/latency of a small student fit the wristband; an untrained model is caught by accuracy."""
    d, _ = verified
    res = check_export(d, SHIPPED, FAST)
    failed = {r.metric for r in res.failures}
    assert {"accuracy.min_rhythm_macro_f1", "accuracy.max_hr_mae_bpm"} <= failed
    assert failed <= {"accuracy.min_rhythm_macro_f1", "accuracy.max_hr_mae_bpm", "degradation.max_tflm_lsb",
                      "real.max_hr_mae_bpm", "real.min_coverage"}  # untrained: real PPG may fail too
    resource = [r for r in res.rows if r.metric.split(".")[0] in ("flash", "ram", "targets")]
    assert resource and all(r.ok for r in resource)


@pytest.mark.skipif(not os.environ.get("EDGEPPG_DEFAULT_EXPORT"),
                    reason="set EDGEPPG_DEFAULT_EXPORT=<export dir of the default student> to gate it here "
                           "(the CI gate runs `edgeppg check` on it directly)")
def test_shipped_budget_passes_on_the_default_export(capsys):
    assert main(["check", os.environ["EDGEPPG_DEFAULT_EXPORT"], "--budget", str(SHIPPED)]) == 0
    assert "all" in capsys.readouterr().out
