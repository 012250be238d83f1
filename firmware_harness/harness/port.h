/* The tiny per-board port API (MLPerf Tiny style): everything board-specific the harness needs. */
#ifndef EPPG_PORT_H
#define EPPG_PORT_H

#include <stdint.h>

extern const char port_name[];        /* e.g. "qemu-m4" */
extern const char port_timer_unit[];  /* what port_timestamp() counts: "ns", "ticks", "cycles" */
extern const uint32_t port_timer_hz;  /* counts per second (0 when not meaningful) */

void port_init(void);
int port_getchar(void);               /* next input byte, blocking; -1 when the stream has ended */
void port_putchar(int c);
uint32_t port_timestamp(void);        /* free-running, counts up, wraps modulo 2^32 */
void port_irq_disable(void);          /* bracket the measured region */
void port_irq_enable(void);
uint32_t port_stack_used(void);       /* stack high-water in bytes from painting; 0 if unknown */
uint32_t port_stack_size(void);       /* reserved stack in bytes; 0 if unknown */
void port_exit(int code);             /* leave the emulator / process; loops forever on real boards */

#endif
