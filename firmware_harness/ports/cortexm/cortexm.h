/* Shared Cortex-M definitions: core registers, semihosting, stack painting. */
#ifndef EPPG_CORTEXM_H
#define EPPG_CORTEXM_H

#include <stdint.h>

#define REG32(a) (*(volatile uint32_t *)(a))
#define SCB_CPACR REG32(0xE000ED88u)
#define DEMCR REG32(0xE000EDFCu)
#define DWT_CTRL REG32(0xE0001000u)
#define DWT_CYCCNT REG32(0xE0001004u)
#define DWT_LAR REG32(0xE0001FB0u)
#define SYST_CSR REG32(0xE000E010u)
#define SYST_RVR REG32(0xE000E014u)
#define SYST_CVR REG32(0xE000E018u)

#define EPPG_STACK_PATTERN 0xA5A5A5A5u

void eppg_stack_paint(void);
uint32_t eppg_stack_used(void);
uint32_t eppg_stack_reserved(void);

/* ARM semihosting (bkpt 0xAB): works under QEMU -semihosting and on boards with a debug probe. */
int eppg_semihost_getchar(void);
void eppg_semihost_putchar(int c);
__attribute__((noreturn)) void eppg_semihost_exit(int code);
/* Ports implement this: report a fault and stop (exit code 3 fault, 4 unexpected interrupt). */
__attribute__((noreturn)) void eppg_fault_exit(int code);

static inline void eppg_cpsid(void) { __asm volatile("cpsid i" ::: "memory"); }
static inline void eppg_cpsie(void) { __asm volatile("cpsie i" ::: "memory"); }

#endif
