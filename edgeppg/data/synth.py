"""Paired synthetic ECG/PPG generator: ONE beat series per window, rendered as both ECG and PPG.

Why our own generator (docs/design.md §5): NeuroKit2's simulators cannot make AF, cannot share one beat series
between ECG and PPG, and their detectors miss AF beats, so labels must come from the generator's beats.

Classes (index = label, `RHYTHM_LABELS`):
  normal  sinus rhythm, drawn 61-99 BPM      (label re-derived from the window's own HR: 60 <= HR <= 100)
  brady   sinus rhythm, drawn 40-59 BPM      (label: HR < 60)
  tachy   sinus rhythm, drawn 101-180 BPM    (label: HR > 100)
  af      atrial fibrillation, 60-150 BPM: no P wave, 4-9 Hz fibrillatory waves, RR coefficient of
          variation 12-35 %
  noise   what cannot be read (/3), over the whole window or a >= 3.5 s stretch of it, on any of the four
          rhythms: motion on the pulse's own rate (within 10 %, 1.5-4x the pulse), heavy broadband motion
          (3-6x), or sensor displacement (large steps); hr_valid is False (hr_bpm/beats still describe the
          hidden rhythm). Clean classes carry light motion and, 10 % of the time, a brief (<= 1.5 s) artefact;
          on a moving wrist (/3, `_arm_swing`) a 0.5-1.5 Hz swing up to 3x the pulse, off the pulse's rate,
          stays readable and keeps its class.
PPG sensor domain (generator /2, per record: `_sensor_params`, per window: `_sensor_domain`): baseline
wander and drift up to 10x the pulse, low-perfusion hiss, a 20-50 Hz sensor rate with its anti-alias
filter (resampled back to fs_ppg as the host would), 10-16 bit ADC steps, clipped peaks, raw-intensity
polarity (pulses down) and a large DC level, and (/3) arm swing. All of it stays readable and keeps its label.
Sinus windows carry respiratory sinus arrhythmia (1-8 %) and, with probability 0.25, one or two premature
(atrial or ventricular) beats, so "irregular" is not a free give-away for AF. The 1 BPM gaps around 60
and 100 make the HR classes hard near the boundary yet labelable: each sinus label is computed from the
window's own HR, so there is no label noise.

Labels (all from the generator's own beats and breathing):
  hr_bpm    60 / mean RR of the labelled beats = 60 * (m - 1) / (t_last - t_first), in continuous time
  beats     the labelled beats: those whose ECG R-peak AND PPG systolic peak both fall inside the window
            (pulse transit is constant within a window, so both modalities list the same m beats and the
            same HR; recomputing HR from the stored sample indices differs from hr_bpm only by rounding,
            < 0.4 BPM at 64 Hz for 8 s windows up to 180 BPM)
            ECG beat index = R-peak sample; PPG beat index = systolic-peak sample (mode of the systolic wave)
  rr_bpm    respiratory rate (breaths/min) that modulates amplitude, baseline and HR
  record_id windows are grouped into records (default 20 windows each) that share morphology parameters
            (ECG wave shapes, pulse shape, transit time, noise levels, gain), so split by record.

Determinism: window i is drawn from np.random.SeedSequence(seed, spawn_key=(0, i)), record r from
spawn_key (1, r), the class of block b (5 windows, one per class) from (2, b). Window i is therefore the
same whatever n or batch size (unless n_records is given, which spreads records over n).
"""

from __future__ import annotations

import concurrent.futures
import math
import multiprocessing
import os
from typing import Callable

import numpy as np

from edgeppg.data.windows import RHYTHM_LABELS, Windows
from edgeppg.errors import EdgePPGError

# /2: PPG sensor-domain randomisation (_sensor_domain); /3: readable arm swing on clean windows (_arm_swing), and
# noise narrowed to what cannot be read (motion at the heart rate, heavy broadband motion, sensor displacement)
GENERATOR = "edgeppg.synth/3"
NORMAL, BRADY, TACHY, AF, NOISE = range(5)
# Drawn HR ranges (BPM) per class; sinus labels then follow the measured HR with the 60/100 thresholds.
HR_RANGES: dict[int, tuple[float, float]] = {NORMAL: (61.0, 99.0), BRADY: (40.0, 59.0), TACHY: (101.0, 180.0),
                                             AF: (60.0, 150.0)}
