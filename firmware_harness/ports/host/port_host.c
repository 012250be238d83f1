/* Host port: stdin/stdout, CLOCK_MONOTONIC nanoseconds (wall time, not cycles). */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "port.h"

const char port_name[] = "host";
const char port_timer_unit[] = "ns";
const uint32_t port_timer_hz = 1000000000u;

/* EPPG_HOST_FAKE_TICK=N (tests): every timestamp read advances by exactly N, so sums past 2^32 are testable */
static uint32_t fake_tick, fake_now;

void port_init(void)
{
    const char *f = getenv("EPPG_HOST_FAKE_TICK");
    fake_tick = f ? (uint32_t)strtoul(f, NULL, 10) : 0;
    setvbuf(stdout, NULL, _IOFBF, 1 << 14); /* flushed at each prompt in port_getchar */
}

int port_getchar(void)
{
    fflush(stdout); /* the driver waits for our answer before sending more */
    int c = getchar();
    return c == EOF ? -1 : c;
}

void port_putchar(int c) { putchar(c); }

uint32_t port_timestamp(void)
{
    if (fake_tick) return fake_now += fake_tick;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint32_t)((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
}

void port_irq_disable(void) {}
void port_irq_enable(void) {}
uint32_t port_stack_used(void) { return 0; }
uint32_t port_stack_size(void) { return 0; }

void port_exit(int code)
{
    fflush(stdout);
    exit(code);
}
