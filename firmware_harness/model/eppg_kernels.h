/* int8 kernels with TFLite/TFLM reference quantization semantics; activations NWC ([time][channel]). */
#ifndef EPPG_KERNELS_H
#define EPPG_KERNELS_H

#include <stdint.h>

/* EPPG_OPT selects the optimized path at compile time: on by default where the DSP extension exists
 * (Cortex-M4/M33), forced with -DEPPG_OPT=1 (host: intrinsics are emulated in C, for bit-exact tests)
 * or off with -DEPPG_OPT=0 (the plain reference loops). */
#ifndef EPPG_OPT
#if defined(__ARM_FEATURE_DSP)
#define EPPG_OPT 1
#else
#define EPPG_OPT 0
#endif
#endif

/* CONV_2D with H == 1 (a 1xk conv along time). Weights OHWI = [out_ch][kernel][in_ch]. */
typedef struct {
    uint16_t in_len, in_ch, out_len, out_ch;
    uint16_t kernel, stride, dilation;
    int16_t pad_left;           /* implicit (SAME) padding; taps outside the input are skipped */
    int32_t in_offset;          /* -input zero point */
    int32_t out_offset;         /* output zero point */
    int32_t act_min, act_max;   /* fused activation as a clamp */
    const int8_t *w;
    const int32_t *bias;        /* NULL when the op has none */
    const int32_t *mult;        /* per output channel (QuantizeMultiplier) */
    const int32_t *shift;
    /* optimized path, filled by the generator only for pad-free, dilation-1 convs: */
    const int16_t *w16;         /* widened weights, oc pairs interleaved, (0,2)(1,3) order per 4 */
    const int32_t *bias_fold;   /* bias + in_offset * sum(w): removes the offset add from the MAC loop */
    uint32_t *scratch;          /* 4*ceil(K/4) words: two input rows widened to int16 pairs */
    int32_t fast_rq;            /* 1: w16/bias_fold are doubled and rqp holds {mult, rs, rnd+(off<<rs)} */
    const int32_t *rqp;         /* per channel, fast_rq only (see rq_fast in eppg_kernels.c) */
    uint16_t k_padded;          /* K = kernel*in_ch rounded up to 4 (zero weights; reads stay in the arena) */
} eppg_conv_t;

/* DEPTHWISE_CONV_2D with H == 1. Weights [kernel][out_ch], out_ch = in_ch * depth_mult. */
typedef struct {
    uint16_t in_len, in_ch, out_len, out_ch;
    uint16_t kernel, stride, dilation, depth_mult;
    int16_t pad_left;
    int32_t in_offset, out_offset, act_min, act_max;
    const int8_t *w;
    const int32_t *bias;
    const int32_t *mult;
    const int32_t *shift;
    /* optimized path (dilation 1, depth_mult 1; any padding), else NULL: */
    const int32_t *bias_fold;   /* bias + in_offset * sum(w); doubled if fast_rq */
    int32_t fast_rq;
    const uint32_t *w16;        /* per channel, ceil(K/2) words of int16 tap pairs (w[j], w[j+1]); doubled if fast_rq */
    const int32_t *rqp;         /* per channel {mult, rs, rnd+(off<<rs)}, fast_rq only */
    uint32_t *scratch;          /* 4 rows of row_words: 4 channels' padded inputs widened to int16, time-contiguous */
    uint16_t row_words;         /* ((out_len-1)*stride + 2*ceil(K/2) + 1) / 2 */
} eppg_dw_t;

/* FULLY_CONNECTED: weights [out_n][in_n]; per_channel selects mult/shift[o] over mult/shift[0]. */
typedef struct {
    uint16_t batches, in_n, out_n, per_channel;
    int32_t in_offset, out_offset, act_min, act_max;
    const int8_t *w;
    const int32_t *bias;
    const int32_t *mult;
    const int32_t *shift;
} eppg_fc_t;

/* ADD (same shapes): TFLM int8 scheme, inputs scaled up by 2^left_shift then requantized. */
typedef struct {
    uint32_t n;
    int32_t in1_offset, in2_offset, left_shift;
    int32_t in1_mult, in1_shift, in2_mult, in2_shift;
    int32_t out_mult, out_shift, out_offset, act_min, act_max;
    const int32_t *lut1, *lut2; /* optimized path: scaled input value for each of the 256 int8 codes */
    int32_t fast_rq;            /* luts doubled, rqp = {mult, rs, rnd+(off<<rs)} */
    const int32_t *rqp;
} eppg_add_t;

/* PAD/PADV2 on up to 4 dims (shape padded with leading 1s), constant value. */
typedef struct {
    uint16_t in_dims[4], out_dims[4], before[4];
    int8_t value;
} eppg_pad_t;

/* MEAN over one contiguous block of axes: input viewed as [outer][reduce][inner]. */
typedef struct {
    uint16_t outer, reduce, inner;
    int32_t in_zp, out_zp;
    int32_t mult, shift;        /* in_scale/out_scale with 1/reduce folded in (TFLM QuantizedMeanOrSum) */
} eppg_mean_t;

/* QUANTIZE int8->int8, standalone RELU/RELU6: out = clamp(zp_out + MBQM(x - zp_in)). */
typedef struct {
    uint32_t n;
    int32_t in_zp, out_zp, mult, shift, act_min, act_max;
} eppg_requant_t;

int32_t eppg_mbqm(int32_t x, int32_t mult, int32_t shift);

void eppg_conv(const eppg_conv_t *p, const int8_t *in, int8_t *out);
void eppg_dw(const eppg_dw_t *p, const int8_t *in, int8_t *out);
void eppg_fc(const eppg_fc_t *p, const int8_t *in, int8_t *out);
void eppg_add(const eppg_add_t *p, const int8_t *in1, const int8_t *in2, int8_t *out);
void eppg_pad(const eppg_pad_t *p, const int8_t *in, int8_t *out);
void eppg_mean(const eppg_mean_t *p, const int8_t *in, int8_t *out);
void eppg_requant(const eppg_requant_t *p, const int8_t *in, int8_t *out);

#endif
