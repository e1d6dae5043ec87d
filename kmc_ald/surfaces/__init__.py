"""Surfaces: the :class:`Lattice` and the builders of each substrate (lengths in Å)."""
from __future__ import annotations

from kmc_ald.errors import ScenarioError
from kmc_ald.scenario.schema import Scenario
from kmc_ald.surfaces.lattice import Lattice

__all__ = ["Lattice", "lattice_for"]


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
        lattice = build_lattice(sub.lattice, shape, dict(sub.site_types),
                                seed=scenario.run.seed, spacing=sub.spacing)
        return lattice if sub.stack is None else add_stack(lattice, sub.stack.layers)
    except ScenarioError as err:
        raise scenario.problems([(("substrate",), None, str(err))]) from None
