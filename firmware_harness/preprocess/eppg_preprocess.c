/* See eppg_preprocess.h. Arithmetic follows edgeppg/preprocess.py step by step (float64 direct form II
 * transposed biquads, float64 z-score, float32 division and round-half-away QUANTIZE). The mean and std
 * are summed sequentially here and pairwise in numpy, so an output can differ by 1 LSB at a rounding tie;
 * tests/test_preprocess_c.py measures how often on real windows. Build with -ffp-contract=off. */
#include "eppg_preprocess.h"

#include <math.h>

int eppg_preprocess(const eppg_pre_t *p, const float *x, uint32_t n, double *buf, int8_t *out) {
    const uint32_t pad = p->n_sections ? p->pad : 0;
    if (n <= pad) return -1;
    for (uint32_t i = 0; i < pad; i++) buf[i] = (double)x[pad - i]; /* x[pad], x[pad-1], ..., x[1] */
    for (uint32_t i = 0; i < n; i++) buf[pad + i] = (double)x[i];
    const uint32_t len = n + pad;
    const double x0 = buf[0]; /* every section starts at zi_unit * the cascade's FIRST input (gains are in zi) */
    for (uint32_t s = 0; s < p->n_sections; s++) {
        const double *c = p->sos[s];
        const double b0 = c[0], b1 = c[1], b2 = c[2], a1 = c[4], a2 = c[5];
        double z0 = p->zi[s][0] * x0, z1 = p->zi[s][1] * x0;
        for (uint32_t t = 0; t < len; t++) {
            const double xt = buf[t];
            const double yt = b0 * xt + z0;
            z0 = b1 * xt - a1 * yt + z1;
            z1 = b2 * xt - a2 * yt;
            buf[t] = yt;
        }
    }
    const double *y = buf + pad;
    double sum = 0.0;
    for (uint32_t i = 0; i < n; i++) sum += y[i];
    const double mean = sum / (double)n;
    double ss = 0.0;
    for (uint32_t i = 0; i < n; i++) ss += (y[i] - mean) * (y[i] - mean);
    const double den = sqrt(ss / (double)n) + p->eps;
    for (uint32_t i = 0; i < n; i++) {
        const float v = (float)((y[i] - mean) / den) / p->in_scale;
        float q = floorf(fabsf(v) + 0.5f);
        q = (v < 0.0f ? -q : q) + (float)p->in_zero_point;
        out[i] = (int8_t)(q < -128.0f ? -128.0f : q > 127.0f ? 127.0f : q);
    }
    return 0;
}
