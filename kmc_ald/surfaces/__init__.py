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
    if sub.from_ is not None:
        return _structure_lattice(scenario)
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


def _structure_lattice(scenario: Scenario) -> Lattice:
    """The lattice of ``substrate.from``; a problem is located at the option it concerns."""
    from pathlib import Path

    from kmc_ald.surfaces.structure import (
        SPPARKS,
        StructureError,
        is_spparks_sites,
        read_structure,
    )

    sub = scenario.substrate
    path = Path(sub.from_).expanduser()
    try:
        spparks = sub.format == SPPARKS or (sub.format is None and is_spparks_sites(path))
        options: dict = {"kind_names": dict(sub.kind_names) or None, "surface": sub.surface}
        if spparks:
            for key in ("sites", "cutoff"):
                if getattr(sub, key) is not None:
                    raise StructureError(key, f"{path} is a SPPARKS site file, which lists "
                                              "every site and its neighbours; remove it")
            if sub.positions_only is not None:
                raise StructureError("positions_only", f"{path} is a SPPARKS site file, whose "
                                                       "sites have no atoms; remove it")
            options.update(site_kinds=sub.site_kinds or "i1", box=sub.box)
            return read_structure(path, SPPARKS, **options)
        if sub.box is not None:
            raise StructureError("box", "it rescales a SPPARKS site file; a structure ASE reads "
                                        "has its own cell")
        if sub.cutoff is None:
            raise StructureError("cutoff", "a structure ASE reads needs the nearest-neighbour "
                                           "distance cutoff of its sites (e.g. 3.0 Å, or "
                                           "{Hf-O: 2.6 Å})")
        options.update(cutoff=sub.cutoff, sites=sub.sites, site_kinds=sub.site_kinds or "element",
                       positions_only=sub.positions_only)
        return read_structure(path, sub.format, **options)
    except StructureError as err:
        raise scenario.problems([(("substrate", err.option), getattr(sub, err.option),
                                  err.detail)]) from None
    except ScenarioError as err:  # the file itself
        raise scenario.problems([(("substrate", "from"), sub.from_, str(err))]) from None
