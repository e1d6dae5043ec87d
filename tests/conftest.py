"""Shared fixtures; the report header says which backends this run could exercise."""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"


def pytest_report_header(config):
    import numba

    from kmc_ald.engine.backends.base import gpu_unavailable_reason
    reason = gpu_unavailable_reason()
    return (f"kmc_ald backends: cpu (numba {numba.__version__}); "
            f"gpu: {'available' if reason is None else 'skipped, ' + reason}")


@pytest.fixture
def scenario_text():
    """Text of a bundled scenario by name."""
    return lambda name: (SCENARIOS / f"{name}.yaml").read_text()
