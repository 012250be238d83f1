"""The export's firmware/ example built for real boards with arm-none-eabi-gcc (issue 16): the nRF52840 .elf/.hex
with flash and RAM read from the ELF (`edgeppg.firmware.elfsize`), and the same library run under QEMU on a
Cortex-M4 (DSP and portable kernels), a Cortex-M33 and an ARMv6-M core (the M0+ build on QEMU's Cortex-M0
`microbit`): each prints exactly what the host build prints (the host build is checked against TFLM and
predict in tests/test_firmware_library.py). Skips with a reason where the toolchain is missing (CI installs it).
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

HAVE_ARM = shutil.which("arm-none-eabi-gcc") is not None and shutil.which("make") is not None
HAVE_QEMU = HAVE_ARM and shutil.which("qemu-system-arm") is not None
needs_arm = pytest.mark.skipif(not HAVE_ARM, reason="arm-none-eabi-gcc missing: apt-get install gcc-arm-none-eabi "
                                                    "libnewlib-arm-none-eabi binutils-arm-none-eabi (make toolchain)")
needs_qemu = pytest.mark.skipif(not HAVE_QEMU, reason="qemu-system-arm/arm-none-eabi-gcc missing: "
                                                      "apt-get install qemu-system-arm gcc-arm-none-eabi")
pytestmark = pytest.mark.toolchain
QEMU = {"qemu-m4": "mps2-an386", "qemu-m33": "mps2-an505", "qemu-m0": "microbit"}


@pytest.fixture(scope="module")
def firmware(real_export_cached, tmp_path_factory):
    d = tmp_path_factory.mktemp("fw") / "export"
    shutil.copytree(real_export_cached, d)
    from edgeppg.firmware.library import write_library

    write_library(d)  # what `edgeppg export` writes (tests/test_export_e2e.py), from this checkout's library.py
    return d / "firmware"


@needs_arm
def test_nrf52840_hex_and_memory_from_the_elf(firmware, tmp_path):
    from edgeppg.firmware.elfsize import elf_memory, size_a
    from edgeppg.firmware.library import build_example

    elf = build_example(firmware, "nrf52840", tmp_path)
    hexf = elf.with_suffix(".hex")
    lines = hexf.read_text().split()
    assert lines[0].startswith(":") and lines[-1] == ":00000001FF"
    assert "warning:" not in (tmp_path / "build.log").read_text()
    mem = elf_memory(elf)
    s = size_a(elf)
    assert mem["flash_bytes"] == s[".text"] + s[".rodata"] + s.get(".data", 0) + s.get(".ARM.exidx", 0)
    assert mem["ram_bytes"] == s.get(".data", 0) + s[".bss"] + s[".stack"]
    assert 0 < mem["flash_bytes"] < mem["flash_budget_bytes"] // 4
    assert 0 < mem["ram_bytes"] < mem["ram_budget_bytes"] // 4
    # the .hex holds exactly the flash image: its data records add up to the ELF's flash bytes
    data = sum(int(l[1:3], 16) for l in lines if l[7:9] == "00")
    assert data == mem["flash_bytes"]


@needs_arm
def test_m0plus_links_with_the_portable_kernels_only(firmware, tmp_path):
    from edgeppg.firmware.elfsize import elf_memory
    from edgeppg.firmware.library import build_example

    elf = build_example(firmware, "m0plus", tmp_path)
    dis = subprocess.run(["arm-none-eabi-objdump", "-d", str(elf)], capture_output=True, text=True, check=True).stdout
    assert "smlad" not in dis and "sxtb16" not in dis  # no DSP extension on ARMv6-M
    mem = elf_memory(elf, {"flash": (0, 256 << 10), "ram": (0x20000000, 32 << 10)})
    assert mem["ram_bytes"] <= 32 << 10


def _host_output(firmware) -> str:
    ex = firmware / "examples" / "baremetal"
    subprocess.run(["make", "-s", "-C", str(ex), "host"], check=True, capture_output=True)
    return subprocess.run([str(ex / "build" / "host" / "edgeppg_example")], capture_output=True, text=True,
                          check=True).stdout


@needs_qemu
@pytest.mark.parametrize("board,opt", [("qemu-m4", None), ("qemu-m4", 0), ("qemu-m33", None), ("qemu-m0", None)])
def test_qemu_runs_print_what_the_host_build_prints(firmware, tmp_path, board, opt):
    from edgeppg.firmware.library import build_example

    elf = build_example(firmware, board, tmp_path, console=True, opt=opt)
    run = subprocess.run(["qemu-system-arm", "-M", QEMU[board], "-display", "none", "-monitor", "none", "-serial",
                          "null", "-semihosting-config", "enable=on,target=native",
                          "-icount", "shift=10,align=off,sleep=off", "-kernel", str(elf)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    want = _host_output(firmware)
    assert want.count("push window=") == 5 and want.endswith("done\n")
    got, stack = run.stderr.rsplit("stack_used=", 1)  # QEMU writes semihosting output (SYS_WRITEC) to stderr
    cost = [l for l in got.splitlines() if l.startswith("cost ")]
    assert "".join(l + "\n" for l in got.splitlines() if not l.startswith("cost ")) == want
    # -icount: the timer counts instructions; ticks/instruction measured by two spin loops of 2N instructions
    calib = [int(l.split("ticks=")[1]) for l in cost if l.startswith("cost calib")]
    tpi = (calib[1] - calib[0]) / 200000
    per_window = [round(int(l.split("ticks=")[1]) / tpi) for l in cost if l.startswith("cost window")]
    assert len(per_window) == 5 and per_window[0] == per_window[4]  # the same window costs the same, exactly
    macs = int(next(l for l in (firmware / "src" / "edgeppg.h").read_text().splitlines()
                    if l.startswith("#define EPPG_MODEL_MACS")).split()[2].rstrip("u"))
    assert per_window[0] > macs  # model + preprocessing + gate + decoding of one window
    assert 0 < int(stack) < 1024  # what edgeppg.h / Kconfig promise a caller's stack needs (incl. the example)


@needs_arm
def test_verify_measures_flash_and_ram_from_the_nrf52840_elf(firmware, tmp_path):
    from edgeppg.firmware.elfsize import elf_memory
    from edgeppg.firmware.library import measure_firmware_image
    from edgeppg.verify.report import _image_rows

    img = measure_firmware_image(firmware.parent, tmp_path / "img")
    assert img["measured"] is True and img["board"] == "nrf52840"
    assert img["flash_bytes"] == elf_memory(img["elf"])["flash_bytes"] > 0
    assert "measured" in _image_rows(img)[0][0] and f"{img['flash_bytes']:,} B" in _image_rows(img)[0][1]
    shutil.copytree(firmware.parent, tmp_path / "copy")
    (tmp_path / "copy" / "firmware" / "src" / "edgeppg.c").write_text("/* edited */\n")  # not what was shipped
    bad = measure_firmware_image(tmp_path / "copy", tmp_path / "bad")
    assert bad["measured"] is False and "src/edgeppg.c" in bad["reason"]


@needs_arm
def test_an_image_that_cannot_be_built_is_not_measured_and_says_why(firmware, tmp_path):
    """verify then keeps the TFLM estimate as its primary figure (issue 16) instead of failing."""
    from edgeppg.firmware.library import measure_firmware_image
    from edgeppg.verify.targets import memory_figures

    img = measure_firmware_image(firmware.parent, tmp_path / "img", board="stm32l4r5")  # a board without a port
    assert img["measured"] is False and "unknown board 'stm32l4r5'" in img["reason"]
    mem = memory_figures(60_000, 20_000, img)
    assert (mem["flash_bytes"], mem["ram_bytes"]) == (60_000, 20_000) and mem["board"] is None
    assert mem["flash_source"].startswith("estimate: model bytes + TFLM runtime (no C library image: unknown board")
