/* int8 kernels. The portable path follows the TFLM reference kernels step by step (it is what the
 * generated model is checked against); the EPPG_OPT path reorders the same integer arithmetic for the
 * Cortex-M DSP extension and must stay bit-exact with it. */
#include "eppg_kernels.h"

#include <string.h>

static inline int32_t clamp32(int32_t v, int32_t lo, int32_t hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

/* ---- TFLite fixed-point helpers (reference semantics, double rounding) ---- */

static inline int32_t srdhm(int32_t a, int32_t b)
{
    if (a == b && a == INT32_MIN) return INT32_MAX; /* the one product that does not fit */
    int64_t ab = (int64_t)a * (int64_t)b;
    int32_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31)); /* C division truncates toward zero, as TFLite */
}

static inline int32_t rdbp(int32_t x, int32_t e)
{
    int32_t mask = (int32_t)(((int64_t)1 << e) - 1);
    int32_t rem = x & mask;
    int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> e) + (rem > threshold ? 1 : 0);
}

int32_t eppg_mbqm(int32_t x, int32_t mult, int32_t shift)
{
    int32_t ls = shift > 0 ? shift : 0;
    int32_t rs = shift > 0 ? 0 : -shift;
    return rdbp(srdhm((int32_t)((uint32_t)x << ls), mult), rs); /* unsigned shift: wraps like the C++ */
}

#if EPPG_OPT
/* ---- DSP intrinsics (ACLE on Cortex-M, C emulation elsewhere so the host can test this path) ---- */
#if defined(__ARM_FEATURE_DSP)
#include <arm_acle.h>
#define SXTB16(x) __sxtb16(x)
#define SXTB16_ROR8(x) __sxtb16(__ror((x), 8))
#define SMLAD(a, b, acc) __smlad((a), (b), (acc))
#else
static inline uint32_t SXTB16(uint32_t x)
{
    return (uint32_t)(uint16_t)(int16_t)(int8_t)(x & 0xff) | ((uint32_t)(uint16_t)(int16_t)(int8_t)((x >> 16) & 0xff) << 16);
}
#define SXTB16_ROR8(x) SXTB16(((x) >> 8) | ((x) << 24))
static inline int32_t SMLAD(uint32_t a, uint32_t b, int32_t acc)
{
    int32_t lo = (int32_t)(int16_t)(a & 0xffff) * (int32_t)(int16_t)(b & 0xffff);
    int32_t hi = (int32_t)(int16_t)(a >> 16) * (int32_t)(int16_t)(b >> 16);
    return (int32_t)((uint32_t)acc + (uint32_t)lo + (uint32_t)hi); /* wraps like the instruction */
}
#endif

static inline uint32_t ld32(const void *p)
{
    uint32_t v;
    memcpy(&v, p, 4); /* one (possibly unaligned) LDR on v7E-M; no aliasing UB */
    return v;
}

/* MBQM rewritten with two exact identities: SRDHM(a,b) == (a*b + 2^30) >> 31 for every product that
 * cannot saturate (mult > 0 here), and RDBP(x,e) == (x + 2^(e-1) - (x<0)) >> e for e >= 1. */
static inline int32_t mbqm_fast(int32_t x, int32_t mult, int32_t shift)
{
    int32_t ls = shift > 0 ? shift : 0;
    int32_t rs = shift > 0 ? 0 : -shift;
    int32_t hi = (int32_t)(((int64_t)(int32_t)((uint32_t)x << ls) * mult + (1 << 30)) >> 31);
    if (rs == 0) return hi;
    return (hi + (1 << (rs - 1)) - (int32_t)((uint32_t)hi >> 31)) >> rs;
}

static inline int8_t requant_store(int32_t acc, int32_t mult, int32_t shift, int32_t off, int32_t lo, int32_t hi)
{
    return (int8_t)clamp32(mbqm_fast(acc, mult, shift) + off, lo, hi);
}

/* Conv as a GEMM: each output row's receptive field is one contiguous run of K = kernel*in_ch int8
 * values (NWC, stride*in_ch apart). 2 rows x 2 output channels per step, 4 MACs per SMLAD pair. */
