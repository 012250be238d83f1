"""`edgeppg data ...`: thin options -> one library call each (generation, import, inspection, benchmark)."""

from __future__ import annotations

from pathlib import Path

import click

from edgeppg.cli.options import finite_range, writable_file, writable_out


@click.group()
def data():
    """Build, import and inspect windowed ECG/PPG data."""


@data.command()
@click.option("--n", "n", type=click.IntRange(min=1, max=1_000_000), default=2000, show_default=True,
              help="paired windows (at most 10^6)")
@click.option("--seed", type=click.IntRange(min=0, max=2**32 - 1), default=1, show_default=True)
@click.option("--out", callback=writable_out, type=click.Path(path_type=Path), required=True, help="corpus directory to write")
@click.option("--window-s", type=float, default=8.0, show_default=True, callback=finite_range(0, 3600))
@click.option("--fs-ecg", type=float, default=250.0, show_default=True, callback=finite_range(0, 10_000))
@click.option("--fs-ppg", type=float, default=64.0, show_default=True, callback=finite_range(0, 10_000))
@click.option("--records", type=click.IntRange(min=1, max=1_000_000), default=None, help="spread windows over this many records")
@click.option("--workers", type=click.IntRange(min=1, max=256), default=1, show_default=True,
              help="processes (output is byte-identical for any value)")
def synth(n, seed, out, window_s, fs_ecg, fs_ppg, records, workers):
    """Generate a paired synthetic ECG/PPG corpus (ecg.npz, ppg.npz, corpus.json) in OUT."""
    from edgeppg.data.corpus import build_corpus, format_summary

    def progress(done, total):
        if total >= 5000:  # only worth a line for big corpora
            click.echo(f"  {done}/{total} pairs", err=True)

    info = build_corpus(out, n, seed, window_s=window_s, fs_ecg=fs_ecg, fs_ppg=fs_ppg, n_records=records,
                        progress=progress, workers=workers)
    click.echo(format_summary(info))
    click.echo(f"wrote {out}/ecg.npz, {out}/ppg.npz, {out}/corpus.json")


@data.command(name="import")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--format", "fmt", default=None, help="csv | dalia | npz | wfdb (default: from the extension)")
@click.option("--fs", "fs_hz", type=float, default=None, callback=finite_range(float("-inf"), float("inf")),
              help="the rate the file WAS recorded at, in Hz: needed for CSV/NPZ that do not state it; a CSV time "
                   "column (seconds, ms like heartpy's 'timer', or ISO date-times) or an NPZ fs_hz states it, and --fs "
                   "must agree")
@click.option("--column", default=None, help="CSV column / NPZ array / WFDB channel (name or index)")
@click.option("--modality", type=click.Choice(["ppg", "ecg"]), default=None)
@click.option("--window-s", type=float, default=8.0, show_default=True, callback=finite_range(0, 3600))
@click.option("--hop-s", type=float, default=None, callback=finite_range(0, 3600), help="default: the window length (DaLiA: 2 s)")
@click.option("--resample", "resample_hz", type=float, default=None, callback=finite_range(float("-inf"), float("inf")),
              help="the rate to CONVERT to, in Hz: resample the windows and z-score each one (e.g. --resample 64 "
                   "for the shipped student); without it windows.npz keeps the raw samples at the recorded rate")
@click.option("--out", callback=writable_out, type=click.Path(path_type=Path), required=True, help="directory for windows.npz")
def import_(path, fmt, fs_hz, column, modality, window_s, hop_s, resample_hz, out):
    """Read a recording (WFDB, PPG-DaLiA pickle, CSV, NPZ) and write OUT/windows.npz (+ import.json).

    \b
    --fs says what the recording IS (its sampling rate); --resample says what to turn it INTO.
    A wrong --fs stretches every heart rate, so when the file carries its own rate (a time column, an NPZ
    fs_hz) a contradicting --fs is refused. `edgeppg predict MODEL REC` reads the recording itself and
    preprocesses as the model's manifest says; windows.npz is for `edgeppg data show` and your own code
    (edgeppg.data.windows.load_windows); training takes a corpus from `edgeppg data synth` instead.
    """
    from edgeppg.data.readers import import_recording

    info = import_recording(path, out, fmt=fmt, fs_hz=fs_hz, column=column, modality=modality,
                            window_s=window_s, hop_s=hop_s, resample_hz=resample_hz)
    s = info["summary"]
    click.echo(f"recorded rate: {info['fs_from']}" + (f"; resampled to {info['resampled_hz']:g} Hz and z-scored per window"
                                             if info.get("resampled_hz") else ""))
    click.echo(f"{s['windows']} windows of {s['window_s']:g} s at {s['fs_hz']:g} Hz ({s['modality']}); "
               f"HR labels on {s['hr_valid']}; classes: "
               + ", ".join(f"{k} {v}" for k, v in s["class_counts"].items() if v))
    click.echo(f"wrote {info['path']}")


@data.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--png", type=click.Path(path_type=Path), default=None, callback=writable_file, help="default: PATH/show.png")
@click.option("--rows", type=click.IntRange(1, 20), default=5, show_default=True)
def show(path, png, rows):
    """Summarise a corpus directory or windows .npz and plot a few windows with labels and beat marks."""
    from edgeppg.data.show import show as show_

    text, png_path = show_(path, png, rows)
    click.echo(text)
    click.echo(f"wrote {png_path}")


@data.command()
def catalog():
    """List real recordings found in installed packages (requirements-real.txt) and their labels."""
    from edgeppg.data.catalog import catalog_table, format_table

    click.echo(format_table(catalog_table()))


@data.command()
@click.option("--n", "n", type=click.IntRange(min=1, max=1_000_000), default=2000, show_default=True)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--repeats", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True,
              help="also time this many processes")
@click.option("--out", type=click.Path(path_type=Path), default=None, callback=writable_file, help="also write the result as JSON")
def bench(n, seed, repeats, workers, out):
    """Generator throughput in pairs/second (target >= 200 on 2 cores)."""
    from edgeppg.data.bench import bench_generator

    r = bench_generator(n, seed, repeats, out, workers)
    click.echo(f"synth_pairs: {r['n']} pairs in {r['seconds']:.2f} s = {r['pairs_per_s']:.0f} pairs/s "
               f"({r['ms_per_pair']:.2f} ms/pair, 1 process); preprocess {r['preprocess_windows_per_s']:.0f} windows/s")
    if "parallel" in r:
        q = r["parallel"]
        click.echo(f"synth_pairs, {q['workers']} processes: {q['pairs_per_s']:.0f} pairs/s (identical output: {q['identical']})")
    if out:
        click.echo(f"wrote {out}")
