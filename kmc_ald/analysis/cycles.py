"""Per-cycle statistics of a deposition run: loading, growth, clusters, anchoring, gases.

One row per completed ALD cycle, one column per quantity, each with its unit. The definitions
follow the usual experimental observables, so numbers compare directly with papers:

* ``deposited``: atoms of the deposited element taken from the gas phase (consumed minus
  released, by the gases' formulas) per nm², summed over cycles; ``growth`` is this cycle's
  share, ``growth_thickness`` and ``growth_mass`` the same as a film thickness from the bulk
  density and as the film's mass per area (``film`` formula units per deposited atom: what a
  quartz crystal microbalance weighs), and ``thickness`` the whole deposit so far;
* ``covered_fraction``: surface sites (the bottom layer) holding the element / surface sites;
  a closed film covers them all;
* ``loading``: weight % of deposited element over element + support; the support's mass is that
  of the modelled substrate atoms, or 1 / ``specific_area`` per unit area for a powder or flake;
* ``metal_atoms``: atoms of the element held by surface species (``deposit.composition``), per
  nm²; equals ``deposited`` while no atom leaves the surface into a film or the gas;
* clusters: nearest-neighbour-connected sites whose species hold the element; size in atoms,
  equivalent diameter of a hemisphere of the bulk's atomic volume, d = 2 (3 N v / 2 pi)^(1/3),
  and projected-area diameter, d = 2 sqrt(A / pi) with A the area of the surface sites it covers
  (what TEM measures);
  ``single_atom_fraction`` = atoms in clusters of one atom / all cluster atoms; the cluster
  means and this fraction are NaN on a surface without clusters, and :func:`mean_sem` averages
  over the replicas that have some;
* ``size_distribution``: clusters per size bin; bin k holds sizes 2^k .. 2^(k+1) - 1 atoms;
* ``anchoring_occupied``: fraction of anchoring sites (``deposit.anchoring``) holding the element;
* ``coverage_end_of_phase``: fraction of surface sites per species at the end of each phase;
* ``gas_consumed`` / ``gas_released``: molecules per nm² in the cycle, per gas.

:func:`nucleation_delay` reads the growth column: cycles until growth per cycle first reaches
half its steady value.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kmc_ald.analysis.clusters import cluster_labels
from kmc_ald.engine.recipe import Observer
from kmc_ald.model.compile import Mechanism
from kmc_ald.scenario.schema import Deposit, formula_count, formula_mass
from kmc_ald.surfaces.lattice import Lattice

AVOGADRO = 6.02214076e23
NM2 = 100.0  # Å² per nm²
SIZE_BINS = 20  # clusters up to 2^20 atoms


@dataclass(frozen=True)
class Column:
    """One quantity of the per-cycle table."""

    units: str
    description: str


COLUMNS: dict[str, Column] = {
    "cycle": Column("1", "cycle number, from 1"),
    "time": Column("s", "simulated time at the end of the cycle"),
    "deposited": Column("1/nm^2", "atoms of the element taken from the gas so far"),
    "growth": Column("1/nm^2", "atoms of the element deposited in this cycle"),
    "growth_thickness": Column("Å", "growth of this cycle as bulk film thickness"),
    "growth_mass": Column("ng/cm^2", "growth of this cycle as film mass (what a QCM weighs)"),
    "thickness": Column("nm", "everything deposited so far as bulk film thickness"),
    "covered_fraction": Column("1", "surface sites under the deposit / surface sites"),
    "loading": Column("wt%", "mass of the deposited element / (element + support)"),
    "metal_atoms": Column("1/nm^2", "atoms of the element held by surface species"),
    "clusters": Column("1/nm^2", "clusters of sites holding the element"),
    "mean_cluster_size": Column("1", "mean atoms per cluster"),
    "mean_diameter": Column("nm", "mean equivalent (hemisphere) diameter of the clusters"),
    "mean_projected_diameter": Column("nm", "mean projected-area diameter of the clusters"),
    "largest_cluster": Column("1", "atoms in the largest cluster"),
    "single_atom_fraction": Column("1", "atoms in one-atom clusters / atoms in clusters"),
    "anchoring_occupied": Column("1", "anchoring sites holding the element / anchoring sites"),
    "size_distribution": Column("1", "clusters per size bin; bin k: 2^k to 2^(k+1)-1 atoms"),
    "coverage_end_of_phase": Column("1", "surface fraction per species at each phase end"),
    "gas_consumed": Column("1/nm^2", "gas molecules consumed in the cycle, per gas"),
    "gas_released": Column("1/nm^2", "gas molecules released in the cycle, per gas"),
}


def element_atoms(deposit: Deposit | None, species: tuple[str, ...]) -> np.ndarray:
    """Atoms of the deposited element on a site holding each species (its cluster weight).

    Without a deposit section every adsorbate counts as one (islands of a textbook model).
    """
    if deposit is None:
        return np.array([0] + [1] * (len(species) - 1), dtype=np.int64)
    return np.array([formula_count(deposit.composition[s], deposit.element)
                     if s in deposit.composition else 0 for s in species], dtype=np.int64)


class CycleStatistics:
    """Computes the per-cycle rows of one scenario's runs (see the module docstring).

    Args:
        deposit: The scenario's ``deposit`` section.
        lattice, mechanism: The run's lattice and compiled mechanism.
        gas_formulas: Formula of each of ``mechanism.gases`` (None where unknown: such a gas is
            taken to carry none of the element).
    """

    def __init__(self, deposit: Deposit, lattice: Lattice, mechanism: Mechanism,
                 gas_formulas: dict[str, str | None]):
        self.deposit, self.lattice, self.mechanism = deposit, lattice, mechanism
        element = deposit.element
        self.atoms_per_species = element_atoms(deposit, mechanism.species)
        self.atoms_per_gas = np.array(
            [formula_count(gas_formulas[g], element) if gas_formulas.get(g) else 0
             for g in mechanism.gases], dtype=np.int64)
        self.area_nm2 = lattice.area / NM2
        self.element_mass = formula_mass(element)  # [g/mol]
        film = deposit.film_formula
        per_formula = formula_count(film, element) or 1
        # bulk volume per deposited atom [Å³]: M / (n rho N_A), cm³ -> Å³
        self.atomic_volume = formula_mass(film) / (per_formula * deposit.density * AVOGADRO) * 1e24
        # film mass per deposited atom per nm² in ng/cm²: M / n / N_A [g] x 1e14 nm²/cm² x 1e9
        self.mass_per_atom = formula_mass(film) / per_formula / AVOGADRO * 1e23
        if deposit.specific_area is not None:
            self.support_mass = lattice.area * 1e-20 / deposit.specific_area  # [g]
        else:
            self.support_mass = sum(formula_mass(s) for s in lattice.substrate_symbols) / AVOGADRO
        names = lattice.site_type_names
        self.n_surface = max(1, int(np.count_nonzero(lattice.layer == 0)))
        self.anchoring = np.isin(lattice.site_type,
                                 [names.index(t) for t in deposit.anchoring if t in names])

    def row(self, cycle: int, time: float, occupation: np.ndarray, cycle_events: np.ndarray,
            deposited_before: float, phase_coverage: np.ndarray) -> dict[str, np.ndarray]:
        """The statistics of one surface at the end of a cycle.

        Args:
            cycle: Cycle number, from 1.
            time: Simulated time at the end of the cycle [s].
            occupation: Species per site at the end of the cycle.
            cycle_events: Events executed in the cycle, per event type.
            deposited_before: ``deposited`` of the previous cycle [1/nm²] (0 for the first).
            phase_coverage: [phases, species] coverage at the end of each phase.
        """
        m, area = self.mechanism, self.area_nm2
        consumed = cycle_events @ m.gas_in
        released = cycle_events @ m.gas_out
        growth = float((consumed - released) @ self.atoms_per_gas) / area
        deposited = deposited_before + growth
        atoms = self.atoms_per_species[occupation]
        held = atoms > 0
        label = cluster_labels(held, self.lattice.neighbours)
        sizes = np.bincount(label[held], weights=atoms[held]).astype(np.int64)
        # the sites a cluster covers on the surface (its base, for a 3D particle)
        base = held & (self.lattice.layer == 0)
        sites = np.bincount(label[base], minlength=len(sizes)).astype(np.int64)
        n_clusters = len(sizes)
        metal_mass = deposited * area * self.element_mass / AVOGADRO  # [g] in the cell
        d_eq = 2.0 * (3.0 * sizes * self.atomic_volume / (2.0 * np.pi)) ** (1 / 3) / 10.0
        d_proj = 2.0 * np.sqrt(sites * self.lattice.site_area / np.pi) / 10.0
        bins = np.minimum(np.floor(np.log2(np.maximum(sizes, 1))).astype(int), SIZE_BINS - 1)
        n_anchor = int(self.anchoring.sum())
        # without clusters their means are undefined (NaN), not 0: averaged over replicas, a
        # 0 would pull the mean towards an empty surface
        mean = (lambda x: float(x.mean())) if n_clusters else (lambda x: np.nan)
        return {
            "cycle": np.int64(cycle),
            "time": np.float64(time),
            "deposited": np.float64(deposited),
            "growth": np.float64(growth),
            "growth_thickness": np.float64(growth / NM2 * self.atomic_volume),
            "growth_mass": np.float64(growth * self.mass_per_atom),
            "thickness": np.float64(deposited / NM2 * self.atomic_volume / 10.0),
            "covered_fraction": np.float64(np.count_nonzero(base) / self.n_surface),
            "loading": np.float64(100.0 * metal_mass / (metal_mass + self.support_mass)
                                  if metal_mass + self.support_mass > 0 else 0.0),
            "metal_atoms": np.float64(atoms.sum() / area),
            "clusters": np.float64(n_clusters / area),
            "mean_cluster_size": np.float64(mean(sizes)),
            "mean_diameter": np.float64(mean(d_eq)),
            "mean_projected_diameter": np.float64(mean(d_proj)),
            "largest_cluster": np.int64(sizes.max(initial=0)),
            "single_atom_fraction": np.float64(sizes[sizes == 1].sum() / sizes.sum()
                                               if sizes.sum() else np.nan),
            "anchoring_occupied": np.float64(np.count_nonzero(held & self.anchoring) / n_anchor
                                             if n_anchor else 0.0),
            "size_distribution": np.bincount(bins, minlength=SIZE_BINS).astype(np.int64),
            "coverage_end_of_phase": np.asarray(phase_coverage, dtype=np.float64),
            "gas_consumed": (consumed / area).astype(np.float64),
            "gas_released": (released / area).astype(np.float64),
        }


def mean_sem(values: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error of the mean over ``axis`` (the replicas), of the replicas where
    the value is defined (NaN: a cluster mean without clusters); zero error from one replica,
    NaN from none."""
    values = np.asarray(values, dtype=float)
    defined = np.isfinite(values)
    n = defined.sum(axis=axis)
    total = np.where(defined, values, 0.0).sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / n
        dev = np.where(defined, values - np.expand_dims(mean, axis), 0.0)
        sem = np.sqrt((dev ** 2).sum(axis=axis) / (n - 1) / n)
    sem = np.where(n == 1, 0.0, sem)
    return mean, sem