static void conv_opt(const eppg_conv_t *p, const int8_t *in, int8_t *out)
{
    const int32_t K = (int32_t)p->kernel * p->in_ch;
    const int32_t K4 = K & ~3;
    const int32_t rstride = (int32_t)p->stride * p->in_ch;
    const int32_t OC = p->out_ch;
    const int32_t pair_len = 2 * K;          /* int16 per interleaved oc pair */
    for (int32_t t = 0; t < p->out_len; t += 2) {
        const int8_t *xa = in + t * rstride;
        const int8_t *xb = (t + 1 < p->out_len) ? xa + rstride : xa; /* odd tail row: compute twice */
        int8_t *oa = out + t * OC;
        int8_t *ob = (t + 1 < p->out_len) ? oa + OC : NULL;
        const int16_t *w = p->w16;
        int32_t oc = 0;
        for (; oc + 1 < OC; oc += 2) {
            int32_t a0 = p->bias_fold[oc], a1 = p->bias_fold[oc + 1], b0 = a0, b1 = a1;
            const int8_t *pa = xa, *pb = xb;
            const int16_t *wp = w;
            for (int32_t k = 0; k < K4; k += 4) {
                uint32_t va = ld32(pa), vb = ld32(pb);
                pa += 4;
                pb += 4;
                uint32_t xa02 = SXTB16(va), xb02 = SXTB16(vb);
                uint32_t w0 = ld32(wp);
                a0 = SMLAD(xa02, w0, a0);
                b0 = SMLAD(xb02, w0, b0);
                uint32_t w1 = ld32(wp + 4);
                a1 = SMLAD(xa02, w1, a1);
                b1 = SMLAD(xb02, w1, b1);
                uint32_t xa13 = SXTB16_ROR8(va), xb13 = SXTB16_ROR8(vb);
                w0 = ld32(wp + 2);
                a0 = SMLAD(xa13, w0, a0);
                b0 = SMLAD(xb13, w0, b0);
                w1 = ld32(wp + 6);
                a1 = SMLAD(xa13, w1, a1);
                b1 = SMLAD(xb13, w1, b1);
                wp += 8;
            }
            for (int32_t k = K4; k < K; k++) { /* tail: (w_oc, w_oc+1) int16 pairs */
                int32_t xva = *pa++, xvb = *pb++;
                a0 += xva * wp[0];
                b0 += xvb * wp[0];
                a1 += xva * wp[1];
                b1 += xvb * wp[1];
                wp += 2;
            }
            w += pair_len;
            const int32_t m0 = p->mult[oc], s0 = p->shift[oc], m1 = p->mult[oc + 1], s1 = p->shift[oc + 1];
            oa[oc] = requant_store(a0, m0, s0, p->out_offset, p->act_min, p->act_max);
            oa[oc + 1] = requant_store(a1, m1, s1, p->out_offset, p->act_min, p->act_max);
            if (ob) {
                ob[oc] = requant_store(b0, m0, s0, p->out_offset, p->act_min, p->act_max);
                ob[oc + 1] = requant_store(b1, m1, s1, p->out_offset, p->act_min, p->act_max);
            }
        }
        if (oc < OC) { /* odd channel count: last channel alone, its row padded to an even length */
            int32_t a0 = p->bias_fold[oc], b0 = a0;
            const int8_t *pa = xa, *pb = xb;
            const int16_t *wp = w;
            for (int32_t k = 0; k < K4; k += 4) {
                uint32_t va = ld32(pa), vb = ld32(pb);
                pa += 4;
                pb += 4;
                uint32_t w0 = ld32(wp), w1 = ld32(wp + 2);
                a0 = SMLAD(SXTB16(va), w0, a0);
                b0 = SMLAD(SXTB16(vb), w0, b0);
                a0 = SMLAD(SXTB16_ROR8(va), w1, a0);
                b0 = SMLAD(SXTB16_ROR8(vb), w1, b0);
                wp += 4;
            }
            for (int32_t k = K4; k < K; k++) {
                a0 += *pa++ * *wp;
                b0 += *pb++ * *wp;
                wp++;
            }
            oa[oc] = requant_store(a0, p->mult[oc], p->shift[oc], p->out_offset, p->act_min, p->act_max);
            if (ob) ob[oc] = requant_store(b0, p->mult[oc], p->shift[oc], p->out_offset, p->act_min, p->act_max);
        }
    }
}

