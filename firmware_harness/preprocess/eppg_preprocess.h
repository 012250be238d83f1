/* The model-input preprocessing of edgeppg/preprocess.py, on the device: one window of raw samples at the
 * model rate -> the int8 model input. Constants come from the export manifest's input.preprocessing
 * (sos, zi_unit, pad_samples, eps) and input scale/zero_point. No malloc; the caller owns the scratch. */
#ifndef EPPG_PREPROCESS_H
#define EPPG_PREPROCESS_H

#include <stdint.h>

typedef struct {
    uint32_t n_sections;      /* biquads in the band-pass cascade; 0 = z-score only */
    const double (*sos)[6];   /* [b0 b1 b2 1 a1 a2] per section */
    const double (*zi)[2];    /* steady-state state per unit input (scipy sosfilt_zi, cascade gains included) */
    uint32_t pad;             /* mirrored pre-roll samples: x[pad] .. x[1] run before x[0] */
    double eps;               /* z-score: (y - mean) / (std + eps), population std */
    float in_scale;           /* TFLite QUANTIZE of the model input */
    int32_t in_zero_point;
} eppg_pre_t;

/* x: n samples (float32, the device's sample buffer); scratch: n + pad doubles; out: n int8.
 * Returns 0, or -1 when n <= pad (the pre-roll must fit inside the window). */
int eppg_preprocess(const eppg_pre_t *p, const float *x, uint32_t n, double *scratch, int8_t *out);

#endif
