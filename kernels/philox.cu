// Fill an array with Philox words: used to check the device and host builds against the
// Random123 known answers and against the numba twin.
#include "kmc_ald/philox.cuh"

// Block i uses the counter (c0 + i, c1, c2, c3).
KMC_KERNEL void philox_fill(uint32_t* KMC_RESTRICT out, int64_t n, uint32_t c0, uint32_t c1,
                            uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1)
{
    for (int64_t i = KMC_GLOBAL_ID; i < n; i += KMC_GLOBAL_SIZE) {
        const kmc_u32x4 r = kmc_philox4x32_10(c0 + (uint32_t)i, c1, c2, c3, k0, k1);
        out[4 * i + 0] = r.x;
        out[4 * i + 1] = r.y;
        out[4 * i + 2] = r.z;
        out[4 * i + 3] = r.w;
    }
}

// Unit exponential waiting times (kmc_exponential) of word pairs: checked against the numba twin
// (kmc_ald.engine.rng.exponential), bit for bit, on the host and on a device.
KMC_KERNEL void exponential_fill(double* KMC_RESTRICT out, const uint32_t* KMC_RESTRICT words,
                                 int64_t n)
{
    for (int64_t i = KMC_GLOBAL_ID; i < n; i += KMC_GLOBAL_SIZE) {
        out[i] = kmc_exponential(words[2 * i], words[2 * i + 1]);
    }
}
