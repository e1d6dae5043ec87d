"""Philox4x32-10 against the Random123 known-answer vectors (kat_vectors, 'philox4x32 10')."""
import numpy as np
import pytest

from kmc_ald.engine.rng import philox4x32_10, split_seed, unit_interval

KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


@pytest.mark.parametrize("compiled", [True, False], ids=["numba", "python"])
@pytest.mark.parametrize(("counter", "key", "expected"), KAT)
def test_philox4x32_10_matches_random123(compiled, counter, key, expected):
    fn = philox4x32_10 if compiled else philox4x32_10.py_func
    assert tuple(int(x) for x in fn(*counter, *key)) == expected


def test_unit_interval_spans_zero_to_one_exclusive():
    assert unit_interval(0, 0) == 0.0
    top = unit_interval(0xFFFFFFFF, 0xFFFFFFFF)
    assert top < 1.0 and top == 1.0 - 2.0**-53


def test_split_seed_round_trips_and_rejects_out_of_range():
    lo, hi = split_seed(2**40 + 7)
    assert (hi << 32) | lo == 2**40 + 7
    with pytest.raises(ValueError, match="seed must lie in"):
        split_seed(-1)


def test_uniforms_are_uniform():
    """Mean and variance of 2**16 draws within 5 standard errors of U(0,1)."""
    u = np.array([unit_interval(*philox4x32_10(i, 0, 0, 1, 12345, 0)[:2]) for i in range(1 << 16)])
    n = u.size
    assert abs(u.mean() - 0.5) < 5 * np.sqrt(1 / 12 / n)
    assert abs(u.var() - 1 / 12) < 5 * np.sqrt(1 / 180 / n)
