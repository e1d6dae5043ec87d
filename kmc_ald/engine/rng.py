"""Counter-based random numbers: Philox4x32-10 (Salmon et al., SC'11; Random123).

A draw is a pure function of (key, counter): key = the run's 64-bit seed, counter = (draw index
low word, draw index high word, sub-stream, stream id). So the whole random state of a run is one
integer (how many draws it has consumed): a checkpoint stores that integer and a resumed run
continues bit-identically, without replaying anything. Stream ids keep independent uses of the
generator apart; they are listed here only.

numba and NumPy differ in integer promotion, so every operand below is an explicit uint64 and
every product is masked to 32 bits.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

# Stream ids: the fourth counter word. Mirrored in kernels/kmc_ald/streams.cuh (a test checks).
STREAM_EXACT = 1  # event selection and waiting times of the exact solver
STREAM_SWEEP = 2  # parallel solver: candidate j of a domain uses STREAM_SWEEP + 256 j
STREAM_SWEEP_START = 3  # parallel solver: the first gap of four domains per block

_M32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)
_PM0, _PM1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
_W0, _W1 = np.uint64(0x9E3779B9), np.uint64(0xBB67AE85)
_TWO53 = 9007199254740992.0
_TWO26 = np.uint64(67108864)


@njit(cache=True, nogil=True, inline="always")
def philox4x32_10(c0, c1, c2, c3, k0, k1):
    """Philox4x32 with 10 rounds: four 32-bit counter words and a two-word key -> four words."""
    c0 = np.uint64(c0)
    c1 = np.uint64(c1)
    c2 = np.uint64(c2)
    c3 = np.uint64(c3)
    k0 = np.uint64(k0)
    k1 = np.uint64(k1)
    for r in range(10):
        if r > 0:
            k0 = (k0 + _W0) & _M32
            k1 = (k1 + _W1) & _M32
        p0 = _PM0 * c0
        p1 = _PM1 * c2
        c0, c1, c2, c3 = (p1 >> _S32) ^ c1 ^ k0, p1 & _M32, (p0 >> _S32) ^ c3 ^ k1, p0 & _M32
    return c0, c1, c2, c3


@njit(cache=True, nogil=True, inline="always")
def draw(index, sub, stream, k0, k1):
    """Four random words for draw number ``index`` (int64) of a sub-stream of a stream."""
    c = np.uint64(index)
    return philox4x32_10(c & _M32, c >> _S32, sub, stream, k0, k1)


@njit(cache=True, nogil=True, inline="always")
def unit_interval(hi, lo):
    """Two 32-bit words -> a double in [0, 1) with 53 random bits."""
    return float((np.uint64(hi) >> np.uint64(5)) * _TWO26 + (np.uint64(lo) >> np.uint64(6))) / _TWO53


_LN2_HI = 6.93147180369123816490e-01  # ln 2 to 32 bits: k * _LN2_HI is exact for |k| < 2^21
_LN2_LO = 1.90821492927058770002e-10  # ln 2 - _LN2_HI
_SQRT_HALF = 0.70710678118654752440


@njit(cache=True, nogil=True, inline="always")
def exponential(hi, lo):
    """-ln(1 - U) for U = unit_interval(hi, lo): a unit exponential waiting time.

    Written with frexp, +, -, * and / only, in an order that kernels/kmc_ald/philox.cuh repeats,
    so that CUDA and the CPU give the same double (a library log differs between the two in the
    last bit now and then). 1 - U = N / 2^53 with N an integer in [1, 2^53], so
    -ln(1 - U) = (53 - e) ln 2 - ln m for N = m 2^e, m in [1/sqrt 2, sqrt 2), and
    ln m = 2 atanh(s), s = (m - 1) / (m + 1), |s| < 0.172, summed to s^23 (error < 1e-19 of s).
    """
    j = (np.uint64(hi) >> np.uint64(5)) * _TWO26 + (np.uint64(lo) >> np.uint64(6))
    m, e = math.frexp(float(np.uint64(9007199254740992) - j))
    if m < _SQRT_HALF:
        m = m * 2.0
        e -= 1
    s = (m - 1.0) / (m + 1.0)
    s2 = s * s
    r = 1.0 / 23.0
    for k in range(21, 1, -2):
        r = r * s2 + 1.0 / k
    half_log_m = s + s * (s2 * r)
    k = float(53 - e)
    return k * _LN2_HI + (k * _LN2_LO - 2.0 * half_log_m)


def split_seed(seed: int) -> tuple[int, int]:
    """The Philox key (low word, high word) of a 64-bit seed."""
    seed = int(seed)
    if not 0 <= seed < 2**64:
        raise ValueError(f"seed must lie in [0, 2**64), got {seed}")
    return seed & 0xFFFFFFFF, seed >> 32
