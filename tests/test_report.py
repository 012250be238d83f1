"""The run report answers "will it fit, how fast, how accurate" at the top, and every table cell is a figure or an
explicit n/a (reason): rendered from a real smoke run, plus the contracts that fed it None before (issues 15, 17)."""

import re

import pytest

from edgeppg.verify.budget import CheckResult, Row

NUMBER = re.compile(r"^[-+]?\d[\d,]*(\.\d+)?(e[-+]?\d+)?( .*)?$")
NA = re.compile(r"^n/a \(.+\)$")
YES_NO = re.compile(r"^(yes|no|NO)( \(.+\))?$")
# columns that hold names, sources or verdict words rather than figures
TEXT_COLUMNS = {"stage", "status", "key metrics", "model", "source", "target", "metric", "runtime", "layer", "kind",
                "ok", "fits", "bit-exact vs TFLM", "classes", "latency source", "figure"}


def tables(md: str) -> list[tuple[list[str], list[list[str]]]]:
    """Every markdown table: (headers, rows of cells)."""
    out, cur = [], None
    for line in md.splitlines() + [""]:
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if cur is None:
                cur = (cells, [])
            elif not all(set(c) <= set("-:") for c in cells):
                cur[1].append(cells)
        elif cur is not None:
            out.append(cur)
            cur = None
    return out


def bad_cells(md: str) -> list[str]:
    bad = []
    for headers, rows in tables(md):
        for row in rows:
            assert len(row) == len(headers), (headers, row)
            for h, c in zip(headers, row):
                if c in ("", "None", "—", "-", "nan", "True", "False") or "None" in c.split() or "{" in c or "'" in c:
                    bad.append(f"{h}={c!r} in {row[0]}")
                elif h not in TEXT_COLUMNS and not (NUMBER.match(c) or NA.match(c) or YES_NO.match(c)):
                    bad.append(f"{h}={c!r} in {row[0]}")
    return bad


def test_smoke_run_report_every_cell_is_a_figure_or_an_explicit_na(smoke_run):
    run, _ = smoke_run
    md = (run / "report.md").read_text()
    assert tables(md), "no tables in the report"
    assert bad_cells(md) == []
    # the card comes first: fits, latency with its source, flash, RAM, fp32 vs int8 on synthetic and real data
    assert md.index("## Will it fit, how fast, how accurate") < md.index("## Stages")
    card = md.split("## Will it fit, how fast, how accurate", 1)[1].split("## Stages", 1)[0]
    for needle in ("fits the budget", "latency", "TFLM reference kernels", "flash", "RAM", "edgeppg C library image",
                   "student fp32 (torch)",
                   "student int8 (TFLite)", "synthetic rhythm macro-F1", "real HR MAE (BPM)"):
        assert needle in card, needle
    assert re.search(r"\| latency \| \d+\.\d\d ms \((estimate|measured)", card)
    # the budget table shows the budget itself, never None
    budget = next(rows for headers, rows in tables(md) if headers[:2] == ["metric", "budget"])
    assert budget and all(NUMBER.match(r[1]) or YES_NO.match(r[1]) for r in budget)
    assert any(r[0].endswith("max_latency_ms") and r[5].startswith("estimate") for r in budget)
    # the bench stage's row names what it measured; the host firmware row is figures or reasons
    stages = {r[0]: r for headers, rows in tables(md) if headers[0] == "stage" for r in rows}
    assert "bitexact_vs_tflm=yes" in stages["bench"][3]
    assert "### Per layer (host)" in md
    assert "classes: " in md and "{'" not in md
    assert "**" not in (run / "report.html").read_text()
    assert "<td>None</td>" not in (run / "report.html").read_text()


def test_report_cell_checker_catches_what_the_old_report_printed():
    old = ("| metric | budget | actual | over by | ok |\n|---|---:|---:|---:|---|\n"
           "| flash.max_model_bytes | None | 14832 | — | yes |\n")
    assert len(bad_cells(old)) == 2
    old_fw = "| target | instructions/inference | flash B |\n|---|---:|---:|\n| host | None | None |\n"
    assert len(bad_cells(old_fw)) == 2


def test_check_json_round_trips_through_the_typed_result():
    res = CheckResult(False, (Row("flash.max_model_bytes", 32768, 40000, 7232, False, "B"),
                              Row("targets.nrf52840.max_latency_ms", 20.0, 3.6, None, True, "ms", "estimate, x")),
                      "b.toml", "/e", "/e/verify/verify.json", True, {"real_json": "/r.json"})
    back = CheckResult.from_json(res.to_json())
    assert back == res
    assert back.rows[0].budget == 32768 and back.rows[0].over_by == 7232