BRADY_BELOW, TACHY_ABOVE = 60.0, 100.0
WINDOWS_PER_RECORD = 20
RESP_RANGE = (8.0, 25.0)  # breaths/min
AF_CV_RANGE = (0.12, 0.35)
ECTOPIC_PROB = 0.25
ARM_SWING_RECORDS = 0.35  # share of sensor records worn on a moving wrist
ARM_SWING_WINDOWS = 0.5  # share of such a record's clean windows that carry a swing
ARM_SWING_HZ = (0.5, 1.5)
_PRE_S, _POST_S = 3.0, 1.0  # beats are drawn from before the window so waves/pulses at the edges exist


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def _splat(n: int, fs: float, centers: np.ndarray, amps: np.ndarray, sig_l: np.ndarray,
           sig_r: np.ndarray) -> np.ndarray:
    """Sum of asymmetric Gaussians (peak `amps` at `centers` seconds) on an n-sample grid, each evaluated
    only within +-4.5 sigma of its centre (sparse support keeps rendering O(waves) not O(waves*n))."""
    if centers.size == 0:
        return np.zeros(n, np.float64)
    half = int(math.ceil(4.5 * float(max(sig_l.max(), sig_r.max())) * fs))
    c = np.round(centers * fs).astype(np.int64)
    keep = (c >= -half) & (c < n + half)  # waves that cannot reach the grid are skipped
    c, centers, amps, sig_l, sig_r = c[keep], centers[keep], amps[keep], sig_l[keep], sig_r[keep]
    off = np.arange(-half, half + 1)
    dt = off[None, :] / fs - (centers - c / fs)[:, None]
    z = dt * np.where(dt < 0, 1.0 / sig_l[:, None], 1.0 / sig_r[:, None])
    val = amps[:, None] * np.exp(-0.5 * z * z)
    # accumulate into a buffer padded by 2*half on each side so no per-sample bounds mask is needed
    idx = (c[:, None] + 2 * half) + off[None, :]
    buf = np.bincount(idx.ravel(), weights=val.ravel(), minlength=n + 4 * half)
    return buf[2 * half: 2 * half + n]


def _bandnoise(rng: np.random.Generator, n: int, fs: float, f_lo: float, f_hi: float, alpha: float = 1.0) -> np.ndarray:
    """Unit-std noise with a 1/f^alpha spectrum limited to [f_lo, f_hi] Hz (FFT shaping, periodic in the window)."""
    nf = n // 2 + 1
    f = np.fft.rfftfreq(n, 1.0 / fs)
    spec = rng.standard_normal(nf) + 1j * rng.standard_normal(nf)
    band = (f >= f_lo) & (f <= f_hi)
    if not band.any():  # window too short to resolve the band: use the nearest bin
        band[int(np.argmin(np.abs(f - f_lo)))] = True
    spec *= band / np.maximum(f, max(f_lo, 1e-3)) ** alpha
    x = np.fft.irfft(spec, n)
    s = math.sqrt(float(np.dot(x, x)) / n)  # zero mean by construction (no DC bin), so this is the std
    return x / s if s > 0 else x


def _record_params(seed: int, r: int) -> dict:
    """Morphology shared by all windows of record r (one 'person + sensor placement')."""
    g = _rng(seed, 1, r)
    u = g.uniform
    return {
        # ECG (mV-ish, R = 1 before r_amp)
        "r_amp": u(0.6, 1.6), "r_sig": u(0.007, 0.012),
        "q_amp": -u(0.03, 0.2), "q_off": -u(0.018, 0.03), "q_sig": u(0.006, 0.01),
        "s_amp": -u(0.1, 0.5), "s_off": u(0.022, 0.04), "s_sig": u(0.007, 0.012),
        "p_amp": u(0.06, 0.2), "p_sig": u(0.018, 0.032), "pr": u(0.12, 0.20),
        "t_amp": u(0.15, 0.45) * (-1.0 if g.random() < 0.1 else 1.0), "t_sig": u(0.035, 0.06), "qtc": u(0.37, 0.45),
        "ecg_edr": u(0.02, 0.12), "ecg_wander": u(0.03, 0.25), "ecg_white": u(0.004, 0.025),
        "mains_hz": 50.0 if g.random() < 0.5 else 60.0, "mains_amp": u(0.0, 0.02),
        # PPG (pulse amplitude 1 before gain)
        "ptt": u(0.18, 0.30), "rise": u(0.07, 0.14), "sys_r": u(0.12, 0.22),
        "dia_delay": u(0.20, 0.35), "dia_ratio": u(0.15, 0.6), "dia_sig": u(0.06, 0.12),
        "gamma": u(0.6, 1.4), "riav": u(0.03, 0.15), "riiv": u(0.05, 0.3), "rsa": u(0.01, 0.08),
        "hrv": u(0.005, 0.02), "ppg_wander": u(0.05, 0.5), "ppg_motion": u(0.02, 0.25), "ppg_white": u(0.005, 0.06),
        "gain": float(np.exp(g.normal(0.0, 0.5))), "offset": u(-2.0, 2.0),
    }


