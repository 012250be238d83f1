/* qemu-m4: QEMU mps2-an386 (Cortex-M4F). I/O on CMSDK UART0; timing from CMSDK TIMER0 (25 MHz).
 * Under `-icount shift=N` every instruction advances virtual time by 2^N ns, so timer ticks convert
 * exactly into instructions: instructions = ticks * (1e9 / 25e6) / 2^N. */
#include "cortexm.h"
#include "port.h"

#define UART0 0x40004000u
#define TIMER0 0x40000000u
#include "../cortexm/cmsdk.h"

const char port_name[] = "qemu-m4";
const char port_timer_unit[] = "ticks";
const uint32_t port_timer_hz = 25000000u;