def cycle_numbers(cycles: dict[str, np.ndarray]) -> np.ndarray:
    """The cycle number of each row of per-cycle statistics (the same for every replica)."""
    numbers = np.asarray(cycles["cycle"])
    return numbers if numbers.ndim == 1 else numbers[:, 0]


def nucleation_delay(growth: np.ndarray, steady_fraction: float = 0.25) -> float:
    """Cycles until growth per cycle first reaches half its steady value.

    The steady value is the mean growth of the last ``steady_fraction`` of the cycles; the delay
    is counted in whole cycles, interpolated linearly between the two cycles that straddle half
    of it (0 when the first cycle already grows at half the steady rate; NaN without growth).

    Example:
        >>> nucleation_delay(np.array([0.0, 0.0, 0.5, 1.5, 2.0, 2.0, 2.0, 2.0]))
        2.5
    """
    growth = np.asarray(growth, dtype=float)
    if growth.size == 0:
        return float("nan")
    tail = growth[-max(1, int(round(steady_fraction * growth.size))):]
    half = 0.5 * float(tail.mean())
    if not half > 0:
        return float("nan")
    above = np.flatnonzero(growth >= half)
    k = int(above[0])
    if k == 0:
        return 0.0
    g0, g1 = growth[k - 1], growth[k]
    return float(k - 1 + (half - g0) / (g1 - g0))


