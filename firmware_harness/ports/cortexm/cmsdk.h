/* CMSDK APB UART + timer driver shared by the QEMU MPS2 ports; include after defining UART0/TIMER0. */
#ifndef EPPG_CMSDK_H
#define EPPG_CMSDK_H

#define UART_DATA REG32(UART0 + 0x0u)
#define UART_STATE REG32(UART0 + 0x4u) /* bit0 TX full, bit1 RX full */
#define UART_CTRL REG32(UART0 + 0x8u)  /* bit0 TX enable, bit1 RX enable */
#define UART_BAUDDIV REG32(UART0 + 0x10u)
#define TIMER_CTRL REG32(TIMER0 + 0x0u)
#define TIMER_VALUE REG32(TIMER0 + 0x4u)
#define TIMER_RELOAD REG32(TIMER0 + 0x8u)

void port_init(void)
{
    UART_BAUDDIV = 16; /* smallest divider QEMU accepts; the rate itself is not modelled */
    UART_CTRL = 0x3;
    TIMER_CTRL = 0;
    TIMER_RELOAD = 0xFFFFFFFFu;
    TIMER_VALUE = 0xFFFFFFFFu;
    TIMER_CTRL = 0x1; /* enable, no interrupt, internal clock */
}

int port_getchar(void)
{
    while (!(UART_STATE & 0x2u)) {
    }
    return (int)(UART_DATA & 0xFFu);
}

void port_putchar(int c)
{
    while (UART_STATE & 0x1u) {
    }
    UART_DATA = (uint32_t)(c & 0xFF);
}

uint32_t port_timestamp(void)
{
    return 0xFFFFFFFFu - TIMER_VALUE; /* down-counter -> up-counter */
}

void port_irq_disable(void) { eppg_cpsid(); }
void port_irq_enable(void) { eppg_cpsie(); }
uint32_t port_stack_used(void) { return eppg_stack_used(); }
uint32_t port_stack_size(void) { return eppg_stack_reserved(); }
void port_exit(int code) { eppg_semihost_exit(code); }

void eppg_fault_exit(int code)
{
    static const char msg[] = "\r\ne-[fault]\r\n";
    for (const char *s = msg; *s; s++) port_putchar(*s);
    eppg_semihost_exit(code);
}

#endif
