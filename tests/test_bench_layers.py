"""`edgeppg bench`'s per-layer table (issue 16): instructions, MACs, instr/MAC and output bytes from bench.json."""

from __future__ import annotations

from edgeppg.bench.layers import layer_rows, layer_table

RESULT = {"details": {
    "timing": {"unit": "ticks"},
    "model": {"layers": [{"name": "op2_conv_2d", "out_bytes": 3072}, {"name": "op3_pad", "out_bytes": 3144}]},
    "per_layer": [{"index": 0, "name": "op2_conv_2d", "ticks": 2280346, "macs": 27648, "instructions": 89076},
                  {"index": 1, "name": "op3_pad", "ticks": 86246, "macs": 0, "instructions": 3369}]}}


def test_rows_and_table_come_from_the_bench_figures():
    rows = layer_rows(RESULT)
    assert rows[0]["instr_per_mac"] == 3.22 and rows[0]["out_bytes"] == 3072
    assert rows[1]["instr_per_mac"] is None  # no MACs: no ratio, never a division by zero
    t = layer_table(RESULT).splitlines()
    assert t[0].split() == ["#", "layer", "instructions", "MACs", "instr/MAC", "out", "bytes"]
    assert "89,076" in t[2] and "3.22" in t[2] and "3,072" in t[2]
    assert t[-1].split() == ["total", "92,445", "27,648", "3.34"]


def test_host_table_shows_the_timer_unit_and_no_ratio():
    host = {"details": dict(RESULT["details"], timing={"unit": "ns"},
                            per_layer=[dict(l, instructions=None) for l in RESULT["details"]["per_layer"]])}
    t = layer_table(host).splitlines()
    assert t[0].split()[2] == "ns" and "2,280,346" in t[2]
    assert layer_table({"details": {}}) == ""
