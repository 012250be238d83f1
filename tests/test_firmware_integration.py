"""firmware/'s build integration (issue 16): the plain CMake project and the Make fragment build the library on
the host and link a caller; the Zephyr module and Arduino metadata name what those tools read. (Zephyr's west
and arduino-cli are not installed here: their files are checked, not built.)"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

pytest.importorskip("tflite_micro")
pytestmark = pytest.mark.skipif(shutil.which("gcc") is None or shutil.which("make") is None,
                                reason="gcc/make not installed")
CALLER = ('#include <stdio.h>\n#include "edgeppg.h"\n'
          'int main(void) { static int8_t w[EPPG_INPUT_BYTES]; eppg_result_t r; eppg_init();\n'
          '  eppg_infer(w, &r); printf("%u %u\\n", (unsigned)r.rhythm, (unsigned)EPPG_WINDOW_SAMPLES); return 0; }\n')


@pytest.fixture(scope="module")
def fw(real_export_cached, tmp_path_factory) -> Path:
    from edgeppg.firmware.library import write_library

    d = tmp_path_factory.mktemp("integ") / "export"
    shutil.copytree(real_export_cached, d)
    write_library(d)
    return d / "firmware"


@pytest.mark.skipif(shutil.which("cmake") is None, reason="cmake not installed")
def test_plain_cmake_builds_and_links(fw, tmp_path):
    app = tmp_path / "app"
    app.mkdir()
    (app / "main.c").write_text(CALLER)
    (app / "CMakeLists.txt").write_text(
        f"cmake_minimum_required(VERSION 3.13)\nproject(app C)\nadd_subdirectory({fw} edgeppg)\n"
        "add_executable(app main.c)\ntarget_link_libraries(app PRIVATE edgeppg)\n")
    subprocess.run(["cmake", "-S", str(app), "-B", str(tmp_path / "b")], check=True, capture_output=True)
    subprocess.run(["cmake", "--build", str(tmp_path / "b")], check=True, capture_output=True)
    out = subprocess.run([str(tmp_path / "b" / "app")], capture_output=True, text=True, check=True).stdout
    assert out.split()[1] == "512"


def test_make_fragment_builds_and_links(fw, tmp_path):
    (tmp_path / "main.c").write_text(CALLER)
    (tmp_path / "Makefile").write_text(
        f"include {fw}/edgeppg.mk\napp: main.c $(EDGEPPG_SRCS)\n\tgcc -std=c11 -O2 $(EDGEPPG_CFLAGS) $^ -o $@ $(EDGEPPG_LDLIBS)\n")
    subprocess.run(["make", "-s", "-C", str(tmp_path), "app"], check=True, capture_output=True)
    assert subprocess.run([str(tmp_path / "app")], capture_output=True, text=True, check=True).stdout.split()[1] == "512"


def test_zephyr_and_arduino_metadata(fw):
    mod = yaml.safe_load((fw / "zephyr" / "module.yml").read_text())
    assert mod["build"]["cmake"] == "." and (fw / mod["build"]["kconfig"]).is_file()
    assert "config EDGEPPG" in (fw / "zephyr" / "Kconfig").read_text()
    assert "zephyr_library_sources" in (fw / "CMakeLists.txt").read_text()
    props = dict(l.split("=", 1) for l in (fw / "library.properties").read_text().splitlines() if "=" in l)
    assert props["name"] == "edgeppg" and props["includes"] == "edgeppg.h" and props["version"][0].isdigit()
    assert (fw / "src" / "edgeppg.h").is_file() and not list(fw.glob("src/*/"))  # Arduino: flat src/
    for c in (fw / "src").glob("eppg_*.c"):
        if c.name != "eppg_consts.c":
            assert 'fp-contract=off' in c.read_text(), c.name  # Arduino cannot pass -ffp-contract=off
