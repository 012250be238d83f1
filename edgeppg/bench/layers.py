"""Per-layer table of a bench.json: instructions (QEMU) or ticks (host ns), MACs, instructions per MAC, output bytes.

Everything comes from figures bench.json already holds (`details.per_layer` timed by the harness's `layers%`,
`details.model.layers` from the generator); nothing is re-measured.
"""

from __future__ import annotations

from typing import Any


def layer_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    det = result.get("details") or {}
    out_bytes = {l.get("name"): l.get("out_bytes") for l in (det.get("model") or {}).get("layers") or []}
    rows = []
    for l in det.get("per_layer") or []:
        ins, macs = l.get("instructions"), int(l.get("macs") or 0)
        rows.append({"index": l.get("index"), "name": l.get("name"), "instructions": ins, "ticks": l.get("ticks"),
                     "macs": macs, "instr_per_mac": round(ins / macs, 2) if ins is not None and macs else None,
                     "out_bytes": out_bytes.get(l.get("name"))})
    return rows


def layer_table(result: dict[str, Any]) -> str:
    """A fixed-width text table (the `edgeppg bench` output and the report's per-layer section)."""
    rows = layer_rows(result)
    if not rows:
        return ""
    counted = rows[0]["instructions"] is not None
    unit = ((result.get("details") or {}).get("timing") or {}).get("unit") or "ticks"
    head = ["#", "layer", "instructions" if counted else unit, "MACs", "instr/MAC" if counted else "", "out bytes"]
    body = [[str(r["index"]), str(r["name"]), f"{(r['instructions'] if counted else r['ticks']) or 0:,}",
             f"{r['macs']:,}", "-" if r["instr_per_mac"] is None else f"{r['instr_per_mac']:.2f}",
             "-" if r["out_bytes"] is None else f"{r['out_bytes']:,}"] for r in rows]
    tot = sum((r["instructions"] if counted else r["ticks"]) or 0 for r in rows)
    macs = sum(r["macs"] for r in rows)
    body.append(["", "total", f"{tot:,}", f"{macs:,}", f"{tot / macs:.2f}" if counted and macs else "-", ""])
    if not counted:
        head[4] = "-"
    w = [max(len(x[i]) for x in [head] + body) for i in range(len(head))]
    fmt = lambda r: "  ".join(c.ljust(w[i]) if i < 2 else c.rjust(w[i]) for i, c in enumerate(r)).rstrip()  # noqa: E731
    return "\n".join([fmt(head), fmt(["-" * n for n in w])] + [fmt(r) for r in body])
