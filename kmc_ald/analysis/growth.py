"""What ALD users report about growth, from the per-cycle rows (kmc_ald.analysis.cycles) and the
recipe: the dose of each pulse, the steady growth per cycle in atoms/nm², Å/cycle and ng/cm² (what
a quartz crystal microbalance weighs), the nucleation delay as the x-intercept of the steady growth
line, and the growth type in Puurunen's classification.

Growth types (Puurunen & Vandervorst, J. Appl. Phys. 96, 7686 (2004)), from growth per cycle
against cycle number:

* ``linear``: constant from the first cycle;
* ``substrate-enhanced``: higher on the substrate than on the film, falling to the steady value;
* ``substrate-inhibited type 1``: lower at first, rising to the steady value;
* ``substrate-inhibited type 2``: lower at first, rising through a maximum above the steady value
  (islands that grow apart, then coalesce), then falling to it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kmc_ald.scenario.schema import Recipe

#: 1 langmuir = 1e-6 Torr s, in Pa s.
LANGMUIR_PA_S = 1e-6 * 101325.0 / 760.0
#: A change of growth per cycle by more than this fraction of the steady value counts in the
#: growth type (smaller ones are noise or a gentle drift).
TYPE_TOLERANCE = 0.1


@dataclass(frozen=True)
class Dose:
    """The exposure of one gas in one pulse: partial pressure x duration."""

    phase: str
    gas: str
    pa_s: float  # [Pa s]

    @property
    def mbar_s(self) -> float:
        return self.pa_s / 100.0

    @property
    def langmuir(self) -> float:
        return self.pa_s / LANGMUIR_PA_S

    def __str__(self) -> str:
        return (f"{self.gas} in {self.phase}: {self.pa_s:.3g} Pa·s = {self.mbar_s:.3g} mbar·s = "
                f"{self.langmuir:.3g} L")


def pulse_doses(recipe: Recipe) -> list[Dose]:
    """The dose of every gas of every phase that has one, in recipe order."""
    return [Dose(phase.name, gas, float(p) * float(phase.duration))
            for phase in recipe.phases for gas, p in phase.gas.items() if p > 0]


def steady_line(deposited: np.ndarray, steady_fraction: float = 0.5) -> tuple[float, float]:
    """The straight line through the last ``steady_fraction`` of deposited(cycle) (cycles from 1):
    (slope [per cycle], x-intercept [cycles]). The x-intercept is the nucleation delay as ALD
    papers read it off thickness against cycles: where the steady growth line would start from
    nothing (negative for substrate-enhanced growth, NaN without steady growth)."""
    deposited = np.asarray(deposited, dtype=float)
    n = deposited.size
    k = max(2, int(round(steady_fraction * n)))
    if n < 2:
        return float("nan"), float("nan")
    cycles = np.arange(n - k + 1, n + 1, dtype=float)
    slope, offset = np.polyfit(cycles, deposited[-k:], 1)
    if not slope > 0:
        return float(slope), float("nan")
    return float(slope), float(-offset / slope)


def growth_type(growth: np.ndarray, steady_fraction: float = 0.25,
                tolerance: float = TYPE_TOLERANCE) -> str:
    """Puurunen's growth type of a growth-per-cycle series (see the module docstring).

    The steady value is the mean of the last ``steady_fraction`` of the cycles, the start the
    mean of the first 5 % (at least 2 cycles), the maximum that of a moving average over 5 % of
    the cycles (at least 3) before the steady part.

    Example:
        >>> growth_type(np.array([0.2, 0.5, 1.0, 1.6, 1.8, 1.4, 1.1, 1.0, 1.0, 1.0, 1.0, 1.0]))
        'substrate-inhibited type 2'
    """
    growth = np.asarray(growth, dtype=float)
    n = growth.size
    if n < 3:
        return "linear" if n and growth.min() > 0 else "no growth"
    tail = max(1, int(round(steady_fraction * n)))
    steady = float(growth[-tail:].mean())
    if not steady > 0:
        return "no growth"
    start = float(growth[:max(2, int(round(0.05 * n)))].mean())
    if start > (1 + tolerance) * steady:
        return "substrate-enhanced"
    if start >= (1 - tolerance) * steady:
        return "linear"
    width = max(3, int(round(0.05 * n)))
    before = growth[:n - tail]
    smooth = (np.convolve(before, np.ones(width) / width, mode="valid") if before.size >= width
              else before)
    peak = float(smooth.max(initial=0.0))
    return ("substrate-inhibited type 2" if peak > (1 + tolerance) * steady
            else "substrate-inhibited type 1")


@dataclass(frozen=True)
class GrowthSummary:
    """A run's growth as ALD papers report it (replica means where there are replicas)."""

    element: str
    steady_atoms: float  # [atoms/nm² per cycle], mean of the last quarter
    steady_angstrom: float  # [Å/cycle]
    steady_ng_cm2: float  # [ng/cm² per cycle]
    thickness_nm: float  # [nm] of bulk film after the last cycle
    delay_intercept: float  # [cycles], x-intercept of the steady line
    growth_type: str
    covered_fraction: float  # of the surface, after the last cycle
    closure_cycle: int | None  # first cycle with covered_fraction >= CLOSED, or None
    buried: bool  # the deposit leaves the surface species (a film grown under its surface)

    #: A surface this covered by the deposit counts as a closed film.
    CLOSED = 0.95

    def lines(self) -> list[str]:
        """The summary, one finding per line, with units."""
        el = self.element
        delay = (f"{self.delay_intercept:.3g} cycles (x-intercept of the steady growth line)"
                 if np.isfinite(self.delay_intercept) else "undefined (no steady growth)")
        closure = (f"closed (>= {self.CLOSED:.0%} covered) from cycle {self.closure_cycle}"
                   if self.closure_cycle is not None else
                   f"{self.covered_fraction:.1%} of the surface covered after the last cycle")
        if self.buried:
            closure = ("a film under the surface: its atoms leave the surface species, so the "
                       "lattice is the film's own growing surface")
        return [f"steady growth  {self.steady_atoms:.3g} {el}/nm² = {self.steady_angstrom:.3g} "
                f"Å = {self.steady_ng_cm2:.3g} ng/cm² per cycle; film {self.thickness_nm:.3g} nm",
                f"growth type    {self.growth_type} (Puurunen); nucleation delay {delay}",
                f"coverage       {closure}"]