/* One depthwise channel with the taps in registers; K is a compile-time constant after inlining. */
static inline __attribute__((always_inline)) void dw_channel(const eppg_dw_t *p, const int8_t *in, int8_t *out,
                                                             int32_t c, const int32_t K)
{
    const int32_t C = p->out_ch, step = (int32_t)p->stride * C;
    int32_t wk[8];
    for (int32_t j = 0; j < K; j++) wk[j] = p->w[j * C + c];
    const int32_t bias = p->bias_fold[c], mult = p->mult[c], shift = p->shift[c];
    const int8_t *x = in + c;
    int8_t *o = out + c;
    for (int32_t t = 0; t < p->out_len; t++) {
        int32_t acc = bias;
        for (int32_t j = 0; j < K; j++) acc += x[j * C] * wk[j];
        *o = requant_store(acc, mult, shift, p->out_offset, p->act_min, p->act_max);
        o += C;
        x += step;
    }
}

static void dw_opt(const eppg_dw_t *p, const int8_t *in, int8_t *out)
{
    for (int32_t c = 0; c < p->out_ch; c++) {
        switch (p->kernel) { /* specialised so the taps stay in registers */
        case 3: dw_channel(p, in, out, c, 3); break;
        case 5: dw_channel(p, in, out, c, 5); break;
        case 7: dw_channel(p, in, out, c, 7); break;
        default: {
            const int32_t C = p->out_ch;
            for (int32_t t = 0; t < p->out_len; t++) {
                int32_t acc = p->bias_fold[c];
                const int8_t *x = in + t * p->stride * C + c;
                for (int32_t j = 0; j < p->kernel; j++) acc += x[j * C] * p->w[j * C + c];
                out[t * C + c] = requant_store(acc, p->mult[c], p->shift[c], p->out_offset, p->act_min, p->act_max);
            }
        }
        }
    }
}
#endif /* EPPG_OPT */

/* ---- reference loops (TFLM reference_integer_ops semantics) ---- */

void eppg_conv(const eppg_conv_t *p, const int8_t *in, int8_t *out)
{
#if EPPG_OPT
    if (p->w16 && p->bias_fold) {
        conv_opt(p, in, out);
        return;
    }
#endif
    const int32_t IC = p->in_ch, OC = p->out_ch, K = p->kernel;
    for (int32_t t = 0; t < p->out_len; t++) {
        const int32_t origin = t * p->stride - p->pad_left;
        for (int32_t oc = 0; oc < OC; oc++) {
            int32_t acc = 0;
            for (int32_t j = 0; j < K; j++) {
                const int32_t pos = origin + j * p->dilation;
                if (pos < 0 || pos >= p->in_len) continue; /* zero padding contributes nothing */
                const int8_t *x = in + pos * IC;
                const int8_t *w = p->w + (oc * K + j) * IC;
                for (int32_t ic = 0; ic < IC; ic++) acc += w[ic] * (x[ic] + p->in_offset);
            }
            if (p->bias) acc += p->bias[oc];
            acc = eppg_mbqm(acc, p->mult[oc], p->shift[oc]) + p->out_offset;
            out[t * OC + oc] = (int8_t)clamp32(acc, p->act_min, p->act_max);
        }
    }
}

void eppg_dw(const eppg_dw_t *p, const int8_t *in, int8_t *out)
{
#if EPPG_OPT
    if (p->bias_fold && p->depth_mult == 1) {
        dw_opt(p, in, out);
        return;
    }
#endif
    const int32_t IC = p->in_ch, OC = p->out_ch, K = p->kernel, DM = p->depth_mult;
    for (int32_t t = 0; t < p->out_len; t++) {
        const int32_t origin = t * p->stride - p->pad_left;
        for (int32_t ic = 0; ic < IC; ic++) {
            for (int32_t m = 0; m < DM; m++) {
                const int32_t oc = ic * DM + m;
                int32_t acc = 0;
                for (int32_t j = 0; j < K; j++) {
                    const int32_t pos = origin + j * p->dilation;
                    if (pos < 0 || pos >= p->in_len) continue;
                    acc += p->w[j * OC + oc] * (in[pos * IC + ic] + p->in_offset);
                }
                if (p->bias) acc += p->bias[oc];
                acc = eppg_mbqm(acc, p->mult[oc], p->shift[oc]) + p->out_offset;
                out[t * OC + oc] = (int8_t)clamp32(acc, p->act_min, p->act_max);
            }
        }
    }
}

