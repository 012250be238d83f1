"""Device profiles and the stated estimates that turn host measurements into per-target figures.

Every number here that is not measured is an ESTIMATE, named as such in verify.json/verify.md:
  - latency = MACs x cycles-per-MAC / clock, unless a firmware-harness measurement (bench.json) exists;
  - flash/RAM: on a board the edgeppg C library image was built for, read from that ELF (measured, the primary
    figure); elsewhere (and as the labelled TFLM option everywhere) the TFLM estimate:
      flash = model bytes + TFLM runtime (core + one kernel per op kind the model uses),
      RAM   = measured TFLM arena + a fixed runtime overhead (interpreter, op resolver, kernel stack).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeppg.errors import EdgePPGError
from edgeppg.io import sha256_file

KIB = 1024


@dataclass(frozen=True)
class DeviceProfile:
    name: str
    core: str  # "cortex-m4" | "cortex-m33"
    clock_mhz: float
    flash_bytes: int
    ram_bytes: int
    cycles_per_mac: float
    description: str


# docs/design.md §7: int8 conv on an M4 took 2.2 instructions/MAC with CMSIS-NN, 6.9 with plain C. We assume
# CMSIS-NN-class kernels at 2.5 cycles/MAC (2.2 rounded up for loads, wait states and requantization);
# the M33 in the nRF5340 has the same DSP (SMLAD) extension, so the same figure.
CYCLES_PER_MAC_OPTIMISED = 2.5
CYCLES_PER_MAC_REFERENCE = 6.9  # plain-C (TFLM reference kernel) figure, reported for comparison

PROFILES: dict[str, DeviceProfile] = {
    "nrf52840": DeviceProfile("nrf52840", "cortex-m4", 64.0, 1024 * KIB, 256 * KIB, CYCLES_PER_MAC_OPTIMISED,
                              "Nordic nRF52840, Cortex-M4F 64 MHz, 1 MB flash / 256 KB RAM"),
    "nrf5340": DeviceProfile("nrf5340", "cortex-m33", 128.0, 1024 * KIB, 512 * KIB, CYCLES_PER_MAC_OPTIMISED,
                             "Nordic nRF5340 application core, Cortex-M33 128 MHz, 1 MB flash / 512 KB RAM"),
    "stm32l4r5": DeviceProfile("stm32l4r5", "cortex-m4", 120.0, 2048 * KIB, 640 * KIB, CYCLES_PER_MAC_OPTIMISED,
                               "ST STM32L4R5, Cortex-M4F 120 MHz, 2 MB flash / 640 KB RAM"),
}

# TFLM runtime flash (Thumb-2, -Os) — ESTIMATES, not measured here. The TFLM documentation states the core
# runtime fits in 16 KB on a Cortex-M3; per-kernel figures are rough sizes of the int8 reference kernels.
TFLM_CORE_FLASH = 16 * KIB
TFLM_KERNEL_FLASH: dict[str, int] = {
    "CONV_2D": 4 * KIB, "DEPTHWISE_CONV_2D": 4 * KIB, "FULLY_CONNECTED": 2 * KIB, "ADD": 2 * KIB,
    "MUL": 2 * KIB, "MEAN": 3 * KIB, "AVERAGE_POOL_2D": 2 * KIB, "MAX_POOL_2D": 2 * KIB, "PAD": 1536,
    "RESHAPE": 512, "EXPAND_DIMS": 512, "SQUEEZE": 512, "QUANTIZE": 1536, "DEQUANTIZE": 1536,
    "SOFTMAX": 2 * KIB, "LOGISTIC": 1536, "RELU": 1 * KIB, "RELU6": 1 * KIB, "CONCATENATION": 1536,
    "STRIDED_SLICE": 2 * KIB, "TRANSPOSE": 2 * KIB,
}
TFLM_KERNEL_FLASH_DEFAULT = 3 * KIB  # an op kind not in the table above
# RAM the runtime needs besides the arena: MicroInterpreter + op resolver objects and kernel stack (estimate).
TFLM_RAM_OVERHEAD = 4 * KIB


def flash_estimate(model_bytes: int, ops: dict[str, int]) -> dict[str, Any]:
    kernels = {op: TFLM_KERNEL_FLASH.get(op, TFLM_KERNEL_FLASH_DEFAULT) for op in sorted(ops)}
    runtime = TFLM_CORE_FLASH + sum(kernels.values())
    return {"flash_bytes": model_bytes + runtime, "model_bytes": model_bytes, "runtime_bytes_est": runtime,
            "runtime_core_bytes_est": TFLM_CORE_FLASH, "runtime_kernel_bytes_est": kernels,
            "note": "model bytes measured; TFLM runtime = 16 KiB core (TFLM docs: fits in 16 KB on Cortex-M3) + "
                    "a per-kernel estimate for each op kind the model uses (reference int8 kernels, -Os)"}


# where the flash/RAM figures come from: the C library's ELF (primary where it was built) or the TFLM estimate
TFLM_FLASH_SOURCE = "estimate: model bytes + TFLM runtime"
TFLM_RAM_SOURCE = "estimate: measured arena + runtime overhead"
IMAGE_FLASH_SOURCE = "measured: edgeppg C library ELF (size -A)"
IMAGE_RAM_SOURCE = "measured: edgeppg C library ELF (data+bss+stack reservation)"


def memory_figures(tflm_flash: int, tflm_ram: int, image: dict | None) -> dict[str, Any]:
    """verify.json's primary flash/RAM and their sources, plus the TFLM path kept as a labelled second option.

    `image` is `measure_firmware_image`'s result: when it measured, the primary figures are that ELF's (the edgeppg
    C library as linked for image["board"], stack reservation included); otherwise the TFLM estimate, with the
    reason the image is missing in the source label."""
    tflm = {"flash_bytes": int(tflm_flash), "ram_bytes": int(tflm_ram), "flash_source": TFLM_FLASH_SOURCE,
            "ram_source": TFLM_RAM_SOURCE, "runtime": "TFLM (firmware/tflm/ example; sizes not built here)"}
    if image and image.get("measured") and image.get("board") in PROFILES:
        stack = image.get("stack_reserved_bytes")
        ram_source = (IMAGE_RAM_SOURCE if stack is None else
                      f"measured: edgeppg C library ELF (data+bss + {int(stack):,} B stack reservation)")
        return {"flash_bytes": int(image["flash_bytes"]), "ram_bytes": int(image["ram_bytes"]),
                "flash_source": IMAGE_FLASH_SOURCE, "ram_source": ram_source, "board": image["board"],
                "tflm_estimate": tflm}
    why = (image or {}).get("reason") or "not built"
    return {"flash_bytes": int(tflm_flash), "ram_bytes": int(tflm_ram),
            "flash_source": f"{TFLM_FLASH_SOURCE} (no C library image: {why})",
            "ram_source": f"{TFLM_RAM_SOURCE} (no C library image: {why})", "board": None, "tflm_estimate": tflm}


# ---------------------------------------------------------------- firmware-harness measurement

BENCH_KEYS = ("target", "instructions_per_inference", "macs", "instructions_per_mac")


BENCH_IN_EXPORT = "bench.json"  # the one default place: inside the export folder verify was given


def find_bench(export_dir: Path, bench_json: str | Path | None = None) -> Path | None:
    """The firmware-harness bench.json verify uses: the path the caller names (it must exist), else
    EXPORT_DIR/bench.json if present. No sibling folders are searched: a run passes RUN/bench/bench.json in."""
    if bench_json is not None:
        p = Path(bench_json)
        if not p.is_file():
            raise EdgePPGError(f"bench result {p} not found; pass the bench.json written by `edgeppg bench`")
        return p
    p = Path(export_dir) / BENCH_IN_EXPORT
    return p if p.is_file() else None


def _bench_schema():
    from edgeppg.schema import Float, Int, Maybe, Obj, Str

    return Obj({"target": Str(max_len=32), "instructions_per_inference": Int(1, 10**13), "macs": Int(0, 10**12),
                "instructions_per_mac": Maybe(Float(0.0, 1e9))}, required=BENCH_KEYS)


def load_bench(path: Path, macs: int, ed=None) -> dict[str, Any]:
    """Validated bench entries that measured THIS export; refuses a measurement of a different model.

    With `ed` (the checked export folder), the file counts only when this machine's `edgeppg bench` sealed it
    (edgeppg.seal) for exactly this manifest and .tflite; otherwise it is returned as {"ignored": why} and the
    latency figures fall back to the stated estimate, so a hand-written or edited bench.json gates nothing."""
    from edgeppg.schema import read_json_file, validate
    from edgeppg.seal import is_sealed

    fix = "re-run `edgeppg bench` on this export or delete it"
    data = read_json_file(path, "bench result", fix)
    if ed is not None:
        bound = data.get("binding") if isinstance(data, dict) else None
        want = {"manifest_sha256": ed.manifest_sha256, "tflite_sha256": ed.artifact_sha256.get("student_int8.tflite")}
        if not is_sealed(data):
            return {"path": str(path), "ignored": "not sealed by this machine's `edgeppg bench` (hand-written, edited or "
                                                  "copied); latency below is the estimate — " + fix}
        if not isinstance(bound, dict) or {k: bound.get(k) for k in want} != want:
            return {"path": str(path), "ignored": "it measured other files than this export's manifest and .tflite; " + fix}
    entries = data if isinstance(data, list) else data.get("results", [data]) if isinstance(data, dict) else None
    if not entries or not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise EdgePPGError(f"{path} holds no bench entries; expected keys {', '.join(BENCH_KEYS)}")
    for i, e in enumerate(entries[:16]):
        missing = [k for k in BENCH_KEYS if k not in e]
        if missing:
            raise EdgePPGError(f"{path} entry lacks {', '.join(missing)}; expected keys {', '.join(BENCH_KEYS)}")
        validate(e, _bench_schema(), f"bench result {path} entry {i}", fix)
        if int(e["macs"]) != int(macs):
            raise EdgePPGError(f"{path} measured a model with {e['macs']} MACs but this export has {macs}; it belongs "
                               "to another model — re-run `edgeppg bench` on this export or delete it")
    return {"path": str(path), "sha256": sha256_file(path), "entries": entries[:16]}


def _bench_for(profile: DeviceProfile, bench: dict[str, Any] | None) -> dict[str, Any] | None:
    """Same-core measurement first; otherwise one from another Armv7E-M/Armv8-M DSP core (noted)."""
    if not bench or not bench.get("entries"):
        return None
    short = profile.core.replace("cortex-", "")  # "m4" / "m33"
    same = [e for e in bench["entries"] if short in str(e["target"]).lower().replace("-", "").replace("cortex", "")]
    return (same or bench["entries"])[0]


def target_estimates(macs: int, flash_bytes: int, ram_bytes: int, bench: dict[str, Any] | None = None,
                     memory: dict[str, Any] | None = None) -> dict:
    """Per profile: estimated latency (or bench-measured), flash/RAM headroom and whether it fits.
    Every latency names its source: measured (which harness, which count) or estimate (which kernels, cycles/MAC).
    flash_bytes/ram_bytes are the TFLM estimate; `memory` (`memory_figures`) puts the measured C library image on
    the board it was built for. Every other profile keeps the TFLM estimate, and each entry names its source."""
    out = {}
    for name, p in PROFILES.items():
        if memory is not None and memory.get("board") in (name, None):
            # the image's own board, or no image at all: verify's primary figures, which already name their source
            used_flash, used_ram = int(memory["flash_bytes"]), int(memory["ram_bytes"])
            flash_src, ram_src = str(memory["flash_source"]), str(memory["ram_source"])
        else:
            why = "" if memory is None else f" (C library image built for {memory['board']} only)"
            used_flash, used_ram = int(flash_bytes), int(ram_bytes)
            flash_src, ram_src = TFLM_FLASH_SOURCE + why, TFLM_RAM_SOURCE + why
        b = _bench_for(p, bench)
        if b is not None:
            cycles = float(b["instructions_per_inference"])
            source = (f"firmware harness bench.json (target {b['target']}): {int(cycles)} instructions/inference, "
                      f"cycles assumed = instructions")
            kind, kernels = f"measured: QEMU {b['target']} instruction count", "edgeppg firmware harness kernels"
        else:
            cycles = macs * p.cycles_per_mac
            source = f"estimate: {macs} MACs x {p.cycles_per_mac} cycles/MAC (CMSIS-NN-class int8 kernels)"
            kind, kernels = "estimate", f"CMSIS-NN-class int8 kernels, {p.cycles_per_mac} cycles/MAC"
        flash_free = p.flash_bytes - used_flash
        ram_free = p.ram_bytes - used_ram
        out[name] = {
            "core": p.core, "clock_mhz": p.clock_mhz, "flash_total_bytes": p.flash_bytes, "ram_total_bytes": p.ram_bytes,
            "est_cycles": int(round(cycles)), "est_latency_ms": round(cycles / (p.clock_mhz * 1e3), 3),
            "est_latency_ms_reference_kernels": round(macs * CYCLES_PER_MAC_REFERENCE / (p.clock_mhz * 1e3), 3),
            "latency_source": source, "measured": b is not None, "latency_kind": kind, "latency_kernels": kernels,
            "latency_reference_source": f"estimate: {macs} MACs x {CYCLES_PER_MAC_REFERENCE} cycles/MAC "
                                        "(TFLM reference kernels, plain C)",
            "flash_bytes": used_flash, "ram_bytes": used_ram, "flash_source": flash_src, "ram_source": ram_src,
            "flash_free_bytes": int(flash_free), "ram_free_bytes": int(ram_free), "fits": bool(flash_free >= 0 and ram_free >= 0),
        }
    return out


def latency_kind(t: dict) -> tuple[str, str]:
    """(kind, kernels) of one verify.json target entry; older files without latency_kind derive it from 'measured'."""
    measured = bool(t.get("measured"))
    kind = t.get("latency_kind") or ("measured: QEMU instruction count" if measured else "estimate")
    kernels = t.get("latency_kernels") or ("edgeppg firmware harness kernels" if measured else
                                           f"CMSIS-NN-class int8 kernels, {CYCLES_PER_MAC_OPTIMISED} cycles/MAC")
    return str(kind), str(kernels)


@dataclass(frozen=True)
class TargetFigures:
    """One target's entry of verify.json["targets"], typed: what the report, check and verify.md print."""
    name: str
    core: str
    clock_mhz: float
    latency_ms: float
    latency_kind: str  # "estimate" or "measured: QEMU <target> instruction count"
    latency_kernels: str
    latency_source: str  # the full sentence (counts, cycles/MAC)
    latency_ms_reference_kernels: float | None
    latency_reference_source: str
    flash_total_bytes: int
    ram_total_bytes: int
    flash_free_bytes: int
    ram_free_bytes: int
    fits: bool
    # where the flash/RAM that the free figures subtract come from; a verify.json from before the C library image
    # became the primary figure has none: its figures were the TFLM estimate
    flash_source: str = TFLM_FLASH_SOURCE
    ram_source: str = TFLM_RAM_SOURCE

    @property
    def flash_bytes(self) -> int:
        return self.flash_total_bytes - self.flash_free_bytes

    @property
    def ram_bytes(self) -> int:
        return self.ram_total_bytes - self.ram_free_bytes

    @property
    def memory_measured(self) -> bool:
        return self.flash_source.startswith("measured")

    @property
    def measured(self) -> bool:
        return self.latency_kind.startswith("measured")

    def source_label(self) -> str:
        return f"{self.latency_kind}, {self.latency_kernels}"

    def latency_label(self) -> str:
        """'3.61 ms (estimate, CMSIS-NN-class int8 kernels, 2.5 cycles/MAC)': the figure never without its source."""
        return f"{self.latency_ms:.2f} ms ({self.source_label()})"

    def reference_label(self) -> str:
        if self.latency_ms_reference_kernels is None:
            return "n/a (not in this verify.json)"
        return f"{self.latency_ms_reference_kernels:.2f} ms (estimate, TFLM reference kernels, {CYCLES_PER_MAC_REFERENCE} cycles/MAC)"

    def to_json(self) -> dict:
        return {"core": self.core, "clock_mhz": self.clock_mhz, "flash_total_bytes": self.flash_total_bytes,
                "ram_total_bytes": self.ram_total_bytes, "est_latency_ms": self.latency_ms,
                "est_latency_ms_reference_kernels": self.latency_ms_reference_kernels,
                "latency_source": self.latency_source, "measured": self.measured, "latency_kind": self.latency_kind,
                "latency_kernels": self.latency_kernels, "latency_reference_source": self.latency_reference_source,
                "flash_bytes": self.flash_bytes, "ram_bytes": self.ram_bytes, "flash_source": self.flash_source,
                "ram_source": self.ram_source,
                "flash_free_bytes": self.flash_free_bytes, "ram_free_bytes": self.ram_free_bytes, "fits": self.fits}

    @classmethod
    def from_json(cls, name: str, t: dict) -> "TargetFigures":
        kind, kernels = latency_kind(t)
        return cls(name, str(t["core"]), float(t["clock_mhz"]), float(t["est_latency_ms"]), kind, kernels,
                   str(t.get("latency_source", kind)), t.get("est_latency_ms_reference_kernels"),
                   str(t.get("latency_reference_source") or f"estimate: {CYCLES_PER_MAC_REFERENCE} cycles/MAC "
                       "(TFLM reference kernels, plain C)"),
                   int(t["flash_total_bytes"]), int(t["ram_total_bytes"]), int(t["flash_free_bytes"]),
                   int(t["ram_free_bytes"]), bool(t["fits"]), str(t.get("flash_source") or TFLM_FLASH_SOURCE),
                   str(t.get("ram_source") or TFLM_RAM_SOURCE))