def test_budget_cells_in_the_report_come_from_check_json(tmp_path):
    """The break that blanked every budget cell: the report must read check.json's own keys (budget, over_by)."""
    from edgeppg.pipeline.summary import _check_body

    res = CheckResult(False, (Row("ram.max_arena_bytes", 8192, 10560, 2368, False, "B"),), "b.toml", "/e", "/v", False)
    body = _check_body(CheckResult.from_json(res.to_json()))
    assert "| ram.max_arena_bytes | 8,192 B | 10,560 B | 2,368 B | NO | verify.json |" in body
    assert bad_cells(body) == []


def test_latency_names_its_source_in_check_table_and_verify_text():
    from edgeppg.verify.budget import Budget, evaluate
    from edgeppg.verify.report import summary_text
    from edgeppg.verify.targets import target_estimates

    targets = target_estimates(1_000_000, 50_000, 20_000)
    budget = Budget("b.toml", "b", (("targets.nrf52840.max_latency_ms", float, "max",
                                     ("targets", "nrf52840", "est_latency_ms"), "ms", 20.0),))
    rows = evaluate(budget, {"targets": targets})
    assert rows[0].source == "estimate, CMSIS-NN-class int8 kernels, 2.5 cycles/MAC"
    table = CheckResult(rows[0].ok, rows, "b.toml", "/e", "/v", True).table()
    assert "source" in table.splitlines()[0] and "estimate, CMSIS-NN-class" in table
    measured = target_estimates(1_000_000, 50_000, 20_000, {"entries": [
        {"target": "qemu-m4", "instructions_per_inference": 600_000, "macs": 1_000_000}]})
    assert measured["nrf52840"]["latency_kind"] == "measured: QEMU qemu-m4 instruction count"
    verify = {"model": {"name": "m", "params": 1, "macs": 1_000_000, "model_bytes": 1000}, "metrics": {},
              "export_dir": "/e", "flash_bytes": 50_000, "arena_bytes": 16_000, "ram_bytes": 20_000,
              "arena": {"minus_16_fails": True}, "tflm_vs_litert_ref_max_lsb": 0,
              "tflm_vs_litert_ref": {"windows_differing": 0}, "host_latency_us": {}, "targets": measured}
    text = summary_text(verify)
    assert "measured: QEMU qemu-m4 instruction count" in text and "TFLM reference kernels" in text


def test_html_renders_bold_and_code_instead_of_literal_marks(tmp_path):
    from edgeppg.pipeline.report import _html

    page = _html("# r\n\n**PASSED** against `b.toml`\n\n| a | b |\n|---|---|\n| **x** | 1 |\n", tmp_path)
    assert "**" not in page and "<strong>PASSED</strong>" in page and "<code>b.toml</code>" in page


@pytest.mark.parametrize("student_bytes", [(4 * 4286, 14832), (4 * 11734, 26976)])  # smoke s4k, default s12k
def test_size_accuracy_tick_labels_do_not_collide(tmp_path, student_bytes):
    """Student fp32 and int8 size labels overlapped on the log axis beside the 1.1 MB teacher (README figure too)."""
    from edgeppg.verify import plots

    pts = [{"label": "teacher fp32", "bytes": 4 * 282390, "rhythm_macro_f1": 0.9, "hr_mae_bpm": 3.0},
           {"label": "student fp32", "bytes": student_bytes[0], "rhythm_macro_f1": 0.8, "hr_mae_bpm": 4.0},
           {"label": "student int8 (TFLM)", "bytes": student_bytes[1], "rhythm_macro_f1": 0.79, "hr_mae_bpm": 4.1}]
    fig = plots.size_accuracy_figure(pts)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        boxes = sorted((t.get_window_extent(renderer) for t in ax.get_xticklabels() if t.get_visible() and t.get_text()),
                       key=lambda b: b.x0)
        assert len(boxes) >= 2
        for a, b in zip(boxes, boxes[1:]):
            assert b.x0 >= a.x1 + 2, "x tick labels touch or overlap (read as one number, e.g. 26.345.8)"
    import matplotlib.pyplot as plt

    plt.close(fig)
    assert plots.size_accuracy(pts, tmp_path / "s.png").is_file()


