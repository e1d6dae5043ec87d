"""kmc-ald: lattice kinetic Monte Carlo of atomic layer deposition.

Import cost matters (``kmc-ald --help`` must answer at once), so this package imports its heavy
parts (numba, h5py, ase) lazily: ``kmc_ald.Simulation`` and friends load on first use.
"""
from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"


def _numba_cache_where_writable() -> None:
    """Point numba's kernel cache at a writable folder when the package's own is not (an
    install in a read-only image or a shared prefix): numba refuses to define a cached
    function it has nowhere to cache, so kmc-ald would not even import there."""
    import os
    import tempfile
    from pathlib import Path

    if "NUMBA_CACHE_DIR" in os.environ:
        return
    cache = Path(__file__).parent / "engine" / "__pycache__"
    if os.access(cache if cache.exists() else cache.parent, os.W_OK):
        return
    home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    for folder in (home / "kmc-ald" / "numba",
                   Path(tempfile.gettempdir()) / f"kmc-ald-numba-{os.getuid()}"):
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(folder, os.W_OK):
            os.environ["NUMBA_CACHE_DIR"] = str(folder)
            return


_numba_cache_where_writable()

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
