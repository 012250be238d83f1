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
static inline uint32_t sxtb16_ror8(uint32_t x)
{
    uint32_t r;
    __asm("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x)); /* GCC 12 has no __ror and won't fuse the rotate */
    return r;
}
#define SXTB16_ROR8(x) sxtb16_ror8(x)
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

/* Requantization, precomputed per channel. MBQM is rewritten with exact identities:
 *   SRDHM(a,b) == (a*b + 2^30) >> 31          for every product that cannot saturate (mult > 0 here)
 *              == SMMULR(2a, b)                when |a| < 2^30 (the generator proves it per layer: fast_rq)
 *   RDBP(x,e)  == (x + 2^(e-1) - (x<0)) >> e   for e >= 1 (nz = 0 turns the correction off for e == 0). */
typedef struct {
    int32_t mult, ls, rs, rnd, nz;
} rq_t;

static inline rq_t rq_make(int32_t mult, int32_t shift)
{
    rq_t r;
    r.mult = mult;
    r.ls = shift > 0 ? shift : 0;
    r.rs = shift > 0 ? 0 : -shift;
    r.rnd = r.rs ? (1 << (r.rs - 1)) : 0;
    r.nz = r.rs ? 1 : 0;
    return r;
}

static inline int32_t rq_apply(int32_t acc, rq_t r)
{
    int32_t hi = (int32_t)(((int64_t)(int32_t)((uint32_t)acc << r.ls) * r.mult + (1 << 30)) >> 31);
    return (hi + r.rnd - ((hi >> 31) & r.nz)) >> r.rs;
}

static inline int32_t smmulr(int32_t a, int32_t b)
{
#if defined(__ARM_FEATURE_DSP)
    int32_t r;
    __asm("smmulr %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
#else
    return (int32_t)(((int64_t)a * b + ((int64_t)1 << 31)) >> 32);
#endif
}

/* fast_rq layers (the generator proved |acc| < 2^30, no left shift, 1 <= rs <= 23): the accumulator
 * arrives doubled (weights and bias stored x2), SMMULR gives SRDHM, and the output offset is folded into
 * the rounding constant: rnd = 2^(rs-1) + (off << rs). */
static inline int32_t rq_fast(int32_t acc2, int32_t mult, int32_t rs, int32_t rnd)
{
    int32_t hi = smmulr(acc2, mult);
    return (hi + rnd - (int32_t)((uint32_t)hi >> 31)) >> rs;
}

/* Clamp to the activation range; when that range is all of int8 a single SSAT does it. */
static inline int32_t sat8(int32_t v)
{
#if defined(__ARM_FEATURE_SAT)
    return __ssat(v, 8);
#else
    return clamp32(v, -128, 127);
#endif
}

static inline int8_t rq_store(int32_t acc, rq_t r, int32_t off, int32_t lo, int32_t hi)
{
    return (int8_t)clamp32(rq_apply(acc, r) + off, lo, hi);
}

/* Widen 4*G int8 values to int16 pairs in SXTB16 order: word 2g = (x0,x2), word 2g+1 = (x1,x3). */
static inline void widen_row(const int8_t *x, uint32_t *dst, int32_t groups, int32_t stride_words)
{
    for (int32_t g = 0; g < groups; g++, x += 4, dst += stride_words) {
        uint32_t v = ld32(x);
        dst[0] = SXTB16(v);
        dst[2] = SXTB16_ROR8(v);
    }
}

/* Conv as a GEMM: each output row's receptive field is one contiguous run of K = kernel*in_ch int8
 * values (NWC, stride*in_ch apart). Two rows are widened once into scratch (interleaved per group of 4:
 * a02 b02 a13 b13), then 2 rows x 2 output channels accumulate with 8 SMLADs per 4 inputs.
 * Parameters are copied to locals: int8 stores may alias anything, which would force reloads. */
/* Accumulate one row pair against NOC interleaved output channels (w advances past their block). */
#define CONV_TILE(NOC)                                                                                   \
    do {                                                                                                 \
        const uint32_t *sp = s;                                                                          \
        while (sp < send) {                                                                              \
            const uint32_t x02a = sp[0], x02b = sp[1];                                                   \
            _Pragma("GCC unroll 4") for (int j = 0; j < NOC; j++) {                                      \
                acc[j] = SMLAD(x02a, w[2 * j], acc[j]);                                                  \
                acc[NOC + j] = SMLAD(x02b, w[2 * j], acc[NOC + j]);                                      \
            }                                                                                            \
            const uint32_t x13a = sp[2], x13b = sp[3];                                                   \
            _Pragma("GCC unroll 4") for (int j = 0; j < NOC; j++) {                                      \
                acc[j] = SMLAD(x13a, w[2 * j + 1], acc[j]);                                              \
                acc[NOC + j] = SMLAD(x13b, w[2 * j + 1], acc[NOC + j]);                                  \
            }                                                                                            \
            sp += 4;                                                                                     \
            w += 2 * NOC;                                                                                \
        }                                                                                                \
    } while (0)

static inline __attribute__((always_inline)) void conv_fast_tile(const uint32_t *s, const uint32_t *send,
                                                                  const uint32_t **wp, const int32_t *bf,
                                                                  const int32_t *rqp, int8_t *oa, int8_t *ob,
                                                                  int32_t lo, int32_t hi, const int NOC,
                                                                  const int sat)
{
    int32_t acc[8];
    const uint32_t *w = *wp;
#pragma GCC unroll 4
    for (int j = 0; j < NOC; j++) acc[j] = acc[NOC + j] = bf[j];
    CONV_TILE(NOC);
    *wp = w;
#pragma GCC unroll 4
    for (int j = 0; j < NOC; j++) {
        const int32_t m = rqp[3 * j], rs = rqp[3 * j + 1], rnd = rqp[3 * j + 2];
        int32_t va = rq_fast(acc[j], m, rs, rnd), vb = rq_fast(acc[NOC + j], m, rs, rnd);
        oa[j] = (int8_t)(sat ? sat8(va) : clamp32(va, lo, hi));
        ob[j] = (int8_t)(sat ? sat8(vb) : clamp32(vb, lo, hi));
    }
}

static void conv_opt(const eppg_conv_t *p, const int8_t *in, int8_t *out)
{
    const int32_t G = p->k_padded >> 2;
    const int32_t rstride = (int32_t)p->stride * p->in_ch;
    const int32_t OC = p->out_ch, T = p->out_len;
    const int32_t off = p->out_offset, lo = p->act_min, hi = p->act_max;
    const int sat = lo <= -128 && hi >= 127;
    const uint32_t *const w16 = (const uint32_t *)(const void *)p->w16;
    const int32_t *const bf = p->bias_fold, *const mult = p->mult, *const shift = p->shift, *const rqp = p->rqp;
    uint32_t *const s = p->scratch;
    const uint32_t *const send = s + 4 * G;
    for (int32_t t = 0; t < T; t += 2) {
        const int8_t *xa = in + t * rstride;
        const int two = t + 1 < T;
        const int8_t *xb = two ? xa + rstride : xa; /* odd tail row: computed twice, stored once */
        int8_t *oa = out + t * OC;
        int8_t *ob = two ? oa + OC : oa;
        widen_row(xa, s, G, 4);
        widen_row(xb, s + 1, G, 4);
        const uint32_t *w = w16;
        int32_t oc = 0;
        if (p->fast_rq) { /* 2 rows x 4 channels, then 2, then 1: the generator laid w16 out the same way */
            for (; oc + 3 < OC; oc += 4) {
                if (sat) conv_fast_tile(s, send, &w, bf + oc, rqp + 3 * oc, oa + oc, ob + oc, lo, hi, 4, 1);
                else conv_fast_tile(s, send, &w, bf + oc, rqp + 3 * oc, oa + oc, ob + oc, lo, hi, 4, 0);
            }
            for (; oc + 1 < OC; oc += 2)
                conv_fast_tile(s, send, &w, bf + oc, rqp + 3 * oc, oa + oc, ob + oc, lo, hi, 2, 0);
            if (oc < OC) conv_fast_tile(s, send, &w, bf + oc, rqp + 3 * oc, oa + oc, ob + oc, lo, hi, 1, 0);
            continue;
        }
        for (; oc + 1 < OC; oc += 2) {
            int32_t acc[4] = {bf[oc], bf[oc + 1], bf[oc], bf[oc + 1]};
            CONV_TILE(2);
            const rq_t r0 = rq_make(mult[oc], shift[oc]), r1 = rq_make(mult[oc + 1], shift[oc + 1]);
            ob[oc] = rq_store(acc[2], r0, off, lo, hi);
            ob[oc + 1] = rq_store(acc[3], r1, off, lo, hi);
            oa[oc] = rq_store(acc[0], r0, off, lo, hi);
            oa[oc + 1] = rq_store(acc[1], r1, off, lo, hi);
        }
        if (oc < OC) {
            int32_t acc[2] = {bf[oc], bf[oc]};
            CONV_TILE(1);
            const rq_t r0 = rq_make(mult[oc], shift[oc]);
            ob[oc] = rq_store(acc[1], r0, off, lo, hi);
            oa[oc] = rq_store(acc[0], r0, off, lo, hi);
        }
    }
}

/* Depthwise: 4 channels at a time are transposed into scratch rows of int16, one row per channel, time
 * contiguous, with the implicit padding written as the input zero point (with the offset folded into the
 * bias, a zero-point input contributes exactly nothing, as a skipped tap does in TFLM). Each output is then
 * ceil(K/2) word loads + SMLADs against (w[j], w[j+1]) tap pairs held in registers. */
static inline void st32(void *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static void dw_fill_rows(const int8_t *in, int16_t *s, int32_t RS, int32_t n, int32_t C, int32_t PL,
                         int32_t ncopy, int32_t R, int16_t zp)
{
    for (int32_t r = 0; r < n; r++) {
        int16_t *row = s + r * RS;
        for (int32_t t = 0; t < PL; t++) row[t] = zp;
        for (int32_t t = PL + ncopy; t < R; t++) row[t] = zp;
    }
    int32_t t = 0;
    if (n == 4) { /* two times x four channels per step: 2 LDR, 4 SXTB16, 4 PKH, 4 STR */
        int16_t *r0 = s + PL, *r1 = r0 + RS, *r2 = r1 + RS, *r3 = r2 + RS;
        const int8_t *x = in;
        for (; t + 1 < ncopy; t += 2, x += 2 * C) {
            const uint32_t a = ld32(x), b = ld32(x + C);
            const uint32_t a02 = SXTB16(a), b02 = SXTB16(b), a13 = SXTB16_ROR8(a), b13 = SXTB16_ROR8(b);
            st32(r0 + t, (a02 & 0xffffu) | (b02 << 16));
            st32(r2 + t, (b02 & 0xffff0000u) | (a02 >> 16));
            st32(r1 + t, (a13 & 0xffffu) | (b13 << 16));
            st32(r3 + t, (b13 & 0xffff0000u) | (a13 >> 16));
        }
    }
    for (; t < ncopy; t++)
        for (int32_t r = 0; r < n; r++) s[r * RS + PL + t] = in[t * C + r];
}

/* CL: clamp below at lo (ReLU); CH: clamp above at hi (ReLU6); SSAT always bounds to int8. Not inlined into
 * its caller: its own function gets the registers (taps, requant constants) without spilling. */
static inline __attribute__((always_inline)) void dw_row_fast(const int16_t *x, int8_t *o, const uint32_t *wc,
                                                              int32_t C, int32_t S, int32_t T, int32_t bias,
                                                              const int32_t *rqp, int32_t lo, int32_t hi,
                                                              const int NP, const int CL, const int CH)
{
    uint32_t w[4];
#pragma GCC unroll 4
    for (int j = 0; j < NP; j++) w[j] = wc[j];
    const int32_t m = rqp[0], rs = rqp[1], rnd = rqp[2];
    const int8_t *const oend = o + T * C;
    for (; o != oend; x += S, o += C) {
        int32_t acc = bias;
#pragma GCC unroll 4
        for (int j = 0; j < NP; j++) acc = SMLAD(ld32(x + 2 * j), w[j], acc);
        int32_t v = sat8(rq_fast(acc, m, rs, rnd));
        if (CL) v = v < lo ? lo : v;
        if (CH) v = v > hi ? hi : v;
        *o = (int8_t)v;
    }
}

#define DW_ROW_FN(NP, CL, CH)                                                                            \
    static __attribute__((noinline)) void dw_row_##NP##CL##CH(const int16_t *x, int8_t *o,                \
                                                               const uint32_t *wc, int32_t C, int32_t S,  \
                                                               int32_t T, int32_t bias,                   \
                                                               const int32_t *rqp, int32_t lo, int32_t hi) \
    {                                                                                                    \
        dw_row_fast(x, o, wc, C, S, T, bias, rqp, lo, hi, NP, CL, CH);                                   \
    }
DW_ROW_FN(1, 0, 0) DW_ROW_FN(2, 0, 0) DW_ROW_FN(3, 0, 0) DW_ROW_FN(4, 0, 0)
DW_ROW_FN(1, 1, 0) DW_ROW_FN(2, 1, 0) DW_ROW_FN(3, 1, 0) DW_ROW_FN(4, 1, 0)
DW_ROW_FN(1, 1, 1) DW_ROW_FN(2, 1, 1) DW_ROW_FN(3, 1, 1) DW_ROW_FN(4, 1, 1)

#define DW_NP_CASES(CL, CH)                                                                              \
    switch (NP) {                                                                                        \
    case 1: dw_row_1##CL##CH(x, o, wc, C, S, T, bias, rqp, lo, hi); break;                               \
    case 2: dw_row_2##CL##CH(x, o, wc, C, S, T, bias, rqp, lo, hi); break;                               \
    case 3: dw_row_3##CL##CH(x, o, wc, C, S, T, bias, rqp, lo, hi); break;                               \
    default: dw_row_4##CL##CH(x, o, wc, C, S, T, bias, rqp, lo, hi); break;                              \
    }

static void dw_row(const int16_t *x, int8_t *o, const uint32_t *wc, int32_t C, int32_t S, int32_t T,
                   int32_t bias, int32_t NP, int32_t fast, const int32_t *rqp, int32_t mult, int32_t shift,
                   int32_t off, int32_t lo, int32_t hi)
{
    if (fast && NP <= 4) {
        if (hi >= 127) {
            if (lo <= -128) DW_NP_CASES(0, 0) else DW_NP_CASES(1, 0)
        } else {
            DW_NP_CASES(1, 1)
        }
        return;
    }
    for (int32_t t = 0; t < T; t++, x += S, o += C) {
        int32_t acc = bias;
        for (int32_t j = 0; j < NP; j++) acc = SMLAD(ld32(x + 2 * j), wc[j], acc);
        *o = fast ? (int8_t)clamp32(rq_fast(acc, rqp[0], rqp[1], rqp[2]), lo, hi)
                  : rq_store(acc, rq_make(mult, shift), off, lo, hi);
    }
}

static void dw_opt(const eppg_dw_t *p, const int8_t *in, int8_t *out)
{
    const int32_t C = p->out_ch, S = p->stride, T = p->out_len, K = p->kernel, L = p->in_len, PL = p->pad_left;
    const int32_t NP = (K + 1) >> 1, RS = 2 * p->row_words, R = (T - 1) * S + 2 * NP;
    int32_t ncopy = L < R - PL ? L : R - PL; /* inputs past the last window are never read */
    if (ncopy < 0) ncopy = 0;
    const int32_t off = p->out_offset, lo = p->act_min, hi = p->act_max, fast = p->fast_rq;
    const int16_t zp = (int16_t)-p->in_offset;
    int16_t *const s = (int16_t *)(void *)p->scratch;
    for (int32_t c = 0; c < C; c += 4) {
        const int32_t n = C - c < 4 ? C - c : 4;
        dw_fill_rows(in + c, s, RS, n, C, PL, ncopy, R, zp);
        for (int32_t r = 0; r < n; r++)
            dw_row(s + r * RS, out + c + r, p->w16 + (c + r) * NP, C, S, T, p->bias_fold[c + r], NP, fast,
                   fast ? p->rqp + 3 * (c + r) : 0, p->mult[c + r], p->shift[c + r], off, lo, hi);
    }
}

static void add_opt(const eppg_add_t *p, const int8_t *in1, const int8_t *in2, int8_t *out)
{
    const int32_t *const l1 = p->lut1 + 128, *const l2 = p->lut2 + 128; /* index by the signed code */
    const int32_t off = p->out_offset, lo = p->act_min, hi = p->act_max, n = (int32_t)p->n;
    if (p->fast_rq) { /* luts are stored doubled; rqp = {mult, rs, rnd + (off << rs)} */
        const int32_t m = p->rqp[0], rs = p->rqp[1], rnd = p->rqp[2];
        if (lo <= -128 && hi >= 127)
            for (int32_t i = 0; i < n; i++) out[i] = (int8_t)sat8(rq_fast(l1[in1[i]] + l2[in2[i]], m, rs, rnd));
        else
            for (int32_t i = 0; i < n; i++) out[i] = (int8_t)clamp32(rq_fast(l1[in1[i]] + l2[in2[i]], m, rs, rnd), lo, hi);
    } else {
        const rq_t r = rq_make(p->out_mult, p->out_shift);
        for (int32_t i = 0; i < n; i++) out[i] = rq_store(l1[in1[i]] + l2[in2[i]], r, off, lo, hi);
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
    if (p->bias_fold && p->w16) {
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
        add_opt(p, in1, in2, out);
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

static void copy_bytes(int8_t *dst, const int8_t *src, uint32_t n)
{
    /* word copies (unaligned LDR/STR are fine on v7E-M and x86); newlib-nano memcpy is bytewise */
    for (; n >= 4; n -= 4, dst += 4, src += 4) {
        uint32_t v;
        memcpy(&v, src, 4);
        memcpy(dst, &v, 4);
    }
    while (n--) *dst++ = *src++;
}

static void fill_bytes(int8_t *dst, int8_t value, uint32_t n)
{
    uint32_t v = 0x01010101u * (uint8_t)value;
    for (; n >= 4; n -= 4, dst += 4) memcpy(dst, &v, 4);
    while (n--) *dst++ = value;
}

void eppg_pad(const eppg_pad_t *p, const int8_t *in, int8_t *out)
{
    /* Axes inside the innermost padded axis are copied as one contiguous slab per outer index. */
    int32_t ax = 3;
    while (ax > 0 && p->before[ax] == 0 && p->in_dims[ax] == p->out_dims[ax]) ax--;
    uint32_t inner = 1;
    for (int32_t d = ax + 1; d < 4; d++) inner *= p->in_dims[d];
    const uint32_t in_slab = p->in_dims[ax] * inner, out_slab = p->out_dims[ax] * inner;
    const uint32_t head = p->before[ax] * inner, tail = out_slab - head - in_slab;
    uint32_t outer_in[3] = {1, 1, 1}, outer_out[3] = {1, 1, 1};
    for (int32_t d = 0; d < ax; d++) {
        outer_in[d] = p->in_dims[d];
        outer_out[d] = p->out_dims[d];
    }
    uint32_t total_out = out_slab;
    int outer_padded = 0;
    for (int32_t d = 0; d < ax; d++) {
        total_out *= outer_out[d];
        outer_padded |= outer_out[d] != outer_in[d];
    }
    if (outer_padded) fill_bytes(out, p->value, total_out); /* rows only padded outer axes reach */
    for (uint32_t a = 0; a < outer_in[0]; a++)
        for (uint32_t b = 0; b < outer_in[1]; b++)
            for (uint32_t c = 0; c < outer_in[2]; c++) {
                const int8_t *src = in + ((a * outer_in[1] + b) * outer_in[2] + c) * in_slab;
                const uint32_t oa = a + (ax > 0 ? p->before[0] : 0), ob = b + (ax > 1 ? p->before[1] : 0),
                               oc = c + (ax > 2 ? p->before[2] : 0);
                int8_t *dst = out + ((oa * outer_out[1] + ob) * outer_out[2] + oc) * out_slab;
                fill_bytes(dst, p->value, head);
                copy_bytes(dst + head, src, in_slab);
                fill_bytes(dst + head + in_slab, p->value, tail);
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