@pytest.mark.parametrize("same", [True, False])
def test_fp32_figures_say_when_test_sets_differ(same):
    from edgeppg.pipeline.results import DistillResult, ExportResult, RunResults
    from edgeppg.pipeline.summary import heldout_note

    d = DistillResult.from_json({"student": {"rhythm_macro_f1": 0.958}, "test_windows": 80,
                                 "data": {"test_window_ids_sha256": "a" * 64}})
    e = ExportResult.from_json({"torch_fp32": {"rhythm_macro_f1": 0.962}, "heldout_windows": 500},
                               {"heldout": {"ids_sha256": ("a" if same else "b") * 64, "windows": 500}})
    note = heldout_note(RunResults(None, None, d, e, None, {}, None, None))
    assert ("same" in note) == same and ("differ" in note) != same



def test_small_and_budget_figures_keep_their_digits():
    from edgeppg.pipeline.summary import _check_body, num

    assert num(5.96e-08) == "5.96e-08" and num(0.0) == "0.000" and num(0.4693) == "0.469" and num(None) == "n/a (not measured)"
    res = CheckResult(True, (Row("targets.nrf52840.max_latency_ms", 20.0, 3.614, None, True, "ms", "estimate, k"),
                             Row("degradation.max_f1_drop", 0.005, 0.0012, None, True, "")), "b.toml", "/e", "/v", True)
    body = _check_body(res)
    assert "| 20 ms | 3.614 ms |" in body and "| 0.005 | 0.0012 |" in body


def _verify_doc(image: dict) -> dict:
    """verify.json's memory keys as verify_export writes them, for a TFLM estimate of 60,768 / 19,584 B (issue 16)."""
    from edgeppg.verify.targets import memory_figures, target_estimates

    mem = memory_figures(60_768, 19_584, image)
    return {"arena_bytes": 15_488, "flash_bytes": mem["flash_bytes"], "ram_bytes": mem["ram_bytes"],
            "flash_source": mem["flash_source"], "ram_source": mem["ram_source"], "tflm_estimate": mem["tflm_estimate"],
            "targets": target_estimates(1000, 60_768, 19_584, None, mem), "firmware_image": image}


def test_card_makes_the_c_library_image_primary_on_its_board_and_keeps_tflm_as_the_second_option():
    from edgeppg.pipeline.results import VerifyResult
    from edgeppg.pipeline.summary import _memory_rows, _verify_body

    img = {"measured": True, "board": "nrf52840", "flash_bytes": 75_744, "ram_bytes": 18_880,
           "stack_reserved_bytes": 4096}
    v = VerifyResult.from_json(_verify_doc(img))
    assert (v.flash_bytes, v.ram_bytes) == (75_744, 18_880) and v.memory_measured
    assert (v.tflm_estimate.flash_bytes, v.tflm_estimate.ram_bytes) == (60_768, 19_584)
    assert VerifyResult.from_json(v.to_json()) == v
    rows = dict(_memory_rows(v))
    flash = rows["flash (edgeppg C library image where built, else TFLM estimate)"]
    assert flash[0] == "75,744 B of 1,048,576 B (972,832 B free; measured from the edgeppg C library ELF)"
    assert flash[1].startswith("60,768 B of 1,048,576 B") and "built for nrf52840 only" in flash[1]
    assert rows["RAM (edgeppg C library image where built, else TFLM estimate)"][0].startswith("18,880 B of 262,144 B")
    assert set(rows["flash, TFLM option (model + TFLM runtime est.)"]) >= {"60,768 B of 1,048,576 B (estimate)"}
    assert rows["RAM, TFLM option (measured arena + runtime est.)"][0] == "19,584 B of 262,144 B (estimate)"
    table = "| figure | a | b | c |\n|---|---|---|---|\n" + "".join(f"| {k} | " + " | ".join(c) + " |\n"
                                                                for k, c in rows.items())
    assert bad_cells(table) == [] and bad_cells(_verify_body(v)) == []
    # not built: the TFLM estimate is primary everywhere, and every cell says why
    img = {"measured": False, "reason": "arm-none-eabi-gcc not installed"}
    v = VerifyResult.from_json(_verify_doc(img))
    assert (v.flash_bytes, v.ram_bytes) == (60_768, 19_584) and not v.memory_measured
    assert "no C library image: arm-none-eabi-gcc not installed" in v.flash_source
    rows = dict(_memory_rows(v))
    assert all(c.startswith("60,768 B of") and "arm-none-eabi-gcc not installed" in c
               for c in rows["flash (edgeppg C library image where built, else TFLM estimate)"])


