/* edgeppg drop-in library: one window (or a sample stream) in, HR / rhythm / RR and the quality gate out.
 * No malloc, no TFLM: the generated model (model_gen.c) runs on eppg_kernels over one static arena.
 * Every constant comes from edgeppg.h, written by `edgeppg export` from the manifest. */
#include "edgeppg.h"

#include <math.h>
#include <string.h>

#include "eppg_preprocess.h"
#include "model_gen.h"

#if EPPG_CHANNELS != 1
#error "the library handles single-channel models"
#endif

static const eppg_pre_t pre = {EPPG_PRE_SECTIONS, eppg_pre_sos, eppg_pre_zi, EPPG_PRE_PAD, EPPG_PRE_EPS,
                               EPPG_INPUT_SCALE, EPPG_INPUT_ZERO_POINT};

/* The preprocessing's float64 scratch; afterwards reused as float32 centred samples for the SQI (a union, so
 * no aliasing rule is broken and no second buffer is needed). */
static union {
    double d[EPPG_WINDOW_SAMPLES + EPPG_PRE_PAD];
    float f[EPPG_WINDOW_SAMPLES];
} scratch;
static int8_t qwin[EPPG_WINDOW_SAMPLES];
static float ring[EPPG_WINDOW_SAMPLES]; /* eppg_push's window under construction */
static uint32_t fill, skip, windows_done;

void eppg_init(void)
{
    fill = 0;
    skip = 0;
    windows_done = 0;
}

static float dequant(int8_t q, float scale, int32_t zp)
{
    return ((float)q - (float)zp) * scale; /* float32, as edgeppg.int8.fixedpoint.dequantize */
}

#if (EPPG_HAS_HR && EPPG_HR_BINS) || (EPPG_HAS_RR && EPPG_RR_BINS)
/* A bins head: softmax-weighted mean of the centers, in double as edgeppg.models.heads.HeadSpec.decode */
static float bins_mean(const int8_t *o, uint32_t n, float scale, int32_t zp, const double *centers)
{
    double zmax = -HUGE_VAL, sum = 0.0, acc = 0.0;
    for (uint32_t j = 0; j < n; j++) {
        double z = (double)dequant(o[j], scale, zp);
        zmax = z > zmax ? z : zmax;
    }
    for (uint32_t j = 0; j < n; j++) {
        double e = exp((double)dequant(o[j], scale, zp) - zmax);
        sum += e;
        acc += e * centers[j];
    }
    return (float)(acc / sum);
}
#endif

