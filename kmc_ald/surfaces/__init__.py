"""Surfaces: the :class:`Lattice` and the builders of each substrate (lengths in Å)."""
from __future__ import annotations

from kmc_ald.errors import ScenarioError
from kmc_ald.scenario.schema import Scenario
from kmc_ald.surfaces.lattice import Lattice

__all__ = ["Lattice", "lattice_for"]


#: Sites of one lattice at most: site indices are int32 in the kernels.
MAX_SITES = 2**31 - 1
#: Bytes per site the tables take at least (positions, neighbours, shells, types, occupation).
BYTES_PER_SITE = 160


def _check_size(kind: str, shape: tuple[int, int], layers: int) -> None:
    """Refuse, before anything is allocated, a lattice the kernels cannot index or this machine
    cannot hold (a typo such as 1e6 x 1e6 cells would otherwise fail deep inside numpy)."""
    import os

    from kmc_ald.substrates import SUBSTRATES
    from kmc_ald.surfaces.builders import MOTIFS

    basis = len(MOTIFS[SUBSTRATES[kind].motif].basis)
    sites = int(shape[0]) * int(shape[1]) * basis * layers
    if sites > MAX_SITES:
        raise ScenarioError(f"size {shape[0]} x {shape[1]} cells ({sites:,} sites with "
                            f"{layers} layer(s)) is more than the {MAX_SITES:,} sites a lattice "
                            "can have; choose a smaller substrate.size")
    try:
        free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return
    need = sites * BYTES_PER_SITE
    if need > free:
        raise ScenarioError(f"size {shape[0]} x {shape[1]} cells needs about "
                            f"{need / 2**30:.1f} GiB for the lattice tables alone, and "
                            f"{free / 2**30:.1f} GiB of memory are free; choose a smaller "
                            "substrate.size")


def lattice_for(scenario: Scenario) -> Lattice:
    """Build the scenario's substrate; site types are placed reproducibly from ``run.seed``."""
    from kmc_ald.surfaces.builders import add_stack, build_lattice, cells_for_length

    sub = scenario.substrate
    sx, sy = sub.size
    try:
        if isinstance(sx, int) and isinstance(sy, int):
            shape = (sx, sy)
        else:
            lx, ly = cells_for_length(sub.lattice, float(sx), float(sy), sub.spacing)
            shape = (sx if isinstance(sx, int) else lx, sy if isinstance(sy, int) else ly)
        _check_size(sub.lattice, shape, 1 if sub.stack is None else sub.stack.layers + 1)
        lattice = build_lattice(sub.lattice, shape, dict(sub.site_types),
                                seed=scenario.run.seed, spacing=sub.spacing)
        return lattice if sub.stack is None else add_stack(lattice, sub.stack.layers)
    except ScenarioError as err:
        raise scenario.problems([(("substrate",), None, str(err))]) from None
