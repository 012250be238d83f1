"""Flash and RAM of a linked Cortex-M image, read from the ELF itself (`arm-none-eabi-size -A`, section by
section, and `objdump -h` for where each section is loaded), not estimated.

flash = every section with a load image whose load address (LMA) lies in the flash region (.text, .rodata,
.ARM.exidx, and .data's initial values); RAM = every allocated section whose run address (VMA) lies in the RAM
region (.data, .bss and the NOLOAD .stack reservation). The stack *used* comes from the harness's painting
(`m-stack-[used=]`), not from here.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from edgeppg.errors import EdgePPGError

NRF52840 = {"flash": (0x00000000, 1024 * 1024), "ram": (0x20000000, 256 * 1024)}
_HDR = re.compile(r"^\s*\d+\s+(\S+)\s+([0-9a-fA-F]+)\s+([0-9a-fA-F]+)\s+([0-9a-fA-F]+)\s+[0-9a-fA-F]+\s+\S+\s*$")


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise EdgePPGError(f"{name} not found: install with `sudo apt-get install -y binutils-arm-none-eabi`")
    return path


def size_a(elf: str | os.PathLike) -> dict[str, int]:
    """`arm-none-eabi-size -A`: {section: bytes} for every section with a size (debug info included)."""
    out = subprocess.run([_tool("arm-none-eabi-size"), "-A", str(elf)], capture_output=True, text=True,
                         check=True).stdout
    sizes = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0].startswith(".") and parts[1].isdigit():
            sizes[parts[0]] = int(parts[1])
    return sizes


def _headers(elf: str | os.PathLike) -> dict[str, dict]:
    out = subprocess.run([_tool("arm-none-eabi-objdump"), "-h", str(elf)], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    heads = {}
    for i, line in enumerate(out):
        m = _HDR.match(line)
        if m and i + 1 < len(out):
            flags = {f.strip() for f in out[i + 1].split(",")}
            heads[m.group(1)] = {"size": int(m.group(2), 16), "vma": int(m.group(3), 16), "lma": int(m.group(4), 16),
                                 "alloc": "ALLOC" in flags, "load": "LOAD" in flags}
    return heads


def _inside(addr: int, region: tuple[int, int]) -> bool:
    return region[0] <= addr < region[0] + region[1]


def elf_memory(elf: str | os.PathLike, regions: dict = NRF52840) -> dict:
    """Per-section sizes and the flash / RAM totals of an image linked for `regions` ({flash, ram}: (origin, length))."""
    elf = Path(elf)
    sizes, heads = size_a(elf), _headers(elf)
    sections, flash, ram = {}, 0, 0
    for name, size in sizes.items():
        h = heads.get(name)
        if h is None or not h["alloc"] or size == 0:
            continue
        in_flash = h["load"] and _inside(h["lma"], regions["flash"])
        in_ram = _inside(h["vma"], regions["ram"])
        flash += size if in_flash else 0
        ram += size if in_ram else 0
        sections[name] = {"bytes": size, "vma": h["vma"], "lma": h["lma"], "flash": in_flash, "ram": in_ram}
    stack = sections.get(".stack", {}).get("bytes", 0)
    return {"elf": elf.name, "sections": sections, "flash_bytes": flash, "ram_bytes": ram,
            "ram_static_bytes": ram - stack, "stack_reserved_bytes": stack,
            "flash_budget_bytes": regions["flash"][1], "ram_budget_bytes": regions["ram"][1],
            "method": "arm-none-eabi-size -A section sizes; objdump -h load (LMA) / run (VMA) addresses"}
