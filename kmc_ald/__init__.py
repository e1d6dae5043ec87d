"""kmc-ald: lattice kinetic Monte Carlo of atomic layer deposition.

Import cost matters (``kmc-ald --help`` must answer at once), so this package imports its heavy
parts (numba, h5py, ase) lazily: ``kmc_ald.Simulation`` and friends load on first use.
"""
from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "load_scenario": "kmc_ald.scenario.load",
    "loads_scenario": "kmc_ald.scenario.load",
    "Scenario": "kmc_ald.scenario.schema",
    "Lattice": "kmc_ald.surfaces.lattice",
    "Simulation": "kmc_ald.simulation",
    "compile_scenario": "kmc_ald.model.compile",
    "Observer": "kmc_ald.engine.recipe",
    "read_run": "kmc_ald.io.runfile",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'kmc_ald' has no attribute {name!r}")
