"""Build firmware_harness for a target with make + gcc / arm-none-eabi-gcc, and read its memory use."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from edgeppg.errors import CheckFailed, EdgePPGError

HARNESS_DIR = Path(__file__).resolve().parents[2] / "firmware_harness"
TARGETS = ("host", "host-asan", "qemu-m4", "qemu-m33", "nrf52840")
QEMU_MACHINE = {"qemu-m4": "mps2-an386", "qemu-m33": "mps2-an505"}
ICOUNT_SHIFT = 10  # 1024 ns per instruction = 20-25.6 timer ticks: a +-1 tick read jitter stays far below one instruction
BUDGETS = {"nrf52840": {"flash": 1024 * 1024, "ram": 256 * 1024}}
_APT = {"arm-none-eabi-gcc": "gcc-arm-none-eabi libnewlib-arm-none-eabi", "qemu-system-arm": "qemu-system-arm",
        "gcc": "gcc", "make": "make", "arm-none-eabi-size": "binutils-arm-none-eabi"}


def harness_dir() -> Path:
    if not (HARNESS_DIR / "Makefile").is_file():
        raise EdgePPGError(f"firmware_harness sources not found at {HARNESS_DIR} (run from a source checkout)")
    return HARNESS_DIR


def require_tools(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pkgs = " ".join(dict.fromkeys(_APT.get(t, t) for t in missing))
        raise EdgePPGError(f"{', '.join(missing)} not found: install with `sudo apt-get install -y {pkgs}` "
                           "(or `make toolchain`)")


def tools_for(target: str) -> tuple[str, ...]:
    if target in ("host", "host-asan"):
        return ("make", "gcc")
    if target in QEMU_MACHINE:
        return ("make", "arm-none-eabi-gcc", "qemu-system-arm")
    return ("make", "arm-none-eabi-gcc")


def build(model_dir: str | os.PathLike, target: str, build_dir: str | os.PathLike, opt: bool | None = None,
          stack_size: int | None = None, timeout: float = 300) -> Path:
    """Compile harness + generated model; returns the executable/ELF. Over-budget links raise CheckFailed."""
    if target not in TARGETS:
        raise EdgePPGError(f"unknown target {target!r}; valid targets: {', '.join(TARGETS)}")
    require_tools(*[t for t in tools_for(target) if not t.startswith("qemu")])
    build_dir = Path(build_dir).resolve()
    cmd = ["make", "-s", "-C", str(harness_dir()), f"TARGET={target}", f"MODEL_DIR={Path(model_dir).resolve()}",
           f"BUILD={build_dir}"]
    if opt is not None:
        cmd.append(f"OPT={int(opt)}")
    if stack_size is not None:
        cmd.append(f"STACK_SIZE={stack_size:#x}")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    log = proc.stdout + proc.stderr
    build_dir.mkdir(parents=True, exist_ok=True)
    (build_dir / "build.log").write_text(" ".join(cmd) + "\n" + log)
    if proc.returncode != 0:
        m = re.search(r"region [`']?(\w+)'? overflowed by (\d+) bytes", log)
        if m:
            raise CheckFailed(f"firmware for {target} does not fit: region {m.group(1)} overflowed by {m.group(2)} "
                              f"bytes (see {build_dir / 'build.log'})")
        tail = "\n".join(log.strip().splitlines()[-8:])
        raise EdgePPGError(f"firmware build for {target} failed (see {build_dir / 'build.log'}):\n{tail}")
    return build_dir / ("harness" if target.startswith("host") else "harness.elf")


def section_sizes(elf: str | os.PathLike, target: str) -> dict[str, int]:
    tool = "size" if target.startswith("host") else "arm-none-eabi-size"
    require_tools(tool if tool != "size" else "gcc")
    out = subprocess.run([tool, "-A", str(elf)], capture_output=True, text=True, check=True).stdout
    sizes = {}
    for line in out.splitlines():
        parts = line.split()
        if (len(parts) >= 2 and parts[0].startswith(".") and parts[1].isdigit()
                and not parts[0].startswith((".debug", ".comment", ".ARM.attributes", ".note", ".gnu"))):
            sizes[parts[0]] = int(parts[1])
    return sizes


def memory_report(elf: str | os.PathLike, target: str, stack_used: int | None) -> dict:
    """flash = text + rodata (+ exidx and the .data load image); ram = data + bss + stack high-water."""
    s = section_sizes(elf, target)
    flash = s.get(".text", 0) + s.get(".rodata", 0) + s.get(".ARM.exidx", 0) + s.get(".data", 0)
    static_ram = s.get(".data", 0) + s.get(".bss", 0)
    rep = {"sections": s, "flash_bytes": flash, "static_ram_bytes": static_ram,
           "stack_reserved_bytes": s.get(".stack", 0) or None}
    rep["ram_bytes"] = static_ram + stack_used if stack_used else None
    budget = BUDGETS.get(target)
    if budget:
        rep["budget"] = dict(budget, ram_left_fraction=1 - (static_ram + s.get(".stack", 0)) / budget["ram"],
                             flash_left_fraction=1 - flash / budget["flash"])
    return rep


def harness_argv(target: str, exe: str | os.PathLike, shift: int = ICOUNT_SHIFT) -> list[str]:
    if target in ("host", "host-asan"):
        return [str(exe)]
    if target in QEMU_MACHINE:
        require_tools("qemu-system-arm")
        return ["qemu-system-arm", "-M", QEMU_MACHINE[target], "-display", "none", "-serial", "stdio",
                "-monitor", "none", "-semihosting-config", "enable=on,target=native",
                "-icount", f"shift={shift},align=off,sleep=off", "-kernel", str(exe)]
    raise EdgePPGError(f"target {target} builds here but cannot run here (it needs the board)")
