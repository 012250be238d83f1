/* qemu-m33: QEMU mps2-an505 (Cortex-M33, runs in the Secure state after reset), so the peripherals
 * are used through their Secure aliases (address bit 28 set). UART0 + IoTKit TIMER0 (CMSDK, 20 MHz). */
#include "cortexm.h"
#include "port.h"

#define UART0 0x50200000u
#define TIMER0 0x50000000u
#include "../cortexm/cmsdk.h"

const char port_name[] = "qemu-m33";
const char port_timer_unit[] = "ticks";
const uint32_t port_timer_hz = 20000000u; /* an505 SYSCLK; `calib%` measures ticks/instruction anyway */