/* Decode the outputs of the last invoke; the noise-class gate only (the signal checks need the raw window). */
static void decode(eppg_result_t *r)
{
    memset(r, 0, sizeof *r);
    r->sqi = -1.0f;
    r->reason = EPPG_REASON_OK;
#if EPPG_HAS_RHYTHM
    const int8_t *o = eppg_output(&eppg_model, EPPG_RHYTHM_OUTPUT);
    uint32_t best = 0;
    for (uint32_t j = 0; j < EPPG_NUM_CLASSES; j++) {
        r->logits[j] = o[j];
        if (o[j] > o[best]) best = j; /* first maximum, as numpy argmax */
    }
    r->rhythm = (uint8_t)best;
    double z[EPPG_NUM_CLASSES], zmax = -HUGE_VAL, sum = 0.0;
    for (uint32_t j = 0; j < EPPG_NUM_CLASSES; j++) {
        z[j] = (double)dequant(o[j], EPPG_RHYTHM_SCALE, EPPG_RHYTHM_ZERO_POINT);
        zmax = z[j] > zmax ? z[j] : zmax;
    }
    for (uint32_t j = 0; j < EPPG_NUM_CLASSES; j++) sum += (z[j] = exp(z[j] - zmax));
    for (uint32_t j = 0; j < EPPG_NUM_CLASSES; j++) r->probs[j] = (float)(z[j] / sum);
#if EPPG_HAS_NOISE_CLASS
    if (best == EPPG_NOISE_CLASS) r->reason = EPPG_REASON_NOISE_CLASS;
#endif
#endif
#if EPPG_HAS_HR
#if EPPG_HR_BINS
    r->hr_bpm = bins_mean(eppg_output(&eppg_model, EPPG_HR_OUTPUT), EPPG_HR_BINS, EPPG_HR_SCALE, EPPG_HR_ZERO_POINT,
                          eppg_hr_centers);
#else
    r->hr_bpm = (float)((double)dequant(eppg_output(&eppg_model, EPPG_HR_OUTPUT)[0], EPPG_HR_SCALE,
                                        EPPG_HR_ZERO_POINT) * EPPG_HR_MUL + EPPG_HR_ADD);
#endif
#endif
#if EPPG_HAS_RR
#if EPPG_RR_BINS
    r->rr_bpm = bins_mean(eppg_output(&eppg_model, EPPG_RR_OUTPUT), EPPG_RR_BINS, EPPG_RR_SCALE, EPPG_RR_ZERO_POINT,
                          eppg_rr_centers);
#else
    r->rr_bpm = (float)((double)dequant(eppg_output(&eppg_model, EPPG_RR_OUTPUT)[0], EPPG_RR_SCALE,
                                        EPPG_RR_ZERO_POINT) * EPPG_RR_MUL + EPPG_RR_ADD);
#endif
#endif
    r->hr_valid = r->reason == EPPG_REASON_OK;
}

int eppg_infer(const int8_t *window, eppg_result_t *r)
{
    /* copied in every call: the arena plan may reuse the input's bytes for later layers */
    memcpy(eppg_input(&eppg_model), window, EPPG_INPUT_BYTES);
    eppg_invoke(&eppg_model);
    decode(r);
    return 0;
}

const int8_t *eppg_output_int8(uint32_t i)
{
    return i < EPPG_NUM_OUTPUTS ? eppg_output(&eppg_model, i) : 0;
}

/* The smallest float >= v / the largest float <= v: float compares against them decide exactly what a float64
 * compare against v decides (x is a float), without software double compares on a single-precision FPU. */
static float float_ceil(double v)
{
    float f = (float)v;
    return (double)f < v ? nextafterf(f, HUGE_VALF) : f;
}

static float float_floor(double v)
{
    float f = (float)v;
    return (double)f > v ? nextafterf(f, -HUGE_VALF) : f;
}

/* The signal's own verdict on the raw window, as edgeppg.quality.gate: flat, then clipped (0 = neither). */
static uint8_t raw_checks(const float *x)
{
    const uint32_t n = EPPG_WINDOW_SAMPLES;
    float lo = x[0], hi = x[0];
    for (uint32_t i = 1; i < n; i++) {
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
    }
    const double span = (double)hi - (double)lo;
    /* population std >= span / sqrt(2n) (the two extremes alone), so only a window that narrow can be flat
     * and needs the float64 std; the result is exactly the float64 check's */
    if (span / sqrt(2.0 * n) < EPPG_Q_FLAT_STD) {
        double sum = 0.0, ss = 0.0;
        for (uint32_t i = 0; i < n; i++) sum += x[i];
        const double mean = sum / n;
        for (uint32_t i = 0; i < n; i++) ss += ((double)x[i] - mean) * ((double)x[i] - mean);
        if (sqrt(ss / n) < EPPG_Q_FLAT_STD) return EPPG_REASON_FLAT;
    }
    const double tol = 1e-6 * (span > 1e-12 ? span : 1e-12);
    const float top = float_ceil((double)hi - tol), bottom = float_floor((double)lo + tol);
    uint32_t edge = 0;
    for (uint32_t i = 0; i < n; i++) edge += (x[i] >= top) || (x[i] <= bottom);
    if ((double)edge / n > EPPG_Q_MAX_CLIPPED_FRAC) return EPPG_REASON_CLIPPED;
    return EPPG_REASON_OK;
}

