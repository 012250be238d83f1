/* Fixed benchmark harness: a command loop over a serial-like byte stream.
 *
 *   name%            -> m-name-[...]
 *   profile%         -> port, timer, kernels, model facts, stack high-water
 *   db load N%       -> expect N input bytes (N <= model input size)
 *   db HHHH..%       -> append hex bytes to the input window
 *   infer N W%       -> W warm-up runs, then N timed runs (interrupts masked); prints timing + outputs
 *   results%         -> the int8 outputs of the last inference, hex, one [..] per output tensor
 *   layers%          -> one inference timed layer by layer
 *   calib N%         -> time a loop of exactly 2N instructions (Cortex-M): ticks-per-instruction check
 *   quit%            -> port_exit(0)
 * Every command ends with "m-ready"; a malformed one gets an "e-[...]" line instead of its answer. */
#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#include "model_gen.h"
#include "port.h"

#define CMD_MAX 300 /* one "db" line of 128 bytes is 3 + 256 chars */

static uint32_t db_expected, db_received;
static int have_results;
/* The loaded window lives outside the arena: the arena plan may reuse the input's bytes for a later layer
 * (op3's PAD did), so it is copied in before every run, outside the timed region. */
static int8_t window[EPPG_INPUT_BYTES];

static void load_input(void)
{
    memcpy(eppg_input(&eppg_model), window, EPPG_INPUT_BYTES);
}

/* ---- minimal printf: %s %c %d %u %U(64-bit) %x %02x; no newlib printf (flash) ---- */
static void put_str(const char *s)
{
    while (*s) port_putchar(*s++);
}

static void put_uint(uint64_t v, unsigned base, int width)
{
    char buf[24];
    int n = 0;
    do {
        buf[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    while (n < width) buf[n++] = '0';
    while (n) port_putchar(buf[--n]);
}

static void out(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            port_putchar(*fmt);
            continue;
        }
        int width = 0;
        fmt++;
        if (*fmt == '0') fmt++;
        while (*fmt >= '0' && *fmt <= '9') width = width * 10 + (*fmt++ - '0');
        switch (*fmt) {
        case 's': put_str(va_arg(ap, const char *)); break;
        case 'c': port_putchar(va_arg(ap, int)); break;
        case 'u': put_uint(va_arg(ap, uint32_t), 10, width); break;
        case 'U': put_uint(va_arg(ap, uint64_t), 10, width); break; /* 64-bit: tick sums */
        case 'x': put_uint(va_arg(ap, uint32_t), 16, width); break;
        case 'd': {
            int32_t v = va_arg(ap, int32_t);
            if (v < 0) port_putchar('-');
            put_uint(v < 0 ? (uint32_t)0 - (uint32_t)v : (uint32_t)v, 10, width);
            break;
        }
        default: port_putchar('%'); if (*fmt) port_putchar(*fmt); else fmt--; break;
        }
    }
    va_end(ap);
}

/* ---- parsing helpers ---- */
static const char *skip_ws(const char *s)
{
    while (*s == ' ' || *s == '\t') s++;
    return s;
}

