/* Start-up and console for the bare-metal example: vector table, .data/.bss, FPU enable, then main().
 * ARMv6-M safe (Cortex-M0+): SP is set through a low register. Console: ARM semihosting when built with
 * EPPG_EXAMPLE_CONSOLE=1 (QEMU -semihosting or a debug probe; without a probe attached semihosting halts
 * the core, so board builds default to no console and keep results in eppg_last_result). */
#include <stdint.h>

extern uint32_t __data_load__, __data_start__, __data_end__, __bss_start__, __bss_end__, __StackTop, __StackLimit;
extern int main(void);
void Reset_Handler(void);
void Fault_Handler(void);

__attribute__((section(".isr_vector"), used)) void (*const example_vectors[16])(void) = {
    (void (*)(void))(&__StackTop), Reset_Handler, Fault_Handler, Fault_Handler, Fault_Handler, Fault_Handler,
    Fault_Handler, Fault_Handler, 0, 0, 0, Fault_Handler, Fault_Handler, 0, Fault_Handler, Fault_Handler,
};

__attribute__((noreturn, naked)) void Reset_Handler(void)
{
    __asm volatile("ldr r0, =__StackTop\n mov sp, r0\n b example_reset_c\n");
}

__attribute__((noreturn, used)) void example_reset_c(void)
{
    uint32_t *src = &__data_load__, *dst = &__data_start__;
    while (dst < &__data_end__) *dst++ = *src++;
    for (dst = &__bss_start__; dst < &__bss_end__; dst++) *dst = 0;
#if defined(__ARM_FP)
    *(volatile uint32_t *)0xE000ED88u |= (0xFu << 20); /* CPACR: CP10/CP11 full access */
    __asm volatile("dsb\n isb\n");
#endif
    uint32_t sp;
    __asm volatile("mov %0, sp" : "=r"(sp));
    for (uint32_t *p = &__StackLimit; (uint32_t)p < sp - 64u; p++) *p = 0xA5A5A5A5u; /* for the high-water mark */
    main();
    for (;;) {
    }
}

/* Cost measurement under QEMU -icount (every instruction advances virtual time by 2^shift ns, so a timer
 * counts executed instructions): CMSDK TIMER0 on the MPS2 boards, the nRF51 TIMER0 on `microbit`. */
#if defined(EPPG_EXAMPLE_CMSDK_TIMER)
#define TREG(o) (*(volatile uint32_t *)(EPPG_EXAMPLE_CMSDK_TIMER + (o)))
void example_timer_start(void)
{
    TREG(0x0) = 0;
    TREG(0x8) = 0xFFFFFFFFu; /* reload */
    TREG(0x4) = 0xFFFFFFFFu; /* value */
    TREG(0x0) = 1;           /* enable, internal clock */
}
uint32_t example_ticks(void) { return 0xFFFFFFFFu - TREG(0x4); }
#elif defined(EPPG_EXAMPLE_NRF51_TIMER)
#define TREG(o) (*(volatile uint32_t *)(EPPG_EXAMPLE_NRF51_TIMER + (o)))
void example_timer_start(void)
{
    TREG(0x504) = 0; /* MODE timer */
    TREG(0x508) = 3; /* BITMODE 32 */
    TREG(0x510) = 0; /* PRESCALER: 16 MHz */
    TREG(0x000) = 1; /* TASKS_START */
}
uint32_t example_ticks(void)
{
    TREG(0x040) = 1; /* TASKS_CAPTURE[0] */
    return TREG(0x540); /* CC[0] */
}
#endif

#if EPPG_EXAMPLE_CONSOLE
static int semihost(int op, void *arg)
{
    register int r0 __asm("r0") = op;
    register void *r1 __asm("r1") = arg;
    __asm volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void example_putc(int c)
{
    char ch = (char)c;
    semihost(0x03, &ch); /* SYS_WRITEC */
}

/* Stack high-water: the lowest painted word that changed (the console prints it last, on ARM only). */
static uint32_t stack_used(void)
{
    const uint32_t *p = &__StackLimit;
    while (p < &__StackTop && *p == 0xA5A5A5A5u) p++;
    return (uint32_t)((uintptr_t)&__StackTop - (uintptr_t)p);
}

void example_exit(int code)
{
    char line[24] = "stack_used=", *e = line + 11, tmp[11];
    uint32_t v = stack_used(), n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n) *e++ = tmp[--n];
    *e++ = '\n';
    *e = 0;
    for (const char *c = line; *c; c++) example_putc(*c);
    uint32_t block[2] = {0x20026u, (uint32_t)code}; /* SYS_EXIT_EXTENDED: QEMU exits with the status */
    semihost(0x20, block);
    for (;;) {
    }
}
#else
void example_putc(int c) { (void)c; }
void example_exit(int code)
{
    (void)code;
    for (;;) __asm volatile("wfi");
}
#endif

void Fault_Handler(void)
{
    example_exit(3);
}