def _class_of(seed: int, i: int, class_probs: np.ndarray | None, rng: np.random.Generator,
              cache: dict | None = None) -> int:
    if class_probs is None:
        # exact balance: every block of 5 consecutive windows holds each class once, in a seeded order
        b = i // 5
        if cache is None or cache.get("block") != b:
            perm = _rng(seed, 2, b).permutation(5)
            if cache is None:
                return int(perm[i % 5])
            cache.update(block=b, perm=perm)
        return int(cache["perm"][i % 5])
    return int(rng.choice(5, p=class_probs))


def _rr_series(g: np.random.Generator, rhythm: int, hr: float, rec: dict, resp_hz: float, resp_ph: float,
               span_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Beat times (s, relative to window start), RR before each beat, ectopic kind per beat (0 none, 1 PAC, 2 PVC)."""
    rr0 = 60.0 / hr
    n = int(math.ceil(span_s / 0.25)) + 4 if rhythm == AF else int(math.ceil(span_s / (0.7 * rr0))) + 4
    k = np.arange(n)
    t_nom = -_PRE_S - g.uniform(0.0, rr0) + k * rr0
    kinds = np.zeros(n, np.int8)
    if rhythm == AF:
        cv = g.uniform(*AF_CV_RANGE)
        s = math.sqrt(math.log(1.0 + cv * cv))
        rr = rr0 * np.exp(g.normal(-0.5 * s * s, s, n))
        rr = np.clip(rr, 0.25, 2.2)
    else:
        rsa = rec["rsa"] * min(1.0, rr0 / 0.8)  # RSA fades at high HR
        drift = g.uniform(-0.03, 0.03)
        ar = np.empty(n)  # AR(1) beat-to-beat variability
        e = g.normal(0.0, rec["hrv"], n)
        ar[0] = e[0]
        for j in range(1, n):
            ar[j] = 0.6 * ar[j - 1] + e[j]
        rr = rr0 * (1.0 + rsa * np.sin(2 * np.pi * resp_hz * t_nom + resp_ph) + drift * (t_nom / span_s) + ar)
        if g.random() < ECTOPIC_PROB:
            t_tmp = t_nom[0] + np.concatenate([[0.0], np.cumsum(rr[1:])])
            inside = np.flatnonzero((t_tmp > 0.5) & (t_tmp < span_s - _PRE_S - _POST_S - 0.5))
            inside = inside[inside + 1 < n]
            n_ect = 1 if g.random() < 0.7 else 2
            for j in (g.choice(inside, size=min(n_ect, inside.size), replace=False) if inside.size else []):
                j = int(j)
                if kinds[j] or kinds[j - 1] or kinds[j + 1]:
                    continue  # keep ectopics apart so each has its own compensatory pause
                kind = 2 if g.random() < 0.5 else 1
                c = g.uniform(0.55, 0.8)
                comp = (2.0 - c) if kind == 2 else g.uniform(1.0, 1.25)
                rr[j], rr[j + 1] = c * rr[j], comp * rr[j + 1]
                kinds[j] = kind
        rr = np.clip(rr, 0.25, 2.2)
    t = t_nom[0] + np.concatenate([[0.0], np.cumsum(rr[1:])])
    keep = t <= span_s - _PRE_S
    return t[keep], rr[keep], kinds[keep]


def _render_ecg(g: np.random.Generator, n: int, fs: float, t: np.ndarray, rr: np.ndarray, kinds: np.ndarray,
                rhythm: int, rec: dict, resp: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    ra = rec["r_amp"] * (1.0 + rec["ecg_edr"] * resp(t))  # breathing changes the electrical axis a little
    pvc = kinds == 2
    rr_c = np.clip(rr, 0.3, 2.0)
    qt = rec["qtc"] * np.sqrt(rr_c)
    t_center = t + qt - 2.0 * rec["t_sig"]
    one = np.ones_like(t)
    # QRS: PVCs are wide, tall, with a discordant T wave
    r_sig = np.where(pvc, g.uniform(0.025, 0.04), rec["r_sig"])
    r_amp = np.where(pvc, ra * g.uniform(1.1, 1.8), ra)
    t_amp = np.where(pvc, -np.sign(rec["t_amp"]) * np.abs(rec["t_amp"]) * 1.5, rec["t_amp"]) * rec["r_amp"]
    waves = [
        (t + rec["q_off"], ra * rec["q_amp"] * ~pvc, rec["q_sig"] * one, rec["q_sig"] * one),
        (t, r_amp, r_sig, r_sig),
        (t + rec["s_off"] * np.where(pvc, 2.0, 1.0), ra * rec["s_amp"] * np.where(pvc, 1.5, 1.0), rec["s_sig"] * one * np.where(pvc, 2.5, 1.0), rec["s_sig"] * one * np.where(pvc, 2.5, 1.0)),
        (t_center, t_amp, 1.3 * rec["t_sig"] * one, 0.8 * rec["t_sig"] * one),
    ]
    if rhythm != AF:
        p_amp = np.where(pvc, 0.0, np.where(kinds == 1, -0.5, 1.0) * rec["p_amp"] * rec["r_amp"])
        waves.append((t - rec["pr"], p_amp, rec["p_sig"] * one, rec["p_sig"] * one))
    # narrow (QRS) and wide (P, T) waves are splatted separately: support width follows each group's sigma
    x = _splat(n, fs, *[np.concatenate(c) for c in zip(*waves[:3])])
    x += _splat(n, fs, *[np.concatenate(c) for c in zip(*waves[3:])])
    tt = np.arange(n) / fs
    if rhythm == AF:
        # fibrillatory waves: 4-9 Hz, slowly wandering frequency and amplitude
        f0, fa = g.uniform(4.0, 9.0), g.uniform(0.03, 0.12) * rec["r_amp"]
        ph = 2 * np.pi * np.cumsum(f0 + 0.6 * np.sin(2 * np.pi * g.uniform(0.05, 0.3) * tt + g.uniform(0, 6.3))) / fs
        env = 1.0 + 0.35 * np.sin(2 * np.pi * g.uniform(0.1, 0.5) * tt + g.uniform(0, 6.3))
        x += fa * env * (np.sin(ph + g.uniform(0, 6.3)) + 0.35 * np.sin(2 * ph + g.uniform(0, 6.3)))
    x += rec["ecg_wander"] * (0.6 * resp(tt) + 0.8 * _bandnoise(g, n, fs, 0.05, 0.5, 1.0))
    x += rec["ecg_white"] * g.standard_normal(n)
    if fs > 2.2 * rec["mains_hz"]:
        x += rec["mains_amp"] * np.sin(2 * np.pi * rec["mains_hz"] * tt + g.uniform(0, 6.3))
    return x


def _render_ppg(g: np.random.Generator, n: int, fs: float, t: np.ndarray, rr: np.ndarray, kinds: np.ndarray,
                rec: dict, ptt: float, resp: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    rr_mean = float(np.mean(rr))
    # Frank-Starling: a short preceding interval fills the ventricle less -> smaller pulse
    amp = np.clip((rr / rr_mean) ** rec["gamma"], 0.25, 1.6) * (1.0 + rec["riav"] * resp(t))
    amp = amp * np.where(kinds == 2, 0.7, 1.0)
    scale = float(np.clip(rr_mean / 0.8, 0.45, 1.3)) ** 0.5  # pulses narrow at high HR
    peak = t + ptt + rec["rise"]
    one = np.ones_like(t)
    sys_l = rec["rise"] / 2.5 * one
    sys_r = rec["sys_r"] * scale * one
    dia_c = peak + rec["dia_delay"] * scale ** 0.6
    dia_s = rec["dia_sig"] * scale * one
    x = _splat(n, fs, np.concatenate([peak, dia_c]), np.concatenate([amp, rec["dia_ratio"] * amp]),
               np.concatenate([sys_l, dia_s]), np.concatenate([sys_r, dia_s]))
    tt = np.arange(n) / fs
    x += rec["riiv"] * resp(tt) + rec["ppg_wander"] * _bandnoise(g, n, fs, 0.05, 0.4, 1.0)
    x += rec["ppg_white"] * g.standard_normal(n)
    return x


def _motion(g: np.random.Generator, n_e: int, fs_e: float, n_p: int, fs_p: float, window_s: float,
            heavy: bool, rec: dict, hr_hz: float = float("nan")) -> tuple[np.ndarray, np.ndarray]:
    """Motion artefact for (ECG, PPG): light for clean classes, heavy (unreadable) for the noise class."""
    def env(n, fs, start, dur):
        tt = np.arange(n) / fs
        return 0.5 * (np.tanh((tt - start) / 0.3) - np.tanh((tt - start - dur) / 0.3))
    if not heavy:
        ecg = g.uniform(0.0, 0.05) * rec["r_amp"] * _bandnoise(g, n_e, fs_e, 0.3, 6.0)
        ppg = g.uniform(0.2, 1.0) * rec["ppg_motion"] * _bandnoise(g, n_p, fs_p, 0.3, 6.0)
        if g.random() < 0.1:  # a brief (<= 1.5 s) bump: still readable, still its rhythm class
            st, du = g.uniform(0.0, window_s - 1.5), g.uniform(0.5, 1.5)
            ppg += g.uniform(0.3, 1.0) * _bandnoise(g, n_p, fs_p, 0.3, 6.0) * env(n_p, fs_p, st, du)
        return ecg, ppg
    # the same event hits both sensors: shared envelope (whole window or a >= 3.5 s stretch)
    if g.random() < 0.4:
        dur = g.uniform(3.5, window_s)
        start = g.uniform(0.0, window_s - dur)
    else:
        start, dur = -1.0, window_s + 2.0
    tp = np.arange(n_p) / fs_p
    # /3: noise is what really cannot be read (real wrist PPG under motion mostly can: README "Real PPG")
    kind = g.random()
    if kind < 0.4 and np.isfinite(hr_hz):  # motion on the pulse's own frequency: two lines in one, no HR to read
        fc = hr_hz * g.uniform(0.9, 1.1)
        ph = 2 * np.pi * np.cumsum(fc * (1.0 + 0.03 * _bandnoise(g, n_p, fs_p, 0.02, 0.3, 1.0))) / fs_p
        ppg = g.uniform(1.5, 4.0) * (np.sin(ph + g.uniform(0, 6.3)) + 0.4 * np.sin(2 * ph + g.uniform(0, 6.3)))
        ppg += g.uniform(0.3, 1.0) * _bandnoise(g, n_p, fs_p, 0.3, 6.0, g.uniform(0.0, 1.5))
    elif kind < 0.7:  # heavy broadband motion, several times the pulse
        ppg = g.uniform(3.0, 6.0) * _bandnoise(g, n_p, fs_p, 0.3, 6.0, g.uniform(0.0, 1.5))
    else:  # sensor displacement: large smoothed steps over broadband motion
        ppg = g.uniform(0.5, 1.5) * _bandnoise(g, n_p, fs_p, 0.3, 6.0, g.uniform(0.0, 1.5))
        for _ in range(int(g.integers(2, 5))):
            ppg += g.choice([-1.0, 1.0]) * g.uniform(3.0, 8.0) * 0.5 * (1 + np.tanh((tp - g.uniform(0, window_s)) / g.uniform(0.05, 0.4)))
    ecg = rec["r_amp"] * (g.uniform(0.4, 1.5) * _bandnoise(g, n_e, fs_e, 0.3, 6.0, g.uniform(0.0, 1.5))
                          + g.uniform(0.05, 0.3) * _bandnoise(g, n_e, fs_e, 20.0, fs_e / 2, 0.0))
    return ecg * env(n_e, fs_e, start, dur), ppg * env(n_p, fs_p, start, dur)


def _sensor_params(seed: int, r: int) -> dict:
    """The PPG sensor of record r (drawn from its own stream, so /1's other draws are unchanged)."""
    g = _rng(seed, 5, r)
    low_rate = g.random() < 0.45
    return {
        # wrist PPG at 20-32 Hz is common; above the model rate the sensor's own resample changes little
        "fs_sensor": float(g.choice([20.0, 25.0, 26.0, 30.0, 32.0, 50.0])) if low_rate else None,
        "adc_bits": int(g.integers(10, 17)) if g.random() < 0.5 else None,
        "invert": bool(g.random() < 0.3),  # raw light intensity: pulses point down
        "dc": float(g.uniform(10.0, 1000.0)) if g.random() < 0.5 else 0.0,  # large DC level of a raw intensity
        # baseline wander and drift, relative to the pulse, up to >= 10x: readable, labelled clean
        "wander": float(np.exp(g.uniform(np.log(0.1), np.log(10.0)))) if g.random() < 0.5 else 0.0,
        "perfusion_noise": float(np.exp(g.uniform(np.log(0.01), np.log(0.12)))),
        # site/wavelength morphology beyond /1's ranges: sharp finger/ear upstrokes (short rise, narrow systole)
        # and a strong late diastolic wave, so a second bump per beat never reads as twice the HR
        "morph": {"rise_mul": float(g.uniform(0.4, 0.8)), "sys_mul": float(g.uniform(0.5, 0.8))} if g.random() < 0.3 else {},
        "dicrotic": {"dia_ratio": float(g.uniform(0.5, 0.9)), "dia_delay": float(g.uniform(0.25, 0.4))}
        if g.random() < 0.3 else {},
        # a wrist that moves: walking/stairs arm swing, larger than the pulse but off its frequency (drawn last so
        # every earlier draw of this stream is unchanged)
        "arm_swing": bool(g.random() < ARM_SWING_RECORDS),
    }


def _with_sensor(rec: dict, sensor: dict | None) -> dict:
    """Record parameters with the sensor's morphology overrides applied (unchanged without a sensor)."""
    if sensor is None:
        return dict(rec, sensor=None)
    out = dict(rec, sensor=sensor, **sensor["dicrotic"])
    if sensor["morph"]:
        out["rise"] = rec["rise"] * sensor["morph"]["rise_mul"]
        out["sys_r"] = rec["sys_r"] * sensor["morph"]["sys_mul"]
    return out


def _arm_swing(seed: int, i: int, n: int, fs_p: float, hr_hz: float) -> np.ndarray | None:
    """Readable periodic motion (relative to a unit pulse): an arm swing of 0.5-1.5 Hz, 0.5-3x the pulse, whose
    fundamental and 2nd harmonic stay >= 0.3 / 0.25 Hz from the pulse rate, so the pulse is still a separate spectral
    line (real wrist PPG on stairs: a 0.8-1 Hz swing larger than the 2-2.8 Hz pulse). None: no such frequency."""
    g = _rng(seed, 6, i)
    if g.random() >= ARM_SWING_WINDOWS:
        return None
    for _ in range(8):
        f = g.uniform(*ARM_SWING_HZ)
        if abs(f - hr_hz) >= 0.3 and abs(2 * f - hr_hz) >= 0.25:
            break
    else:
        return None
    tt = np.arange(n) / fs_p
    # a slowly wandering cadence (+-3 %) and an uneven stroke (weak 2nd harmonic): not a pure tone
    phase = 2 * np.pi * np.cumsum(f * (1.0 + 0.03 * _bandnoise(g, n, fs_p, 0.02, 0.3, 1.0))) / fs_p + g.uniform(0, 6.3)
    wave = np.sin(phase) + g.uniform(0.0, 0.25) * np.sin(2 * phase + g.uniform(0, 6.3))
    jolts = g.uniform(0.0, 0.4) * _bandnoise(g, n, fs_p, 0.3, 6.0, g.uniform(0.0, 1.5))  # footfalls: broadband, < the pulse
    return float(np.exp(g.uniform(np.log(0.5), np.log(3.0)))) * wave + jolts


def _sensor_domain(seed: int, i: int, ppg: np.ndarray, fs_p: float, sensor: dict, rec: dict, heavy: bool,
                   hr_hz: float = float("nan")) -> np.ndarray:
    """What a real sensor does to the rendered PPG: wander/drift, arm swing off the pulse rate, low perfusion hiss, a
    low sampling rate with its anti-alias filter, ADC steps and clipping, raw-intensity polarity and DC. Labels are
    untouched (all readable)."""
    from scipy import signal as sps

    g = _rng(seed, 4, i)
    n = ppg.size
    amp = rec["gain"]  # the pulse is ~1 before gain
    tt = np.arange(n) / fs_p
    x = ppg.copy()
    if sensor.get("arm_swing") and not heavy and np.isfinite(hr_hz):
        swing = _arm_swing(seed, i, n, fs_p, hr_hz)
        if swing is not None:
            x += amp * swing
    if sensor["wander"] > 0:
        w = _bandnoise(g, n, fs_p, 0.02, 0.45, 1.5) + g.uniform(-1.0, 1.0) * (tt / tt[-1] - 0.5)
        x += sensor["wander"] * amp * w * g.uniform(0.5, 1.0)
    x += sensor["perfusion_noise"] * amp * g.standard_normal(n)
    if sensor["fs_sensor"] is not None and sensor["fs_sensor"] < fs_p:
        from fractions import Fraction
        fr = Fraction(sensor["fs_sensor"] / fs_p).limit_denominator(100)
        lo = sps.resample_poly(x, fr.numerator, fr.denominator, padtype="line")
        x = sps.resample_poly(lo, fr.denominator, fr.numerator, padtype="line")[:n]
        if x.size < n:
            x = np.pad(x, (0, n - x.size), mode="edge")
    if g.random() < 0.15:  # an ADC that rails on the systolic peaks (real finger PPG does): still readable
        x = np.minimum(x, np.percentile(x, g.uniform(70.0, 99.0)))
    if sensor["invert"]:
        x = -x
    x = x + sensor["dc"] * amp
    if sensor["adc_bits"] is not None:
        lo_v, hi_v = float(x.min()), float(x.max())
        span = (hi_v - lo_v) * g.uniform(1.1, 2.0)  # the ADC range is wider than this window uses
        step = span / (2 ** sensor["adc_bits"])
        x = np.round(x / step) * step
    return x


def _one_window(seed: int, i: int, rec: dict, window_s: float, fs_e: float, fs_p: float, n_e: int, n_p: int,
                class_probs: np.ndarray | None, cache: dict | None = None):
    g = _rng(seed, 0, i)
    cls = _class_of(seed, i, class_probs, g, cache)
    rhythm = int(g.integers(0, 4)) if cls == NOISE else cls
    hr_draw = g.uniform(*HR_RANGES[rhythm])
    resp_bpm = g.uniform(*RESP_RANGE)
    resp_hz, resp_ph = resp_bpm / 60.0, g.uniform(0.0, 2 * np.pi)
    resp = lambda tt: np.sin(2 * np.pi * resp_hz * tt + resp_ph)  # noqa: E731
    ptt = float(np.clip(rec["ptt"] + g.normal(0.0, 0.01), 0.18, 0.30))
    t, rr, kinds = _rr_series(g, rhythm, hr_draw, rec, resp_hz, resp_ph, _PRE_S + window_s + _POST_S)
    ecg = _render_ecg(g, n_e, fs_e, t, rr, kinds, rhythm, rec, resp)
    ppg = _render_ppg(g, n_p, fs_p, t, rr, kinds, rec, ptt, resp)
    hr_hz = 60.0 / float(np.mean(rr))
    me, mp = _motion(g, n_e, fs_e, n_p, fs_p, window_s, cls == NOISE, rec, hr_hz)
    ecg += me
    ppg = rec["gain"] * (ppg + mp) + rec["offset"]
    if rec.get("sensor") is not None:
        ppg = _sensor_domain(seed, i, ppg, fs_p, rec["sensor"], rec, cls == NOISE, hr_hz)
    # labelled beats: R-peak and systolic peak both inside the window
    ie = np.round(t * fs_e).astype(np.int64)
    ip = np.round((t + ptt + rec["rise"]) * fs_p).astype(np.int64)
    lab = (ie >= 0) & (ie < n_e) & (ip >= 0) & (ip < n_p)
    tl = t[lab]
    hr = 60.0 * (tl.size - 1) / (tl[-1] - tl[0]) if tl.size >= 2 else float("nan")
    label = cls
    if cls in (NORMAL, BRADY, TACHY):
        label = BRADY if hr < BRADY_BELOW else TACHY if hr > TACHY_ABOVE else NORMAL
    valid = cls != NOISE and tl.size >= 2
    return ecg, ppg, ie[lab], ip[lab], label, hr, valid, resp_bpm


def synth_pairs(n: int, seed: int, window_s: float = 8.0, fs_ecg: float = 250.0, fs_ppg: float = 64.0,
                class_probs=None, n_records: int | None = None,
                progress: Callable[[int, int], None] | None = None, workers: int = 1,
                sensor_domain: bool = True) -> tuple[Windows, Windows]:
    """n paired windows -> (ECG Windows at fs_ecg, PPG Windows at fs_ppg), raw (not normalised).

    Both share labels, window_id (= generator index 0..n-1) and record_id. class_probs (5 weights) draws
    classes at random; None gives exact balance (each block of 5 windows holds one of each class).
    n_records spreads n windows over that many records (default: records of 20 consecutive windows).
    sensor_domain=False renders PPG without the sensor randomisation (generator /1's PPG, for ablations).
    progress(done, n) is called every 500 windows. workers > 1 generates chunks in that many processes
    (same bytes as workers=1; used only when n >= 200 per worker).
    """
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise EdgePPGError(f"number of windows must be a positive integer, got {n!r}")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise EdgePPGError(f"seed must be a non-negative integer, got {seed!r}")
    if not (2.0 <= window_s <= 120.0):
        raise EdgePPGError(f"window_s must be 2..120 s, got {window_s}")
    if not (100.0 <= fs_ecg <= 2000.0) or not (20.0 <= fs_ppg <= 1000.0):
        raise EdgePPGError(f"rates must be ECG 100..2000 Hz and PPG 20..1000 Hz, got {fs_ecg} and {fs_ppg}")
    probs = None
    if class_probs is not None:
        probs = np.asarray(class_probs, np.float64)
        if probs.shape != (5,) or (probs < 0).any() or probs.sum() <= 0:
            raise EdgePPGError(f"class_probs must be 5 non-negative weights for {RHYTHM_LABELS}, got {class_probs!r}")
        probs = probs / probs.sum()
    per_rec = WINDOWS_PER_RECORD if n_records is None else max(1, math.ceil(n / max(1, int(n_records))))
    args = (seed, window_s, float(fs_ecg), float(fs_ppg), probs, per_rec, bool(sensor_domain))
    workers = max(1, min(int(workers or 1), os.cpu_count() or 1, n // 200 or 1))
    if workers == 1:
        chunks = [_generate(0, n, *args, progress=progress, total=n)]
    else:
        # windows depend only on (seed, index), so chunks can be made anywhere and concatenated in order
        bounds = np.linspace(0, n, 4 * workers + 1).astype(int)
        ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
        with concurrent.futures.ProcessPoolExecutor(workers, mp_context=ctx) as pool:
            futs = [pool.submit(_generate, int(a), int(b), *args) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
            chunks = []
            for f in futs:
                chunks.append(f.result())
                if progress is not None:
                    progress(sum(len(c[2]) for c in chunks), n)
    xe, xp, rhythm, hr, valid, rr_bpm, be, bp, counts = (np.concatenate(parts) for parts in zip(*chunks))
    rec_id = np.arange(n, dtype=np.int64) // per_rec
    ptr = np.concatenate([[0], np.cumsum(counts)])
    common = dict(rhythm=rhythm, hr_bpm=hr, hr_valid=valid, rr_bpm=rr_bpm, beat_ptr=ptr,
                  window_id=np.arange(n, dtype=np.int64), record_id=rec_id)
    meta = {"source": "synth", "generator": GENERATOR, "seed": int(seed), "window_s": float(window_s),
            "sensor_domain": bool(sensor_domain),
            "rhythm_labels": list(RHYTHM_LABELS)}
    ecg = Windows(x=xe, fs_hz=float(fs_ecg), beat_idx=be, modality="ecg",
                  meta={**meta, "beat": "r_peak"}, **common)
    ppg = Windows(x=xp, fs_hz=float(fs_ppg), beat_idx=bp, modality="ppg",
                  meta={**meta, "beat": "systolic_peak", "polarity": "pulse-up"}, **common)
    return ecg, ppg


def _generate(start: int, stop: int, seed: int, window_s: float, fs_e: float, fs_p: float,
              probs: np.ndarray | None, per_rec: int, sensor_domain: bool = True,
              progress: Callable[[int, int], None] | None = None, total: int = 0):
    """Windows start..stop-1 as arrays (ECG x, PPG x, rhythm, hr, valid, rr, ECG beats, PPG beats, counts)."""
    m = stop - start
    n_e, n_p = int(round(window_s * fs_e)), int(round(window_s * fs_p))
    xe = np.empty((m, 1, n_e), np.float32)
    xp = np.empty((m, 1, n_p), np.float32)
    rhythm = np.empty(m, np.int64)
    hr = np.empty(m, np.float32)
    valid = np.empty(m, bool)
    rr_bpm = np.empty(m, np.float32)
    be, bp, counts = [], [], np.empty(m, np.int64)
    rec, rec_r, cache = None, -1, {}
    for j in range(m):
        i = start + j
        if i // per_rec != rec_r:
            rec_r = i // per_rec
            rec = _with_sensor(_record_params(seed, rec_r), _sensor_params(seed, rec_r) if sensor_domain else None)
        e, p, ie, ip, lab, h, v, rb = _one_window(seed, i, rec, window_s, fs_e, fs_p, n_e, n_p, probs, cache)
        xe[j, 0], xp[j, 0] = e, p
        rhythm[j], hr[j], valid[j], rr_bpm[j] = lab, h, v, rb
        be.append(ie.astype(np.int32))
        bp.append(ip.astype(np.int32))
        counts[j] = ie.size
        if progress is not None and ((i + 1) % 500 == 0 or i + 1 == total):
            progress(i + 1, total)
    empty = np.zeros(0, np.int32)
    return (xe, xp, rhythm, hr, valid, rr_bpm, np.concatenate(be) if be else empty,
            np.concatenate(bp) if bp else empty, counts)


def split_indices(w: Windows, val_frac: float = 0.15, test_frac: float = 0.15, seed: int = 0) -> dict[str, np.ndarray]:
    """{"train", "val", "test"} -> sorted window positions, split by record_id (a record never straddles).

    Records are shuffled with `seed`; test gets round(test_frac * R) records, val round(val_frac * R),
    each at least one when its fraction is > 0 and there are >= 3 records.
    """
    if not (0 <= val_frac < 1 and 0 <= test_frac < 1 and val_frac + test_frac < 1):
        raise EdgePPGError(f"split fractions must be in [0, 1) with a sum < 1, got val={val_frac} test={test_frac}")
    recs = np.unique(w.record_id)
    order = recs[np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(3,))).permutation(recs.size)]
    n_rec = recs.size
    n_test = int(round(test_frac * n_rec))
    n_val = int(round(val_frac * n_rec))
    if n_rec >= 3:
        n_test = max(n_test, 1 if test_frac > 0 else 0)
        n_val = max(n_val, 1 if val_frac > 0 else 0)
    n_test = min(n_test, n_rec)
    n_val = min(n_val, n_rec - n_test)
    groups = {"test": order[:n_test], "val": order[n_test:n_test + n_val], "train": order[n_test + n_val:]}
    return {k: np.flatnonzero(np.isin(w.record_id, v)) for k, v in (("train", groups["train"]),
                                                                   ("val", groups["val"]), ("test", groups["test"]))}