/* Autocorrelation SQI (edgeppg.quality.sqi) on the model's float input (the z-scored window, as predict reads
 * it), in float32 after one float64 mean (the FPU of an M4F/M33; Python uses float64 and an FFT, so a value
 * within ~1e-5 of the threshold may fall the other way). */
static float sqi(void)
{
    const uint32_t n = EPPG_WINDOW_SAMPLES;
    const double *y = scratch.d + EPPG_PRE_PAD;
    double sum = 0.0;
    for (uint32_t i = 0; i < n; i++) sum += y[i];
    const double mean = sum / n;
    float *c = scratch.f; /* c[i] lands on bytes already read: 4i < 8 (pad + i) */
    float ss = 0.0f;
    for (uint32_t i = 0; i < n; i++) {
        c[i] = (float)(y[i] - mean);
        ss += c[i] * c[i];
    }
    /* z-score as the model input: the SQI is scale-free except for the eps and the energy floor below */
    const float inv = 1.0f / (sqrtf(ss / (float)n) + (float)EPPG_PRE_EPS);
    float zsum = 0.0f;
    for (uint32_t i = 0; i < n; i++) zsum += (c[i] *= inv);
    const float zmean = zsum / (float)n;
    for (uint32_t i = 0; i < n; i++) c[i] -= zmean;
    float energy = 0.0f;
    for (uint32_t i = 0; i < n; i++) energy += c[i] * c[i];
    if (energy < 1e-12f) energy = 1e-12f;
    float best = -HUGE_VALF;
    for (uint32_t k = EPPG_Q_SQI_LAG_LO; k <= EPPG_Q_SQI_LAG_HI; k++) {
        float ac = 0.0f;
        for (uint32_t t = 0; t + k < n; t++) ac += c[t] * c[t + k];
        const float v = ac / energy * ((float)n / (float)(n - k)); /* unbiased: lag k sums n - k products */
        best = v > best ? v : best;
    }
    return best < 0.0f ? 0.0f : best > 1.0f ? 1.0f : best;
}

int eppg_infer_float(const float *x, eppg_result_t *r)
{
    const uint8_t signal = raw_checks(x);
    if (eppg_preprocess(&pre, x, EPPG_WINDOW_SAMPLES, scratch.d, qwin) != 0) return -1;
    const float q = sqi();
    eppg_infer(qwin, r);
    r->sqi = q;
    /* precedence as edgeppg.quality.gate: flat > clipped > noise_class > low_sqi */
    if (signal != EPPG_REASON_OK) r->reason = signal;
    else if (r->reason == EPPG_REASON_OK && q < EPPG_Q_MIN_SQI) r->reason = EPPG_REASON_LOW_SQI;
    r->hr_valid = r->reason == EPPG_REASON_OK;
    return 0;
}

const int8_t *eppg_last_input(void)
{
    return qwin;
}

int eppg_push(const float *samples, size_t n, eppg_result_t *r)
{
    int done = 0;
    for (size_t i = 0; i < n; i++) {
        if (skip) { /* a hop longer than the window drops the samples in between */
            skip--;
            continue;
        }
        ring[fill++] = samples[i];
        if (fill < EPPG_WINDOW_SAMPLES) continue;
        eppg_infer_float(ring, r);
        r->window_index = windows_done++;
        done++;
        if (EPPG_HOP_SAMPLES < EPPG_WINDOW_SAMPLES) {
            memmove(ring, ring + EPPG_HOP_SAMPLES, (EPPG_WINDOW_SAMPLES - EPPG_HOP_SAMPLES) * sizeof ring[0]);
            fill = EPPG_WINDOW_SAMPLES - EPPG_HOP_SAMPLES;
        } else {
            fill = 0;
            skip = EPPG_HOP_SAMPLES - EPPG_WINDOW_SAMPLES;
        }
    }
    return done;
}
