"""GPU tests: skipped with the reason when no device can run them.

Set KMC_ALD_REQUIRE_GPU=1 on GPU machines: there a skip would hide a broken install, so it fails.
"""
import os

import pytest

from kmc_ald.engine.backends.base import gpu_unavailable_reason

_REASON = gpu_unavailable_reason()


@pytest.fixture(autouse=True)
def _gpu_or_skip():
    if _REASON is None:
        return
    if os.environ.get("KMC_ALD_REQUIRE_GPU") == "1":
        pytest.fail(f"KMC_ALD_REQUIRE_GPU=1 but the GPU backend cannot run: {_REASON}")
    pytest.skip(f"no GPU: {_REASON}")
