/* Bare-metal Cortex-M start-up shared by all ARM ports: vector table, .data/.bss init, FPU enable,
 * stack painting (for the high-water mark), then main(). */
#include <stdint.h>

#include "cortexm.h"

extern uint32_t __data_load__, __data_start__, __data_end__, __bss_start__, __bss_end__;
extern uint32_t __StackLimit, __StackTop;
extern int main(void);

void Reset_Handler(void);
void Fault_Handler(void);
void Default_Handler(void);

__attribute__((section(".isr_vector"), used)) void (*const eppg_vectors[16])(void) = {
    (void (*)(void))(&__StackTop),
    Reset_Handler,
    Default_Handler, /* NMI */
    Fault_Handler,   /* HardFault */
    Fault_Handler,   /* MemManage */
    Fault_Handler,   /* BusFault */
    Fault_Handler,   /* UsageFault */
    Fault_Handler,   /* SecureFault (v8-M) */
    0, 0, 0,
    Default_Handler, /* SVCall */
    Default_Handler, /* DebugMon */
    0,
    Default_Handler, /* PendSV */
    Default_Handler, /* SysTick */
};

__attribute__((noreturn, naked)) void Reset_Handler(void)
{
    /* naked + explicit SP: the C below may not rely on a stack frame set up before .data exists */
    __asm volatile("ldr sp, =__StackTop\n b eppg_reset_c\n");
}

__attribute__((noreturn, used)) void eppg_reset_c(void)
{
    uint32_t *src = &__data_load__, *dst = &__data_start__;
    while (dst < &__data_end__) *dst++ = *src++;
    for (dst = &__bss_start__; dst < &__bss_end__; dst++) *dst = 0;
#if defined(__ARM_FP)
    SCB_CPACR |= (0xFu << 20); /* CP10/CP11 full access: MEAN and libm may touch the FPU */
    __asm volatile("dsb\n isb\n");
#endif
    eppg_stack_paint();
    main();
    for (;;) {
    }
}

/* Fill the unused stack with a pattern; eppg_stack_used() finds the lowest word that changed. */
void eppg_stack_paint(void)
{
    uint32_t sp;
    __asm volatile("mov %0, sp" : "=r"(sp));
    for (uint32_t *p = &__StackLimit; (uint32_t)p < sp - 64u; p++) *p = EPPG_STACK_PATTERN;
}

uint32_t eppg_stack_used(void)
{
    const uint32_t *p = &__StackLimit;
    while (p < &__StackTop && *p == EPPG_STACK_PATTERN) p++;
    return (uint32_t)((uintptr_t)&__StackTop - (uintptr_t)p);
}

uint32_t eppg_stack_reserved(void)
{
    return (uint32_t)((uintptr_t)&__StackTop - (uintptr_t)&__StackLimit);
}

void Default_Handler(void)
{
    eppg_fault_exit(4);
}

void Fault_Handler(void)
{
    eppg_fault_exit(3);
}