def summarize_growth(cycles: dict[str, np.ndarray], element: str) -> GrowthSummary:
    """The GrowthSummary of per-cycle rows (``[cycles]`` or ``[cycles, replicas]`` columns)."""
    def mean(name: str) -> np.ndarray:
        values = np.asarray(cycles[name], dtype=float)
        return values.reshape(len(values), -1).mean(axis=1)

    growth, deposited = mean("growth"), mean("deposited")
    tail = max(1, int(round(0.25 * len(growth))))
    covered = mean("covered_fraction") if "covered_fraction" in cycles else np.zeros_like(growth)
    closed = np.flatnonzero(covered >= GrowthSummary.CLOSED)
    number = np.asarray(cycles["cycle"]).reshape(len(growth), -1)[:, 0]
    thickness = mean("thickness") if "thickness" in cycles else np.zeros_like(growth)
    mass = mean("growth_mass") if "growth_mass" in cycles else np.zeros_like(growth)
    return GrowthSummary(
        element=element, steady_atoms=float(growth[-tail:].mean()),
        steady_angstrom=float(mean("growth_thickness")[-tail:].mean()),
        steady_ng_cm2=float(mass[-tail:].mean()), thickness_nm=float(thickness[-1]),
        delay_intercept=steady_line(deposited)[1], growth_type=growth_type(growth),
        covered_fraction=float(covered[-1]),
        closure_cycle=int(number[closed[0]]) if closed.size else None,
        buried=bool(deposited[-1] > 0 and mean("metal_atoms")[-1] < 0.01 * deposited[-1]))
