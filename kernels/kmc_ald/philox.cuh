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