def test_verify_json_from_before_the_c_library_was_primary_still_reads_as_tflm_estimates():
    from edgeppg.pipeline.results import VerifyResult
    from edgeppg.verify.budget import Budget, evaluate
    from edgeppg.verify.report import summary_text
    from edgeppg.verify.targets import target_estimates

    old = {"arena_bytes": 1, "flash_bytes": 2, "ram_bytes": 3, "targets": target_estimates(1000, 2, 3),
           "firmware_image": {"measured": True, "board": "nrf52840", "flash_bytes": 41896, "ram_bytes": 15792}}
    for t in old["targets"].values():  # a /1 file's targets had no per-target sources
        for k in ("flash_bytes", "ram_bytes", "flash_source", "ram_source"):
            del t[k]
    v = VerifyResult.from_json(old)
    assert v.flash_source.startswith("estimate") and (v.tflm_estimate.flash_bytes, v.tflm_estimate.ram_bytes) == (2, 3)
    assert not v.targets[0].memory_measured and v.targets[0].flash_bytes == 2
    rows = evaluate(Budget("b", "b", (("flash.max_total_bytes", int, "max", ("flash_bytes",), "B", 10),
                                      ("targets.nrf52840.min_ram_free_bytes", int, "min",
                                       ("targets", "nrf52840", "ram_free_bytes"), "B", 10))), old)
    assert rows[0].source == "estimate: model bytes + TFLM runtime"
    assert rows[1].source.startswith("estimate: measured arena + runtime overhead")
    verify = {**old, "model": {"name": "m", "params": 1, "macs": 1000, "model_bytes": 1}, "metrics": {},
              "export_dir": "/e", "arena": {"minus_16_fails": True}, "tflm_vs_litert_ref_max_lsb": 0,
              "tflm_vs_litert_ref": {"windows_differing": 0}, "host_latency_us": {}}
    text = summary_text(verify)
    assert "flash (model + TFLM runtime est.)" in text and "flash, C library (nRF52840 ELF, measured)" in text


def test_check_gates_flash_and_ram_on_the_primary_figure_and_names_its_source():
    from edgeppg.verify.budget import Budget, evaluate

    items = (("flash.max_total_bytes", int, "max", ("flash_bytes",), "B", 70_000),
             ("ram.max_total_bytes", int, "max", ("ram_bytes",), "B", 19_000),
             ("targets.nrf52840.min_flash_free_bytes", int, "min", ("targets", "nrf52840", "flash_free_bytes"), "B", 0),
             ("targets.nrf5340.min_flash_free_bytes", int, "min", ("targets", "nrf5340", "flash_free_bytes"), "B", 0),
             ("targets.nrf52840.must_fit", bool, "bool", ("targets", "nrf52840", "fits"), "", True))
    measured = evaluate(Budget("b", "b", items), _verify_doc({"measured": True, "board": "nrf52840",
                                                              "flash_bytes": 75_744, "ram_bytes": 18_880}))
    flash, ram, free52, free53, fits = measured
    assert (flash.actual, flash.ok, flash.over_by) == (75_744, False, 5_744)  # the ELF figure is what is gated
    assert flash.source == "measured: edgeppg C library ELF (size -A)"
    assert (ram.actual, ram.ok) == (18_880, True) and ram.source.startswith("measured: edgeppg C library ELF")
    assert free52.actual == 1_048_576 - 75_744 and free52.source.startswith("measured: edgeppg C library ELF")
    assert free53.actual == 1_048_576 - 60_768 and free53.source.startswith("estimate: model bytes + TFLM runtime")
    assert fits.source.startswith("measured")
    fallback = evaluate(Budget("b", "b", items), _verify_doc({"measured": False, "reason": "no firmware/"}))
    assert (fallback[0].actual, fallback[0].ok) == (60_768, True)
    assert fallback[0].source == "estimate: model bytes + TFLM runtime (no C library image: no firmware/)"
    assert fallback[1].actual == 19_584 and fallback[1].source.startswith("estimate: measured arena")
    assert all(r.source.startswith("estimate") for r in fallback[2:])


def test_every_check_row_says_whether_its_figure_is_measured_or_estimated(tmp_path):
    from edgeppg.verify.budget import _SPEC, _TARGET_SPEC, evaluate, load_budget

    toml = "".join(f"[{sec}]\n" + "".join(f"{k} = {1 if tp is int else 0.5}\n" for k, (tp, *_rest) in keys.items())
                   for sec, keys in _SPEC.items())
    toml += "[targets.nrf52840]\n" + "".join(f"{k} = {'true' if tp is bool else 1 if tp is int else 0.5}\n"
                                            for k, (tp, *_rest) in _TARGET_SPEC.items())
    (tmp_path / "b.toml").write_text(toml)
    from edgeppg.verify.targets import target_estimates

    rows = evaluate(load_budget(tmp_path / "b.toml"), {"targets": target_estimates(1000, 2, 3)})
    assert rows and all(r.source.startswith(("measured", "estimate")) for r in rows), [(r.metric, r.source) for r in rows]
