"""verify.json -> the table printed on the terminal and verify.md (same numbers, no re-measuring)."""

from __future__ import annotations

from typing import Any


def _kib(n: int | None) -> str:
    return "-" if n is None else f"{n:,} B ({n / 1024:.1f} KiB)"


def _f(v: Any, nd: int = 3) -> str:
    return "-" if v is None else f"{v:.{nd}f}" if isinstance(v, float) else str(v)


def table(headers: list[str], rows: list[list[Any]]) -> str:
    """Plain fixed-width table (readable in a terminal and in CI logs)."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    line = lambda r: "  ".join(c.ljust(wd) for c, wd in zip(r, widths)).rstrip()  # noqa: E731
    return "\n".join([line(cells[0]), line(["-" * wd for wd in widths])] + [line(r) for r in cells[1:]])


def _targets(r: dict[str, Any]):
    from edgeppg.verify.targets import TargetFigures

    return [TargetFigures.from_json(n, t) for n, t in r["targets"].items()]


def _image_rows(img: dict | None) -> list[list]:
    """The edgeppg C library's flash/RAM measured from its nRF52840 ELF, when verify could build it."""
    if not img or not img.get("measured"):
        return [["flash, C library (nRF52840 ELF)", f"not measured: {(img or {}).get('reason', 'no firmware/')}"]]
    return [["flash, C library (nRF52840 ELF, measured)", _kib(img["flash_bytes"])],
            ["RAM, C library (ELF data+bss+stack)", _kib(img["ram_bytes"])]]


def tflm_estimate(r: dict[str, Any]) -> dict[str, Any]:
    """verify.json's TFLM option; a file from before the C library image was primary had it as its only figures."""
    est = r.get("tflm_estimate")
    if isinstance(est, dict):
        return est
    return {"flash_bytes": r.get("flash_bytes"), "ram_bytes": r.get("ram_bytes"),
            "flash_source": "estimate: model bytes + TFLM runtime", "ram_source": "estimate: measured arena + runtime overhead"}


def _memory_rows(r: dict[str, Any]) -> list[list]:
    """Primary flash/RAM (the C library ELF where it was built, else the TFLM estimate), then the TFLM option."""
    est = tflm_estimate(r)
    if "flash_source" not in r:  # a verify.json from before: the TFLM estimate was the primary figure
        return [*_image_rows(r.get("firmware_image")),
                ["flash (model + TFLM runtime est.)", _kib(r["flash_bytes"])],
                ["RAM (arena + runtime est.)", _kib(r["ram_bytes"])]]
    rows = [["flash (primary)", f"{_kib(r['flash_bytes'])} — {r['flash_source']}"],
            ["RAM (primary)", f"{_kib(r['ram_bytes'])} — {r['ram_source']}"]]
    img = r.get("firmware_image") or {}
    if img.get("measured") and img.get("stack_reserved_bytes") is not None:
        rows.append(["  of which stack reservation", _kib(img["stack_reserved_bytes"])])
    return rows + [["flash, TFLM option (model + runtime est.)", _kib(est["flash_bytes"])],
                   ["RAM, TFLM option (arena + runtime est.)", _kib(est["ram_bytes"])]]


def summary_text(r: dict[str, Any]) -> str:
    m, met = r["model"], r["metrics"]
    lines = [
        f"edgeppg verify: {m['name']} ({m['params']} params, {m['macs']:,} MACs) — {r['export_dir']}",
        "",
        table(["figure", "value"], [
            ["model (.tflite)", _kib(m["model_bytes"])],
            *_memory_rows(r),
            ["TFLM arena (smallest that works)", _kib(r["arena_bytes"])],
            ["  arena - 16 B fails to allocate", "yes" if r["arena"]["minus_16_fails"] else "NO"],
            ["TFLM vs LiteRT reference", f"{r['tflm_vs_litert_ref_max_lsb']} LSB max, "
                                         f"{r['tflm_vs_litert_ref']['windows_differing']} windows differ"],
            ["rhythm macro-F1 (TFLM int8)", _f(met.get("rhythm_macro_f1"))],
            ["HR MAE (TFLM int8)", f"{_f(met.get('hr_mae_bpm'), 2)} BPM"],
            ["RR MAE (TFLM int8)", f"{_f(met.get('rr_mae_bpm'), 2)} breaths/min"],
            ["held-out windows", met.get("n_windows")],
        ]),
        "",
        table(["host latency (1 thread)", "median µs", "p90 µs"],
              [[k, _f(v and v["median"], 1), _f(v and v["p90"], 1)] if v else [k, "not exported", "-"]
               for k, v in r["host_latency_us"].items()]),
        "",
        table(["target", "core", "MHz", "latency ms", "latency source", "TFLM ref. kernels ms (est.)", "flash free",
               "RAM free", "fits", "flash/RAM source"],
              [[t.name, t.core, _f(t.clock_mhz, 0), _f(t.latency_ms, 2), t.source_label(),
                _f(t.latency_ms_reference_kernels, 2), _kib(t.flash_free_bytes), _kib(t.ram_free_bytes),
                "yes" if t.fits else "NO", "C library ELF (measured)" if t.memory_measured else "TFLM estimate"]
               for t in _targets(r)]),
    ]
    ts = _targets(r)
    lines += ["", "latency: " + "; ".join(sorted({t.latency_source for t in ts}) +
                                          sorted({t.latency_reference_source for t in ts}))]
    return "\n".join(lines)


