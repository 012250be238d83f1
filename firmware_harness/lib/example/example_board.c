/* Start-up and console for the bare-metal example: vector table, .data/.bss, FPU enable, then main().
 * ARMv6-M safe (Cortex-M0+): SP is set through a low register. Console: ARM semihosting when built with
 * EPPG_EXAMPLE_CONSOLE=1 (QEMU -semihosting or a debug probe; without a probe attached semihosting halts
 * the core, so board builds default to no console and keep results in eppg_last_result). */
#include <stdint.h>

extern uint32_t __data_load__, __data_start__, __data_end__, __bss_start__, __bss_end__, __StackTop;
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
    main();
    for (;;) {
    }
}

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

void example_exit(int code)
{
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
