/* Bare-metal example: stream a held-out window through the library as a sensor driver would, twice, in
 * chunks of 32 samples, then run it once more as a whole window. Results land in eppg_last_result (read it
 * with a debugger) and, when the board has a console (EPPG_EXAMPLE_CONSOLE: semihosting under QEMU or a
 * probe, stdout on a host), one line per window: the same bytes on every target, so they can be diffed. */
#include "edgeppg.h"

extern const float eppg_demo_window[EPPG_WINDOW_SAMPLES];
void example_putc(int c);  /* example_board.c / the host build */
void example_exit(int code);

volatile eppg_result_t eppg_last_result;
volatile uint32_t eppg_windows_done;

static void put_s(const char *s)
{
    while (*s) example_putc(*s++);
}

static void put_i(int32_t v)
{
    char b[12];
    int n = 0;
    uint32_t u = v < 0 ? (uint32_t)0 - (uint32_t)v : (uint32_t)v;
    if (v < 0) example_putc('-');
    do {
        b[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    while (n) example_putc(b[--n]);
}

static int32_t milli(float v)
{
    return (int32_t)(v * 1000.0f + (v < 0 ? -0.5f : 0.5f));
}

static void report(const char *what, const eppg_result_t *r)
{
    put_s(what);
    put_s(" window=");
    put_i((int32_t)r->window_index);
    put_s(" hr_mbpm=");
    put_i(milli(r->hr_bpm));
    put_s(" hr_valid=");
    put_i(r->hr_valid);
    put_s(" reason=");
    put_i(r->reason);
    put_s(" rhythm=");
    put_s(eppg_class_names[r->rhythm]);
    put_s(" sqi_milli=");
    put_i(milli(r->sqi));
    put_s(" rr_milli=");
    put_i(milli(r->rr_bpm));
    put_s(" logits=");
    for (uint32_t j = 0; j < EPPG_NUM_CLASSES; j++) {
        put_i(r->logits[j]);
        example_putc(j + 1 < EPPG_NUM_CLASSES ? ',' : '\n');
    }
}

#if defined(EPPG_EXAMPLE_CMSDK_TIMER) || defined(EPPG_EXAMPLE_NRF51_TIMER)
/* QEMU builds: print the timer ticks of every eppg_push call that completed a window (preprocessing, quality
 * checks, model, decoding) and of two spin loops of exactly 2N instructions, so ticks/instruction is measured. */
#define EXAMPLE_COST 1
void example_timer_start(void);
uint32_t example_ticks(void);

static void __attribute__((noinline)) spin(uint32_t n)
{
#if defined(__ARM_ARCH_ISA_THUMB) && __ARM_ARCH_ISA_THUMB == 1 /* ARMv6-M: gcc emits divided syntax */
    __asm volatile(".syntax unified\n1: subs %0, %0, #1\n bne 1b\n.syntax divided\n" : "+l"(n) : : "cc");
#else
    __asm volatile("1: subs %0, %0, #1\n bne 1b\n" : "+l"(n) : : "cc");
#endif
}

static void calib(uint32_t n)
{
    uint32_t t0 = example_ticks();
    spin(n);
    uint32_t dt = example_ticks() - t0;
    put_s("cost calib n=");
    put_i((int32_t)n);
    put_s(" ticks=");
    put_i((int32_t)dt);
    example_putc('\n');
}
#endif

int main(void)
{
    static eppg_result_t r;
#ifdef EXAMPLE_COST
    example_timer_start();
    calib(1000);
    calib(101000);
    uint32_t t0 = 0;
#endif
    eppg_init();
    for (int rep = 0; rep < 2; rep++)
        for (uint32_t off = 0; off + 32 <= EPPG_WINDOW_SAMPLES; off += 32)
#ifdef EXAMPLE_COST
            if ((t0 = example_ticks()), eppg_push(eppg_demo_window + off, 32, &r)) {
                uint32_t dt = example_ticks() - t0;
                put_s("cost window ticks=");
                put_i((int32_t)dt);
                example_putc('\n');
#else
            if (eppg_push(eppg_demo_window + off, 32, &r)) {
#endif
                eppg_last_result = r;
                eppg_windows_done++;
                report("push", &r);
            }
    eppg_infer_float(eppg_demo_window, &r);
    eppg_last_result = r;
    report("window", &r);
    put_s("done\n");
    example_exit(0);
    return 0;
}
