// Philox4x32-10 (Salmon, Moraes, Dror & Shaw, SC'11; the Random123 library), written with the
// KMC_* vocabulary only, so it compiles under NVRTC, nvcc and g++ and gives the same words.
// Mirrored by kmc_ald/engine/rng.py; both are checked against the Random123 known answers.
#pragma once

struct kmc_u32x4 {
    uint32_t x, y, z, w;
};

KMC_DEVICE kmc_u32x4 kmc_philox4x32_10(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3,
                                       uint32_t k0, uint32_t k1)
{
    for (int r = 0; r < 10; ++r) {
        if (r > 0) {
            k0 += 0x9E3779B9u;
            k1 += 0xBB67AE85u;
        }
        const uint32_t hi0 = KMC_MULHI32(0xD2511F53u, c0), lo0 = 0xD2511F53u * c0;
        const uint32_t hi1 = KMC_MULHI32(0xCD9E8D57u, c2), lo1 = 0xCD9E8D57u * c2;
        const uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
        c0 = n0;
        c1 = lo1;
        c2 = n2;
        c3 = lo0;
    }
    kmc_u32x4 out = {c0, c1, c2, c3};
    return out;
}

// Two 32-bit words -> a double in [0, 1) with 53 random bits (kmc_ald.engine.rng.unit_interval).
KMC_DEVICE double kmc_unit_interval(uint32_t hi, uint32_t lo)
{
    return (double)((uint64_t)(hi >> 5) * 67108864ull + (uint64_t)(lo >> 6))
           / 9007199254740992.0;
}

// -ln(1 - U) for U = kmc_unit_interval(hi, lo), with frexp, +, -, *, / only, in the order of
// kmc_ald.engine.rng.exponential (see there), so that CUDA and the CPU give the same double.
// Compiled without FMA contraction (NVRTC --fmad=false, g++ -ffp-contract=off).
KMC_DEVICE double kmc_exponential(uint32_t hi, uint32_t lo)
{
    const uint64_t j = (uint64_t)(hi >> 5) * 67108864ull + (uint64_t)(lo >> 6);
    int e = 0;
    double m = KMC_FREXP((double)(9007199254740992ull - j), &e);
    if (m < 0.70710678118654752440) {
        m = m * 2.0;
        e -= 1;
    }
    const double s = (m - 1.0) / (m + 1.0);
    const double s2 = s * s;
    double r = 1.0 / 23.0;
    for (int k = 21; k > 1; k -= 2) r = r * s2 + 1.0 / (double)k;
    const double half_log_m = s + s * (s2 * r);
    const double kk = (double)(53 - e);
    return kk * 6.93147180369123816490e-01 + (kk * 1.90821492927058770002e-10 - 2.0 * half_log_m);
}
