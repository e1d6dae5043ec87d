// Prelude for the host shim: the same kernel sources compiled by g++ and run on the CPU.
// One "thread" runs every grid-stride iteration in order, so a kernel is a plain serial loop;
// kernels are conflict-free by construction, so order must not matter: kmc_shim_set_reverse(1)
// makes KMC_WORK_ITEM run the work items backwards, and tests compare both orders.
#pragma once
#include <stdint.h>

#define KMC_KERNEL extern "C"
#define KMC_DEVICE static inline
#define KMC_RESTRICT __restrict__
#define KMC_GLOBAL_ID ((int64_t)0)
#define KMC_GLOBAL_SIZE ((int64_t)1)
static int kmc_shim_reverse = 0;
extern "C" void kmc_shim_set_reverse(int on) { kmc_shim_reverse = on; }
#define KMC_WORK_ITEM(it, n) (kmc_shim_reverse ? (n) - 1 - (it) : (it))
#define KMC_ATOMIC_ADD_U64(ptr, value) (*(ptr) += (uint64_t)(value))
#define KMC_MULHI32(a, b) ((uint32_t)(((uint64_t)(a) * (uint64_t)(b)) >> 32))
#define KMC_FREXP(x, e) __builtin_frexp((x), (e))