def _memory_notes(r: dict[str, Any]) -> list[str]:
    if "flash_source" not in r:
        return []
    img = r.get("firmware_image") or {}
    if img.get("measured"):
        how = (f"the edgeppg C library (generated model + kernels, no TFLM) linked for {img.get('board')} "
               f"(`{img.get('image', 'firmware/examples/baremetal')}`), flash = sections loaded into flash, RAM = "
               f"sections in RAM including the {img.get('stack_reserved_bytes', 0):,} B stack reservation "
               f"({img.get('method', 'arm-none-eabi-size -A')}); other targets keep the TFLM estimate")
    else:
        how = f"the C library image was not built ({img.get('reason') or 'no firmware/'}), so the TFLM estimate is primary"
    return [f"- **Flash/RAM (primary)**: {r['flash_bytes']:,} B flash ({r['flash_source']}), {r['ram_bytes']:,} B RAM "
            f"({r['ram_source']}): {how}."]


def render_markdown(r: dict[str, Any]) -> str:
    m = r["model"]
    out = [f"# edgeppg verify — {m['name']}", "", "```", summary_text(r), "```", "",
           "## How the figures were obtained", "",
           f"- **Integrity**: every artifact's sha256 matched `manifest.json` (sha256 `{r['inputs']['manifest_sha256'][:16]}…`) "
           "before anything ran.",
           f"- **Arena**: {r['arena']['note']}. TFLM reports {r['arena']['allocation_total_bytes']:,} bytes in use; "
           f"{r['arena_bytes']:,} is the smallest arena that works (found in {r['arena']['search_trials']} trials; "
           f"arena − 1 fails: {r['arena']['minus_1_fails']}, arena − 16 fails: {r['arena']['minus_16_fails']}).",
           *_memory_notes(r),
           f"- **Flash, TFLM option (estimate)**: {r['flash']['note']}. Kernels: "
           + ", ".join(f"{k} {v} B" for k, v in r["flash"]["runtime_kernel_bytes_est"].items()) + ".",
           f"- **RAM, TFLM option (estimate)**: {r['ram']['note']}.",
           f"- **Ops** in the .tflite: " + ", ".join(f"{k}×{v}" for k, v in m["tflite_ops"].items()) + ".",
           f"- **MACs** per inference counted from the .tflite graph: {m['macs']:,}"
           + (f" (manifest: {m['macs_manifest']:,})" if m.get("macs_manifest") else "") + ".",
           f"- **Host latency**: {r['host']['note']} ({r['host']['processor']}, {r['host']['cpus']} CPUs).",
           "- **Targets**: " + "; ".join(f"{t.name}: {t.latency_label()} — {t.latency_source}; TFLM reference kernels "
                                         f"{t.reference_label()}" for t in _targets(r)) + ".",
           "- **Metrics**: TFLM int8 outputs decoded with the manifest's output spec, held-out windows from `heldout.npz`.",
           ""]
    if r.get("degradation"):
        d = r["degradation"]
        out += ["## int8 vs fp32 (from parity.json)", "",
                table(["metric", "change"], [["macro-F1 drop", _f(d["f1_drop"], 4)],
                                            ["HR MAE increase (BPM)", _f(d["hr_mae_increase_bpm"], 3)],
                                            ["RR MAE increase", _f(d["rr_mae_increase_bpm"], 3)]]), ""]
    if r.get("plots"):
        out += ["## Plots", ""] + [f"![{k}]({v})" for k, v in r["plots"].items()] + [""]
    return "\n".join(out)