class CycleRows(Observer):
    """The per-cycle statistics as an observer of the recipe loop (kmc_ald.engine.recipe): one
    row per completed cycle into ``RunSummary.cycle_rows``, after the rows of the run it resumes.

    Args:
        model: The compiled scenario (it has a ``deposit`` section).
        state: The state the loop advances (one surface, or replicas on a leading axis).
        earlier: Rows of an earlier run this one continues, up to its checkpoint.
    """

    def __init__(self, model, state, earlier: list[dict[str, np.ndarray]] = ()):
        scenario, mechanism = model.scenario, model.mechanism
        formulas = {g: (scenario.gases[g].formula if g in scenario.gases else None)
                    for g in mechanism.gases}
        self.statistics = CycleStatistics(scenario.deposit, model.lattice, mechanism, formulas)
        self.state, self.earlier = state, list(earlier)

    def start(self, summary) -> None:
        self.summary = summary
        summary.cycle_rows.extend(self.earlier)

    def cycle_end(self, events: np.ndarray, phase_coverage: np.ndarray | None) -> None:
        if phase_coverage is None:  # a cycle resumed mid-way: its earlier phases are not known
            return
        state, rows, stats = self.state, self.summary.cycle_rows, self.statistics
        replicas = state.occupation.shape[0] if state.occupation.ndim == 2 else 1
        deposited = rows[-1]["deposited"] if rows else np.zeros(() if replicas == 1
                                                                 else (replicas,))
        if state.occupation.ndim == 1:
            rows.append(stats.row(state.cycle, state.time, state.occupation, events,
                                  float(deposited), phase_coverage))
            return
        # phase_coverage is [replica, phases, species]; every column gains a replica axis
        each = [stats.row(state.cycle, state.time, state.occupation[r], events[r],
                          float(deposited[r]), phase_coverage[r]) for r in range(replicas)]
        rows.append({k: np.stack([row[k] for row in each]) for k in each[0]})
