"""firmware_harness/tflm_example (issue 16): main.cc uses the symbols `edgeppg export` writes in model_data.h.

TFLM's C++ sources are not installed here, so main.cc itself is compiled only when TFLM_ROOT names a
tflite-micro checkout; the symbol contract is always checked: the export's firmware/tflm/eppg_tflm_model.h,
with the export's own model_data.h/.c, compiles, links and yields exactly the .tflite bytes.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="g++ not installed")


@pytest.fixture(scope="module")
def export(real_export_cached, tmp_path_factory):
    from edgeppg.firmware.library import write_library

    d = tmp_path_factory.mktemp("tflm") / "export"
    shutil.copytree(real_export_cached, d)
    write_library(d)
    return d


def test_main_cc_names_only_symbols_the_export_writes(export):
    main = (export / "firmware" / "tflm" / "main.cc").read_text()
    assert "g_model_data" not in main
    assert '#include "eppg_tflm_model.h"' in main and "EPPG_MODEL_DATA" in main
    header = (export / "model_data.h").read_text()
    ident = re.search(r"extern const unsigned char (\w+)_tflite\[\];", header).group(1)
    assert f"#define EPPG_MODEL {ident} " in (export / "firmware" / "tflm" / "eppg_tflm_model.h").read_text()


def test_symbol_contract_compiles_links_and_reads_the_model(export, tmp_path):
    (tmp_path / "check.cc").write_text(
        '#include <cstdio>\n#include "eppg_tflm_model.h"\n'
        'int main() { fwrite(EPPG_MODEL_DATA, 1, EPPG_MODEL_DATA_LEN, stdout); '
        'return EPPG_TFLM_ARENA_BYTES > 0 ? 0 : 1; }\n')
    (tmp_path / "model_data.cc").write_text((export / "model_data.c").read_text())  # C++ linkage, as main.cc sees it
    exe = tmp_path / "check"
    subprocess.run(["g++", "-std=c++17", "-Wall", "-Wextra", "-Werror", "-I", str(export / "firmware" / "tflm"),
                    "-I", str(export), str(tmp_path / "check.cc"), str(tmp_path / "model_data.cc"), "-o", str(exe)],
                   check=True)
    out = subprocess.run([str(exe)], capture_output=True, check=True).stdout
    assert out == (export / "student_int8.tflite").read_bytes()


@pytest.mark.skipif(not os.environ.get("TFLM_ROOT"), reason="TFLM C++ sources not installed (set TFLM_ROOT to a "
                                                             "tflite-micro checkout to compile main.cc itself)")
def test_main_cc_compiles_against_tflm(export, tmp_path):
    root = Path(os.environ["TFLM_ROOT"])
    inc = [root, root / "third_party" / "flatbuffers" / "include", root / "third_party" / "gemmlowp"]
    subprocess.run(["g++", "-std=c++17", "-fsyntax-only", "-DTF_LITE_STATIC_MEMORY",
                    *[f"-I{p}" for p in inc], "-I", str(export / "firmware" / "tflm"), "-I", str(export),
                    str(export / "firmware" / "tflm" / "main.cc")], check=True)
