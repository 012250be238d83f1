/* generic-cm: any Cortex-M3/M4/M7/M33 board. Timing from DWT CYCCNT (real core cycles); I/O through
 * semihosting by default (works with a debug probe). Boards with a UART override the weak
 * port_getchar/port_putchar/port_init with their driver. Built here for nRF52840; runs only on hardware. */
#include "cortexm.h"
#include "port.h"

const char port_name[] = "generic-cm";
const char port_timer_unit[] = "cycles";
#ifndef EPPG_CORE_HZ
#define EPPG_CORE_HZ 64000000u /* nRF52840 */
#endif
const uint32_t port_timer_hz = EPPG_CORE_HZ;

__attribute__((weak)) void port_board_init(void) {}

__attribute__((weak)) void port_init(void)
{
    DEMCR |= (1u << 24);   /* TRCENA: power the DWT */
    DWT_LAR = 0xC5ACCE55u; /* unlock on cores that have the lock (M7); ignored elsewhere */
    DWT_CYCCNT = 0;
    DWT_CTRL |= 1u;        /* CYCCNTENA */
    port_board_init();
}

__attribute__((weak)) int port_getchar(void) { return eppg_semihost_getchar(); }
__attribute__((weak)) void port_putchar(int c) { eppg_semihost_putchar(c); }

uint32_t port_timestamp(void) { return DWT_CYCCNT; }
void port_irq_disable(void) { eppg_cpsid(); }
void port_irq_enable(void) { eppg_cpsie(); }
uint32_t port_stack_used(void) { return eppg_stack_used(); }
uint32_t port_stack_size(void) { return eppg_stack_reserved(); }

void port_exit(int code)
{
    (void)code;
    for (;;) { /* nowhere to return to on a board; the host side reads "m-bye" */
    }
}

void eppg_fault_exit(int code)
{
    static const char msg[] = "\r\ne-[fault]\r\n";
    for (const char *s = msg; *s; s++) port_putchar(*s);
    (void)code;
    for (;;) {
    }
}
