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


BACKENDS = ["numba", "host_shim", "host_shim_reversed", "cupy"]


def _backend_factory(name: str, cpu: str, gpu: str, shim: str):
    """A factory of the named backend classes (kmc_ald.engine.backends.cpu.<cpu>, .gpu.<gpu>,
    tests.support.hostshim.<shim>), or a skip where the GPU is asked for and absent."""
    import importlib

    from kmc_ald.engine.backends import base
    if name == "cupy":
        reason = base.gpu_unavailable_reason()
        if reason is not None:
            pytest.skip(f"no GPU: {reason}")
        return getattr(importlib.import_module("kmc_ald.engine.backends.gpu"), gpu)
    if name == "numba":
        return getattr(importlib.import_module("kmc_ald.engine.backends.cpu"), cpu)
    shim_class = getattr(importlib.import_module("tests.support.hostshim"), shim)

    def factory():
        return shim_class(reverse=name.endswith("reversed"))
    return factory


@pytest.fixture(params=BACKENDS)
def backend(request, monkeypatch):
    """Each backend of the parallel solver in turn, as a factory of fresh instances: the numba
    twin, kernels/sweep.cu through the host shim (work items forwards and reversed), and CuPy
    where a GPU is present. Simulations built in the test get it too (``select_backend`` is
    patched), so one test body checks every backend."""
    from kmc_ald.engine.backends import base
    factory = _backend_factory(request.param, "NumbaBackend", "CupyBackend", "HostShimBackend")
    monkeypatch.setattr(base, "select_backend", lambda choice: factory())
    return factory


@pytest.fixture(params=BACKENDS)
def ensemble_backend(request, monkeypatch):
    """Each backend of the ensemble solver in turn, as a factory: the numba threads,
    kernels/ensemble.cu through the host shim (replicas forwards and reversed), and CuPy where a
    GPU is present. Simulations built in the test get it too (``select_ensemble_backend`` is
    patched)."""
    from kmc_ald.engine.backends import base
    factory = _backend_factory(request.param, "NumbaEnsemble", "CupyEnsemble",
                               "HostShimEnsemble")
    monkeypatch.setattr(base, "select_ensemble_backend", lambda choice: factory)
    return factory
