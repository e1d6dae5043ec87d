"""Where files shipped with kmc-ald live: bundled scenarios and the CUDA kernel sources.

In an installed wheel they sit inside the package (``kmc_ald/scenarios``); in a source checkout
they are the repository's top-level folders. This module is the only place that knows.
"""
from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _find(name: str) -> Path:
    inside = _PACKAGE / name
    return inside if inside.is_dir() else _PACKAGE.parent / name


def kernel_dir() -> Path:
    """The kernel sources (``*.cu``, and shared headers under ``kmc_ald/``)."""
    return _find("kernels")


def scenario_dir() -> Path:
    return _find("scenarios")


def bundled_scenarios() -> dict[str, Path]:
    """Bundled scenario files by name (file stem)."""
    return {p.stem: p for p in sorted(scenario_dir().glob("*.yaml"))}


def resolve_scenario(name_or_path: str | Path) -> Path:
    """A path as given if it exists; else, for a bare name without a folder (``langmuir`` or
    ``langmuir.yaml``), the bundled scenario of that name. A path with a folder is returned as
    given, so that a mistyped path is an error, never another scenario of the same name."""
    path = Path(name_or_path)
    if path.exists() or path.parent != Path("."):
        return path
    name = path.stem if path.suffix in (".yaml", ".yml") else str(path)
    return bundled_scenarios().get(name, path)
