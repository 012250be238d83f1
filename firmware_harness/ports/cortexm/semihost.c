#include "cortexm.h"

#define SYS_WRITEC 0x03
#define SYS_READC 0x07
#define SYS_EXIT 0x18
#define SYS_EXIT_EXTENDED 0x20
#define ADP_STOPPED_APPLICATION_EXIT 0x20026

static int semihost(int op, void *arg)
{
    register int r0 __asm("r0") = op;
    register void *r1 __asm("r1") = arg;
    __asm volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

int eppg_semihost_getchar(void) { return semihost(SYS_READC, 0); }

void eppg_semihost_putchar(int c)
{
    char ch = (char)c;
    semihost(SYS_WRITEC, &ch);
}

void eppg_semihost_exit(int code)
{
    /* EXIT_EXTENDED carries the status: QEMU exits with it, so a fault is visible to the driver */
    uint32_t block[2] = {ADP_STOPPED_APPLICATION_EXIT, (uint32_t)code};
    semihost(SYS_EXIT_EXTENDED, block);
    semihost(SYS_EXIT, (void *)ADP_STOPPED_APPLICATION_EXIT);
    for (;;) {
    }
}
