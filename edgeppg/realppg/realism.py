"""How close is the generator to real PPG? Spectral and pulse-shape statistics of synthetic vs real windows.

Each statistic is computed per window and summarised by its median and interquartile range per group
(synthetic clean, synthetic noise, each real source). Raw-signal statistics are taken at the model rate
before the band-pass (what the sensor delivers); shape statistics after the model's preprocessing (what
the model sees). Used by `tools/realism.py` and the pipeline report's "generator vs real" chart.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import stats as sst

from edgeppg.preprocess import Preprocessing

STATS = {
    "wander_frac": "power below 0.5 Hz / total (raw)",
    "pulse_frac": "power 0.5-4 Hz / total (raw)",
    "hf_frac": "power above 4 Hz / total (raw)",
    "peak_conc": "spectral peak +-0.15 Hz / 0.5-4 Hz power (model input)",
    "harmonic_ratio": "power at 2x the peak / at the peak (model input)",
    # a second rhythm beside the pulse (arm swing, cadence): what a wrist during walking shows and generator /2 lacked
    "rival_ratio": "strongest 0.5-4 Hz peak >= 0.3 Hz off the top peak and its (sub)harmonic / the top peak (model input)",
    "skewness": "sample skewness (model input; pulse-up PPG is positive)",
    "kurtosis": "excess kurtosis (model input)",
}


def _band_power(f: np.ndarray, p: np.ndarray, lo: float, hi: float) -> np.ndarray:
    m = (f >= lo) & (f < hi)
    return p[:, m].sum(axis=1)


def window_stats(raw: np.ndarray, pre: Preprocessing) -> dict[str, np.ndarray]:
    """(N, T) raw windows at pre.fs_hz -> {stat: (N,)}."""
    raw = np.asarray(raw, np.float64)
    x = raw - raw.mean(axis=1, keepdims=True)
    f = np.fft.rfftfreq(x.shape[1], 1.0 / pre.fs_hz)
    p = np.abs(np.fft.rfft(x * np.hanning(x.shape[1]), axis=1)) ** 2
    tot = p[:, 1:].sum(axis=1) + 1e-30
    out = {"wander_frac": _band_power(f, p, 1e-9, 0.5) / tot, "pulse_frac": _band_power(f, p, 0.5, 4.0) / tot,
           "hf_frac": _band_power(f, p, 4.0, np.inf) / tot}
    y = pre.model_input(raw[:, None, :])[:, 0].astype(np.float64)
    py = np.abs(np.fft.rfft(y * np.hanning(y.shape[1]), axis=1)) ** 2
    band = (f >= 0.5) & (f < 4.0)
    pk = np.where(band[None, :], py, 0.0).argmax(axis=1)
    fpk = f[pk]
    near = np.abs(f[None, :] - fpk[:, None]) <= 0.15
    near2 = np.abs(f[None, :] - 2 * fpk[:, None]) <= 0.15
    out["peak_conc"] = (py * near).sum(axis=1) / (py[:, band].sum(axis=1) + 1e-30)
    out["harmonic_ratio"] = (py * near2).sum(axis=1) / ((py * near).sum(axis=1) + 1e-30)
    d = f[None, :]
    rival_band = band[None, :] & (np.abs(d - fpk[:, None]) >= 0.3) & (np.abs(d - 2 * fpk[:, None]) > 0.15) \
        & (np.abs(d - fpk[:, None] / 2) > 0.15)
    f2 = f[np.where(rival_band, py, -1.0).argmax(axis=1)]
    near_r = np.abs(d - f2[:, None]) <= 0.15
    out["rival_ratio"] = np.where(rival_band.any(axis=1),
                                  (py * near_r).sum(axis=1) / ((py * near).sum(axis=1) + 1e-30), 0.0)
    out["skewness"] = sst.skew(y, axis=1)
    out["kurtosis"] = sst.kurtosis(y, axis=1)
    return out


def summarise(groups: dict[str, np.ndarray], pre: Preprocessing) -> dict[str, dict[str, list[float]]]:
    """{group: (N, T) raw windows} -> {group: {stat: [q25, median, q75]}} (+ "n")."""
    res: dict[str, dict] = {}
    for name, raw in groups.items():
        if len(raw) == 0:
            continue
        s = window_stats(raw, pre)
        res[name] = {k: [round(float(v), 4) for v in np.nanpercentile(s[k], [25, 50, 75])] for k in STATS}
        res[name]["n"] = int(len(raw))
    return res


def real_groups(sources: Sequence, pre: Preprocessing, max_per_source: int = 200) -> dict[str, np.ndarray]:
    """Original real sources -> raw windows at the model rate (windows with a reference only)."""
    from edgeppg.data.signal import make_windows, resample

    out = {}
    for s in sources:
        if s.derived_from is not None:
            continue
        y = resample(s.signal, s.fs_hz, pre.fs_hz) if s.fs_hz != pre.fs_hz else np.asarray(s.signal, np.float32)
        w = make_windows(y, pre.fs_hz, pre.window_s, s.hop_s)[:, 0]
        n = min(len(w), s.n_windows)
        keep = np.flatnonzero(np.isfinite(s.ref_hr[:n]))[:max_per_source]
        out[f"real: {s.name}"] = w[keep]
    return out


def synthetic_groups(n: int = 600, seed: int = 7, sensor_domain: bool = True, fs_hz: float = 64.0) -> dict[str, np.ndarray]:
    from edgeppg.data.synth import NOISE, synth_pairs

    _, ppg = synth_pairs(n, seed, fs_ppg=fs_hz, sensor_domain=sensor_domain)
    tag = "synth /3" if sensor_domain else "synth /1"  # /3: today's sensor domain (arm swing); /1: no sensor domain
    clean = ppg.rhythm != NOISE
    return {f"{tag} clean": ppg.x[clean, 0], f"{tag} noise": ppg.x[~clean, 0]}


def plot(summary: dict, path) -> None:
    """One bar chart per statistic: median with IQR whiskers per group."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = list(summary)
    fig, axes = plt.subplots(1, len(STATS), figsize=(3.0 * len(STATS), 4.2), constrained_layout=True)
    colors = ["#4c72b0" if g.startswith("synth") else "#dd8452" for g in groups]
    for ax, (k, what) in zip(axes, STATS.items()):
        q = np.array([summary[g][k] for g in groups])
        ax.bar(range(len(groups)), q[:, 1], color=colors, yerr=[q[:, 1] - q[:, 0], q[:, 2] - q[:, 1]], capsize=2)
        ax.set_title(k, fontsize=9)
        ax.set_xticks(range(len(groups)))
        ax.set_xticklabels(groups, rotation=70, ha="right", fontsize=7)
        ax.tick_params(axis="y", labelsize=7)
    fig.suptitle("generator (blue) vs real recordings (orange): median and IQR per window", fontsize=10)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def write_realism(groups: dict[str, np.ndarray], pre: Preprocessing, out_dir) -> dict:
    """summarise -> out_dir/realism.json + realism.png; returns the summary."""
    from pathlib import Path

    from edgeppg.io import atomic_write_json

    out_dir = Path(out_dir)
    summary = summarise(groups, pre)
    atomic_write_json(out_dir / "realism.json", {"stats": STATS, "groups": summary})
    plot(summary, out_dir / "realism.png")
    return summary