/* Decimal uint32 token; returns the rest, or NULL when malformed / overflowing. */
static const char *parse_uint(const char *s, uint32_t *v)
{
    s = skip_ws(s);
    if (*s < '0' || *s > '9') return NULL;
    uint64_t x = 0;
    while (*s >= '0' && *s <= '9') {
        x = x * 10 + (uint64_t)(*s++ - '0');
        if (x > 0xffffffffu) return NULL;
    }
    *v = (uint32_t)x;
    return s;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static void print_outputs(void)
{
    out("m-results");
    for (uint32_t i = 0; i < eppg_model.num_outputs; i++) {
        const int8_t *o = eppg_output(&eppg_model, i);
        out("-[");
        for (uint32_t j = 0; j < eppg_model.output_bytes[i]; j++) out("%02x", (uint32_t)(uint8_t)o[j]);
        out("]");
    }
    out("\r\n");
#ifdef EPPG_GATE_OUTPUT
    /* quality gate: a window the model calls noise gets no HR (argmax on int8 = argmax on dequantized) */
    const int8_t *r = eppg_output(&eppg_model, EPPG_GATE_OUTPUT);
    uint32_t best = 0;
    for (uint32_t j = 1; j < eppg_model.output_bytes[EPPG_GATE_OUTPUT]; j++)
        if (r[j] > r[best]) best = j;
    out("m-gate-[class=%u hr_valid=%u]\r\n", best, (uint32_t)(best != EPPG_GATE_NOISE_CLASS));
#endif
}

/* ---- commands ---- */
static void cmd_db(const char *args)
{
    args = skip_ws(args);
    if (strncmp(args, "load", 4) == 0) {
        uint32_t n;
        const char *rest = parse_uint(args + 4, &n);
        if (!rest || *skip_ws(rest)) {
            out("e-[db load: expected a byte count]\r\n");
            return;
        }
        if (n == 0 || n > EPPG_INPUT_BYTES) {
            out("e-[db load: %u bytes does not fit the %u-byte input buffer]\r\n", n, (uint32_t)EPPG_INPUT_BYTES);
            return;
        }
        db_expected = n;
        db_received = 0;
        memset(window, 0, sizeof window);
        have_results = 0;
        out("m-[expecting %u bytes]\r\n", n);
        return;
    }
    size_t len = strlen(args);
    while (len && (args[len - 1] == ' ' || args[len - 1] == '\t')) len--;
    if (len == 0 || len % 2) {
        out("e-[db: hex payload must be a non-empty, even number of digits]\r\n");
        return;
    }
    for (size_t i = 0; i < len; i++)
        if (hexval(args[i]) < 0) {
            out("e-[db: bad hex digit at position %u]\r\n", (uint32_t)i);
            return;
        }
    if (db_expected == 0) {
        out("e-[db: no db load pending]\r\n");
        return;
    }
    if (db_received + len / 2 > db_expected) {
        out("e-[db: %u bytes exceed the %u announced by db load]\r\n", (uint32_t)(db_received + len / 2), db_expected);
        return;
    }
    int8_t *dst = window;
    for (size_t i = 0; i < len; i += 2)
        dst[db_received++] = (int8_t)(uint8_t)((hexval(args[i]) << 4) | hexval(args[i + 1]));
    if (db_received == db_expected) out("m-load-done\r\n");
}

static void cmd_infer(const char *args)
{
    uint32_t n = 1, w = 0;
    const char *s = skip_ws(args);
    if (*s) {
        s = parse_uint(s, &n);
        if (s && *skip_ws(s)) s = parse_uint(s, &w);
        if (!s || *skip_ws(s) || n == 0 || n > 100000 || w > 100000) {
            out("e-[infer: usage infer N W with 1 <= N <= 100000, 0 <= W <= 100000]\r\n");
            return;
        }
    }
    if (db_expected == 0 || db_received != db_expected) {
        out("e-[infer: no complete input window loaded (db load N, then db HH..)]\r\n");
        return;
    }
    uint64_t total = 0; /* 2^32 ticks is only ~168 M instructions under QEMU's icount timer */
    uint32_t lo = 0xffffffffu, hi = 0;
    for (uint32_t i = 0; i < w + n; i++) {
        load_input();
        /* warm-ups take the very same timed path (an emulator translates it on first use), then are dropped */
        port_irq_disable(); /* nothing but the model inside the measured region */
        uint32_t t0 = port_timestamp();
        eppg_invoke(&eppg_model);
        uint32_t dt = port_timestamp() - t0;
        port_irq_enable();
        if (i < w) continue;
        total += dt;
        lo = dt < lo ? dt : lo;
        hi = dt > hi ? dt : hi;
    }
    have_results = 1;
    out("m-lap-[runs=%u warmup=%u total=%U min=%u max=%u unit=%s]\r\n", n, w, total, lo, hi, port_timer_unit);
    print_outputs();
}

static void cmd_layers(void)
{
    if (db_expected == 0 || db_received != db_expected) {
        out("e-[layers: no complete input window loaded]\r\n");
        return;
    }
    load_input();
    for (uint32_t i = 0; i < eppg_model.num_layers; i++) {
        port_irq_disable();
        uint32_t t0 = port_timestamp();
        eppg_invoke_layer(&eppg_model, i);
        uint32_t dt = port_timestamp() - t0;
        port_irq_enable();
        out("m-layer-[%u %s %u %u]\r\n", i, eppg_model.layers[i].name, dt, eppg_model.layers[i].macs);
    }
    have_results = 1;
}

/* Exactly 2 instructions per iteration on Thumb-2 (SUBS + BNE), so timer ticks per instruction can be
 * measured instead of assumed: the driver differences two lengths to cancel the call overhead. */
static void __attribute__((noinline)) spin(uint32_t n)
{
#if defined(__arm__) && defined(__thumb2__)
    __asm volatile("1: subs %0, %0, #1\n bne 1b\n" : "+r"(n) : : "cc");
#else
    for (volatile uint32_t i = n; i; i--) {
    }
#endif
}

static void cmd_calib(const char *args)
{
    uint32_t n;
    const char *rest = parse_uint(args, &n);
    if (!rest || *skip_ws(rest) || n == 0) {
        out("e-[calib: usage calib N with N >= 1]\r\n");
        return;
    }
    port_irq_disable();
    uint32_t t0 = port_timestamp();
    spin(n);
    uint32_t dt = port_timestamp() - t0;
    port_irq_enable();
    out("m-calib-[n=%u instructions=%u ticks=%u]\r\n", n, 2 * n, dt);
}

static void dispatch(char *cmd)
{
    const char *s = skip_ws(cmd);
    size_t len = strlen(s);
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t')) cmd[(size_t)(s - cmd) + --len] = '\0';
    if (strcmp(s, "name") == 0) {
        out("m-name-[edgeppg-harness:%s]\r\n", eppg_model.name);
    } else if (strcmp(s, "profile") == 0) {
        out("m-profile-[port=%s kernels=%s timer_unit=%s timer_hz=%u]\r\n", port_name, eppg_kernels_name(),
            port_timer_unit, port_timer_hz);
        out("m-model-[name=%s macs=%u arena=%u input=%u outputs=%u layers=%u]\r\n", eppg_model.name,
            eppg_model.macs, eppg_model.arena_bytes, eppg_model.input_bytes, eppg_model.num_outputs,
            eppg_model.num_layers);
        out("m-stack-[used=%u reserved=%u]\r\n", port_stack_used(), port_stack_size());
    } else if (strncmp(s, "db", 2) == 0 && (s[2] == ' ' || s[2] == '\t')) {
        cmd_db(s + 3);
    } else if (strncmp(s, "infer", 5) == 0 && (s[5] == '\0' || s[5] == ' ' || s[5] == '\t')) {
        cmd_infer(s + 5);
    } else if (strcmp(s, "results") == 0) {
        if (have_results) print_outputs();
        else out("e-[results: no inference has run on the loaded input]\r\n");
    } else if (strncmp(s, "calib", 5) == 0 && (s[5] == ' ' || s[5] == '\t')) {
        cmd_calib(s + 5);
    } else if (strcmp(s, "layers") == 0) {
        cmd_layers();
    } else if (strcmp(s, "quit") == 0) {
        out("m-bye\r\n");
        port_exit(0);
    } else if (*s == '\0') {
        out("e-[empty command]\r\n");
    } else {
        out("e-[unknown command: ");
        for (size_t i = 0; i < len && i < 32; i++) port_putchar((s[i] >= 32 && s[i] < 127) ? s[i] : '?');
        out("]\r\n");
    }
    out("m-ready\r\n");
}

int main(void)
{
    static char cmd[CMD_MAX + 1];
    size_t len = 0;
    int overflow = 0;
    port_init();
    out("m-init-done\r\nm-ready\r\n");
    for (;;) {
        int c = port_getchar();
        if (c < 0) break; /* host: stdin closed */
        if (c == '%') {
            cmd[len] = '\0';
            if (overflow) out("e-[command longer than %u characters]\r\nm-ready\r\n", (uint32_t)CMD_MAX);
            else dispatch(cmd);
            len = 0;
            overflow = 0;
        } else if (c == '\r' || c == '\n') {
            continue; /* line breaks between commands are not part of them */
        } else if (len < CMD_MAX) {
            cmd[len++] = (char)c;
        } else {
            overflow = 1;
        }
    }
    port_exit(0);
    return 0;
}