void eppg_fc(const eppg_fc_t *p, const int8_t *in, int8_t *out)
{
    for (int32_t b = 0; b < p->batches; b++) {
        const int8_t *x = in + b * p->in_n;
        for (int32_t o = 0; o < p->out_n; o++) {
            const int8_t *w = p->w + o * p->in_n;
            int32_t acc = 0;
            for (int32_t d = 0; d < p->in_n; d++) acc += w[d] * (x[d] + p->in_offset);
            if (p->bias) acc += p->bias[o];
            const int32_t ch = p->per_channel ? o : 0;
            acc = eppg_mbqm(acc, p->mult[ch], p->shift[ch]) + p->out_offset;
            out[b * p->out_n + o] = (int8_t)clamp32(acc, p->act_min, p->act_max);
        }
    }
}

static inline int32_t add_scale(int32_t v, int32_t offset, int32_t left_shift, int32_t mult, int32_t shift)
{
    /* MultiplyByQuantizedMultiplierSmallerThanOneExp: shift <= 0, same as MBQM with double rounding */
    return eppg_mbqm((int32_t)((uint32_t)(v + offset) << left_shift), mult, shift);
}

void eppg_add(const eppg_add_t *p, const int8_t *in1, const int8_t *in2, int8_t *out)
{
#if EPPG_OPT
    if (p->lut1 && p->lut2) { /* the scaled input depends only on the int8 code: table lookup */
        for (uint32_t i = 0; i < p->n; i++) {
            int32_t sum = p->lut1[in1[i] + 128] + p->lut2[in2[i] + 128];
            out[i] = requant_store(sum, p->out_mult, p->out_shift, p->out_offset, p->act_min, p->act_max);
        }
        return;
    }
#endif
    for (uint32_t i = 0; i < p->n; i++) {
        int32_t a = add_scale(in1[i], p->in1_offset, p->left_shift, p->in1_mult, p->in1_shift);
        int32_t b = add_scale(in2[i], p->in2_offset, p->left_shift, p->in2_mult, p->in2_shift);
        int32_t r = eppg_mbqm(a + b, p->out_mult, p->out_shift) + p->out_offset;
        out[i] = (int8_t)clamp32(r, p->act_min, p->act_max);
    }
}

void eppg_pad(const eppg_pad_t *p, const int8_t *in, int8_t *out)
{
    const uint16_t *id = p->in_dims, *od = p->out_dims;
    /* fill, then copy each innermost input row to its place: rows are contiguous in both tensors */
    memset(out, p->value, (size_t)od[0] * od[1] * od[2] * od[3]);
    for (uint32_t a = 0; a < id[0]; a++)
        for (uint32_t b = 0; b < id[1]; b++)
            for (uint32_t c = 0; c < id[2]; c++) {
                const int8_t *src = in + ((a * id[1] + b) * id[2] + c) * id[3];
                int8_t *dst = out + (((a + p->before[0]) * od[1] + b + p->before[1]) * od[2] + c + p->before[2]) * od[3]
                              + p->before[3];
                memcpy(dst, src, id[3]);
            }
}

void eppg_mean(const eppg_mean_t *p, const int8_t *in, int8_t *out)
{
    const int32_t zp_sum = p->in_zp * (int32_t)p->reduce;
    for (uint32_t o = 0; o < p->outer; o++) {
        for (uint32_t i = 0; i < p->inner; i++) {
            int32_t sum = 0;
            const int8_t *x = in + o * p->reduce * p->inner + i;
            for (uint32_t r = 0; r < p->reduce; r++) sum += x[r * p->inner];
            int32_t v = eppg_mbqm(sum - zp_sum, p->mult, p->shift) + p->out_zp;
            out[o * p->inner + i] = (int8_t)clamp32(v, -128, 127);
        }
    }
}

void eppg_requant(const eppg_requant_t *p, const int8_t *in, int8_t *out)
{
    for (uint32_t i = 0; i < p->n; i++) {
        int32_t v = eppg_mbqm(in[i] - p->in_zp, p->mult, p->shift) + p->out_zp;
        out[i] = (int8_t)clamp32(v, p->act_min, p->act_max);
    }
}
