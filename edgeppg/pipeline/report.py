"""One report for a run: report.md, report.html (self-contained, images inline) and summary.json."""

from __future__ import annotations

import base64
import html
import platform
from pathlib import Path
from typing import Any

from edgeppg import __version__
from edgeppg.io import atomic_write_json, atomic_write_text
from edgeppg.pipeline.stages import StageRecord


def _fmt(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _key_metrics(metrics: dict, limit: int = 6) -> str:
    """Scalar metrics, nested ones (bench: one dict per target) as target.key; unmeasured (None) ones left out."""
    flat: list[tuple[str, Any]] = []
    for k, v in metrics.items():
        if k.startswith("_"):
            continue
        if isinstance(v, dict):
            flat += [(f"{k}.{k2}", v2) for k2, v2 in v.items() if isinstance(v2, (int, float, str, bool))]
        elif isinstance(v, (int, float, str, bool)):
            flat.append((k, v))
        elif isinstance(v, list) and v:
            flat.append((k, "; ".join(map(str, v))))
    return ", ".join(f"{k}={_fmt(v)}" for k, v in flat[:limit]) or "n/a (no metrics recorded)"


def write_report(run_dir: Path, records: dict[str, StageRecord], sections: list[tuple[str, str, list[Path]]],
                 summary: dict[str, Any], card: tuple[str, str] | None = None) -> dict[str, Path]:
    """card: (title, markdown) shown first, above the stage table; sections: (title, markdown body, images)."""
    run_dir = Path(run_dir)
    total = sum(r.seconds for r in records.values() if not r.skipped)
    md = [f"# edgeppg run report\n", f"edgeppg {__version__} · Python {platform.python_version()} · "
          f"run folder `{run_dir}`\n"]
    if card is not None:
        md += [f"## {card[0]}\n", card[1].rstrip() + "\n"]
    md += ["## Stages\n", "| stage | time (s) | status | key metrics |", "|---|---:|---|---|"]
    for r in records.values():
        md.append(f"| {r.name} | {r.seconds:.1f} | {'skipped (up to date)' if r.skipped else 'ran'} | {_key_metrics(r.metrics)} |")
    md.append(f"\nTotal time this invocation: {total:.1f} s\n")
    for title, body, images in sections:
        md.append(f"## {title}\n")
        if body:
            md.append(body.rstrip() + "\n")
        for img in images:
            if Path(img).is_file():
                md.append(f"![{Path(img).stem}]({Path(img).relative_to(run_dir) if Path(img).is_relative_to(run_dir) else img})\n")
    md_text = "\n".join(md) + "\n"
    paths = {"md": atomic_write_text(run_dir / "report.md", md_text)}
    paths["html"] = atomic_write_text(run_dir / "report.html", _html(md_text, run_dir))
    summary = dict(summary, stages={n: {"seconds": r.seconds, "skipped": r.skipped, "metrics": r.metrics,
                                        "outputs_sha256": r.sha256} for n, r in records.items()})
    paths["summary"] = atomic_write_json(run_dir / "summary.json", summary)
    return paths


def _inline(text: str) -> str:
    """Escape, then the two inline marks the report uses: **bold** and `code` (never left as literal asterisks)."""
    import re

    t = html.escape(text)
    t = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", t)
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", t)


def _html(md_text: str, run_dir: Path) -> str:
    """Tiny markdown subset -> HTML with images inlined as base64 (one file to attach or open anywhere)."""
    out, in_table = [], False
    for line in md_text.splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if all(set(c) <= set("-:") for c in cells):
                continue
            if not in_table:
                out.append("<table>")
                in_table = True
                out.append("<tr>" + "".join(f"<th>{_inline(c)}</th>" for c in cells) + "</tr>")
            else:
                out.append("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in cells) + "</tr>")
            continue
        if in_table:
            out.append("</table>")
            in_table = False
        if line.startswith("!["):
            src = line[line.index("(") + 1: line.rindex(")")]
            p = Path(src) if Path(src).is_absolute() else run_dir / src
            if p.is_file():
                b64 = base64.b64encode(p.read_bytes()).decode()
                out.append(f'<p><img alt="{html.escape(p.stem)}" src="data:image/png;base64,{b64}" style="max-width:100%"></p>')
        elif line.startswith("### "):
            out.append(f"<h3>{_inline(line[4:])}</h3>")
        elif line.startswith("## "):
            out.append(f"<h2>{_inline(line[3:])}</h2>")
        elif line.startswith("# "):
            out.append(f"<h1>{html.escape(line[2:])}</h1>")
        elif line.startswith("```"):
            continue
        elif line.strip():
            out.append(f"<p>{_inline(line)}</p>")
    if in_table:
        out.append("</table>")
    style = ("body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}")
    return f"<!doctype html><html><head><meta charset='utf-8'><title>edgeppg report</title><style>{style}</style></head><body>\n" + "\n".join(out) + "\n</body></html>\n"
