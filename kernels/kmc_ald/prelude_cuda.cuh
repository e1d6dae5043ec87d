// Prelude for CUDA (NVRTC through CuPy, or nvcc). NVRTC compiles without the host's system
// headers, so there the fixed-width integer types are defined here; nvcc has them already.
// Kernels themselves include no system header.
#pragma once
#if defined(__CUDACC_RTC__)
typedef unsigned char uint8_t;
typedef int int32_t;
typedef unsigned int uint32_t;
typedef long long int64_t;
typedef unsigned long long uint64_t;
#else
#include <stdint.h>
#endif

#define KMC_KERNEL extern "C" __global__
#define KMC_DEVICE __device__ __forceinline__
#define KMC_RESTRICT __restrict__
#define KMC_GLOBAL_ID ((int64_t)blockIdx.x * blockDim.x + threadIdx.x)
#define KMC_GLOBAL_SIZE ((int64_t)gridDim.x * blockDim.x)
#define KMC_WORK_ITEM(it, n) (it)
#define KMC_ATOMIC_ADD_U64(ptr, value) atomicAdd((unsigned long long*)(ptr), (unsigned long long)(value))
#define KMC_MULHI32(a, b) __umulhi((a), (b))
#define KMC_FREXP(x, e) frexp((x), (e))
