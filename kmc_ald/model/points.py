"""Parameter points: models that one ensemble launch can hold together.

A point is a compiled scenario (kmc_ald.model.compile.Model). Points run in one launch when they
share the lattice, the mechanism's structure and the recipe's schedule (phases, durations,
cycles, samples), and differ in rates: temperature, pressures, sticking, barriers. Each replica
carries the index of its point into rate tables stacked per point. Points whose phase durations
differ (pulse lengths) need a recipe clock of their own and run as separate batches.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from kmc_ald.errors import ScenarioError
from kmc_ald.model.compile import Model


@dataclass(frozen=True, eq=False)
class PointSet:
    """Models that share a lattice, a mechanism and a schedule (checked by :func:`point_set`)."""

    models: tuple[Model, ...]

    @property
    def first(self) -> Model:
        return self.models[0]

    def __len__(self) -> int:
        return len(self.models)

    def rate(self, phase: int) -> np.ndarray:
        """float64 [point, event, site type, bond count]: the rates of one phase [1/s]."""
        return np.stack([m.rates.rate[phase] for m in self.models])


def differs(a: Model, b: Model) -> str | None:
    """What keeps two models out of one launch, or None."""
    la, lb = a.lattice, b.lattice
    if la.n_sites != lb.n_sites or not (np.array_equal(la.neighbours, lb.neighbours)
                                        and np.array_equal(la.support, lb.support)):
        return f"the lattice ({la.n_sites} against {lb.n_sites} sites, or other neighbours)"
    if not np.array_equal(la.site_type, lb.site_type):
        return "the placement of site types (substrate settings or run.seed)"
    if (la.area, la.site_area) != (lb.area, lb.site_area) or not np.array_equal(la.layer,
                                                                               lb.layer):
        return "the lattice's geometry (substrate.spacing or the stack)"
    ma, mb = a.mechanism, b.mechanism
    if ma.species != mb.species or ma.event_names != mb.event_names:
        return "the species or events"
    for name in ("sites_per_event", "site_in", "site_out", "count_mask", "footprint",
                 "block_mask", "migrating"):
        if not np.array_equal(getattr(ma, name), getattr(mb, name)):
            return f"the events' {name.replace('_', ' ')}"
    if ((ma.solid_mask, ma.migration_max_size, ma.migration_exponent)
            != (mb.solid_mask, mb.migration_max_size, mb.migration_exponent)):
        return "substrate.stack.solid or cluster_migration (max_size, size_exponent)"
    ra, rb = a.rates, b.rates
    if not np.array_equal(ma.partner_shell, mb.partner_shell) or not np.array_equal(
            ra.partner_ok, rb.partner_ok):
        return "the events' partners (partner.shell or partner.site_types)"
    if not np.array_equal(ra.pinned, rb.pinned):
        return "cluster_migration's pinned site types"
    if ra.phase_names != rb.phase_names or not np.array_equal(ra.durations, rb.durations):
        return "the recipe's phases or their durations"
    if ma.gases != mb.gases or not (np.array_equal(ma.gas_in, mb.gas_in)
                                    and np.array_equal(ma.gas_out, mb.gas_out)):
        return "the gases the events consume or release"
    ca, cb = a.scenario, b.scenario
    if (ca.recipe.cycles, ca.output.samples_per_phase) != (cb.recipe.cycles,
                                                          cb.output.samples_per_phase):
        return "recipe.cycles or output.samples_per_phase"
    # what the per-cycle statistics read (taken from point 0 for a whole batch)
    if ca.deposit != cb.deposit:
        return "the deposit section"
    if ca.run.stiffness != cb.run.stiffness:
        return "run.stiffness"
    return None


def point_set(models: Sequence[Model]) -> PointSet:
    """The models as points of one launch.

    Raises:
        ScenarioError: naming the first point that differs from point 0 in more than rates.
    """
    models = tuple(models)
    if not models:
        raise ValueError("an ensemble needs at least one parameter point")
    for k, model in enumerate(models[1:], start=1):
        why = differs(models[0], model)
        if why is not None:
            raise ScenarioError(f"parameter point {k} differs from point 0 in {why}; points of "
                                "one batch may differ in rates only (run the others as a "
                                "batch of their own)")
    return PointSet(models)
