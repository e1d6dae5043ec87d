"""The parallel solver: one algorithm, identical on every backend, conflict-free, resumable."""
import numpy as np
import pytest

from kmc_ald.engine.backends.base import DOMAIN_SIZE
from kmc_ald.engine.backends.cpu import NumbaBackend
from kmc_ald.engine.solvers.parallel import ParallelSolver
from kmc_ald.model.compile import candidate_gaps, max_site_rate, thresholds
from kmc_ald.simulation import Simulation
from kmc_ald.surfaces.builders import SUBSTRATES, build_lattice
from kmc_ald.surfaces.coloring import update_classes
from tests.support.hostshim import HostShimBackend
from tests.support.models import scenario
from tests.unit.test_exact import RICH
from tests.validation.test_stiffness import model as stiffness_model

LATTICES = [("square", 12), ("triangular", 12), ("honeycomb", 9), ("square", 10)]


def rich(lattice="triangular", size=12, **kw):
    return scenario(RICH, lattice=lattice, size=size, duration="3 s", **kw)


def run_backend(backend, sc, replicas=1, seed=5, domain_size=8):
    """600 sweeps at p = 0.3; domains of 8 members give every class several work items."""
    sim = Simulation(sc, seed=seed, solver="exact")  # only for its lattice and tables
    solver = ParallelSolver(sim.model, seed, backend,
                            step_probability=0.3, replicas=replicas, domain_size=domain_size)
    solver.start_phase(sim.state, 0)
    backend.sweeps(0, 600)
    return backend.occupation(), backend.event_counts()


@pytest.mark.parametrize(("lattice", "size"), LATTICES)
@pytest.mark.parametrize("domain_size", [8, 256])
def test_numba_twin_and_cuda_source_give_identical_trajectories(lattice, size, domain_size):
    """numba == kernels/sweep.cu on the CPU, with every class's work items forwards and
    reversed; small domains give each class several work items, the default one or two. The
    shim runs the GPU backend's own launch code, every argument checked against the C signature
    of sweep_class, so a wrong type, order or missing argument fails here, not on a device."""
    sc = rich(lattice, size)
    occ_numba, counts_numba = run_backend(NumbaBackend(), sc, replicas=2,
                                          domain_size=domain_size)
    for reverse in (False, True):
        occ_shim, counts_shim = run_backend(HostShimBackend(reverse=reverse), sc, replicas=2,
                                            domain_size=domain_size)
        np.testing.assert_array_equal(occ_shim, occ_numba)
        np.testing.assert_array_equal(counts_shim, counts_numba)
    assert counts_numba.sum() > 500  # the comparison covered a lot of events of every kind
    assert np.all(counts_numba.sum(axis=0) > 0)


def test_each_replica_equals_the_same_seed_run_alone(backend):
    sc = rich()
    batch_occ, batch_counts = run_backend(backend(), sc, replicas=3, seed=40)
    for r in range(3):
        occ, counts = run_backend(backend(), sc, replicas=1, seed=40 + r)
        np.testing.assert_array_equal(batch_occ[r], occ[0])
        np.testing.assert_array_equal(batch_counts[r], counts[0])
    assert not np.array_equal(batch_occ[0], batch_occ[1])


@pytest.mark.parametrize("kind", sorted(SUBSTRATES))
@pytest.mark.parametrize("interaction_range", [0, 1, 2])
def test_update_classes_are_conflict_free_on_every_substrate(kind, interaction_range):
    lattice = build_lattice(kind, (12, 10))
    classes = update_classes(lattice, interaction_range)
    near, _ = lattice.shells(classes.separation - 1)
    same = (near >= 0) & (classes.class_of[np.maximum(near, 0)] == classes.class_of[:, None])
    assert not same.any()
    assert np.array_equal(np.sort(classes.members), np.arange(lattice.n_sites))
    assert classes.offsets[-1] == lattice.n_sites


def test_thresholds_bound_every_sites_probability():
    """Given a candidate, a site's channel probabilities sum to at most 1: no wrap in the sum."""
    sim = Simulation(rich(), seed=1, solver="exact")
    rate = sim.rates.rate[0]
    r_max = max_site_rate(rate, sim.mechanism, sim.lattice.degree)
    thr = thresholds(rate, r_max)
    degree = sim.lattice.degree
    worst = 0
    for s in range(len(sim.mechanism.species)):
        events = sim.mechanism.event_order[sim.mechanism.event_offset[s]:
                                           sim.mechanism.event_offset[s + 1]]
        worst = max(worst, sum(int(thr[e].max()) * (degree if sim.mechanism.sites_per_event[e] > 1 else 1)
                               for e in events))
    assert 2**63 < worst < 2**64  # the busiest species nearly fills the candidate's draw


def test_rates_far_below_the_fastest_keep_their_value():
    """D/F = 1e8: the deposition threshold k / R_max 2^64 is ~5e10 units, so it rounds by < 1e-7."""
    sc = load_island_nucleation(("events[1].rate.A=1e8 1/s",))
    sim = Simulation(sc, solver="exact")
    r_max = max_site_rate(sim.rates.rate[0], sim.mechanism, 4)
    thr = thresholds(sim.rates.rate[0], r_max)
    exact = sim.rates.rate[0, 0, 0, 0] / r_max * 2.0**64
    assert abs(int(thr[0, 0, 0]) - exact) / exact < 1e-7


def test_an_unresolvable_rate_is_a_clear_error():
    from kmc_ald.errors import ScenarioError
    sc = load_island_nucleation(("events[1].rate.A=1e25 1/s",))
    sim = Simulation(sc, solver="exact")
    with pytest.raises(ScenarioError, match="event 'deposition': its rate is 1 1/s, below"):
        thresholds(sim.rates.rate[0], 4e25, sim.mechanism.event_names)


@pytest.mark.parametrize("q", [0.5, 0.02, 1e-4])
def test_candidate_gaps_are_geometric(q):
    """P(gap >= g) = (1 - q)^g to 2^-32, up to a whole domain."""
    gaps = candidate_gaps(q, DOMAIN_SIZE)
    g = np.arange(1, DOMAIN_SIZE + 1)
    np.testing.assert_allclose(gaps / 2.0**32, (1 - q) ** g, rtol=0, atol=2.0**-32)
    assert np.all(np.diff(gaps.astype(np.int64)) <= 0) and len(gaps) == DOMAIN_SIZE


ADSORPTION_ONLY = """
description: adsorption only
substrate: {lattice: square, size: [32, 32]}
species: [A]
events:
  - {name: adsorb, equation: "* -> A", rate: {A: 1 1/s}}
recipe: {temperature: 300 K, cycles: 1, phases: [{name: run, duration: 1000 s}]}
"""


def test_skipping_gives_every_site_the_same_probability():
    """Sweeps of an empty lattice (reset after each) with adsorption only: each site is filled
    with probability k tau per sweep. Hits per site and per position within a domain follow the
    binomial law (chi-square within 5 standard deviations), as testing every site would give."""
    from kmc_ald.scenario.load import loads_scenario
    sim = Simulation(loads_scenario(ADSORPTION_ONLY), seed=1, solver="exact")
    backend = NumbaBackend()
    solver = ParallelSolver(sim.model, 1, backend,
                            step_probability=0.1)
    solver.start_phase(sim.state, 0)
    n, sweeps, p = sim.lattice.n_sites, 2000, solver.tau * 1.0  # k = 1/s = R_max
    hits = np.zeros(n)
    empty = np.zeros((1, n), dtype=np.uint8)
    for step in range(sweeps):
        backend.load(solver.problem, empty)
        backend.set_thresholds(thresholds(sim.rates.rate[0], 1.0),
                               candidate_gaps(p, solver.problem.domain_size))
        backend.sweeps(step, 1)
        hits += backend.occupation()[0]

    def chi2(observed, trials):
        expected = trials * p
        return float(((observed - expected) ** 2 / (expected * (1 - p))).sum()), len(observed)

    position = np.empty(n, dtype=int)
    for c in range(solver.problem.n_classes):
        lo, hi = solver.problem.class_offsets[c:c + 2]
        position[solver.problem.members[lo:hi]] = np.arange(hi - lo) % DOMAIN_SIZE
    per_position = np.bincount(position, weights=hits, minlength=DOMAIN_SIZE)
    trials = np.bincount(position, minlength=DOMAIN_SIZE) * sweeps
    for value, dof in (chi2(hits, sweeps), chi2(per_position, trials)):
        assert abs(value - dof) < 5 * np.sqrt(2 * dof)
    assert abs(hits.sum() - n * sweeps * p) < 5 * np.sqrt(n * sweeps * p)


def load_island_nucleation(overrides):
    from kmc_ald.resources import bundled_scenarios
    from kmc_ald.scenario.load import load_scenario
    return load_scenario(bundled_scenarios()["island_nucleation"],
                         ("substrate.size=[16, 16]", *overrides))


# The shim runs kernels/sweep.cu one launch at a time from Python, minutes for these whole runs;
# it is checked against numba on the same launch code above, so these bodies run on numba and CuPy.
COMPILED = pytest.mark.parametrize("backend", ["numba", "cupy"], indirect=True)


@COMPILED
def test_parallel_runs_resume_bit_identically(backend):
    whole = Simulation(rich(cycles=4), seed=9, solver="parallel", backend="cpu")
    whole.run()
    first = Simulation(rich(cycles=2), seed=9, solver="parallel", backend="cpu")
    first.run()
    resumed = Simulation(rich(cycles=4), seed=9, solver="parallel", backend="cpu")
    resumed.state = first.state.copy()
    resumed.run()
    np.testing.assert_array_equal(resumed.state.occupation, whole.state.occupation)
    np.testing.assert_array_equal(resumed.state.event_counts, whole.state.event_counts)
    assert resumed.state.counter == whole.state.counter and resumed.state.time == whole.state.time


def test_parallel_trajectory_does_not_depend_on_sampling(backend):
    a = Simulation(rich(samples=1), seed=3, solver="parallel", backend="cpu")
    b = Simulation(rich(samples=37), seed=3, solver="parallel", backend="cpu")
    a.run()
    b.run()
    np.testing.assert_array_equal(a.state.occupation, b.state.occupation)
    assert a.state.time == b.state.time == 3.0


@COMPILED
def test_a_replica_ensemble_run_file_resumes_and_matches_single_runs(tmp_path, backend):
    """Replicas through Simulation, the run file (replica axis) and resume."""
    ensemble = Simulation(rich(cycles=2), seed=20, solver="parallel", backend="cpu", replicas=3)
    summary = ensemble.run(tmp_path / "ens.h5")
    assert summary.coverage.shape[1:] == (3, 4)
    alone = Simulation(rich(cycles=2), seed=21, solver="parallel", backend="cpu")
    alone.run()
    np.testing.assert_array_equal(ensemble.state.occupation[1], alone.state.occupation)
    np.testing.assert_array_equal(ensemble.state.event_counts[1], alone.state.event_counts)
    resumed = Simulation.resume(tmp_path / "ens.h5", ("recipe.cycles=3",))
    assert resumed.replicas == 3 and resumed.solver.name == "parallel"
    resumed.run(tmp_path / "more.h5")
    longer = Simulation(rich(cycles=3), seed=20, solver="parallel", backend="cpu", replicas=3)
    longer.run()
    np.testing.assert_array_equal(resumed.state.occupation, longer.state.occupation)


def test_the_numba_backend_gives_the_same_result_on_any_number_of_threads(monkeypatch):
    import numba

    from kmc_ald.engine.backends import cpu
    monkeypatch.setattr(cpu, "MIN_CANDIDATES_PER_THREAD", 1)  # every thread, however small
    sc = rich("square", 12)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = run_backend(NumbaBackend(), sc, replicas=3)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        many = run_backend(NumbaBackend(), sc, replicas=3)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(one[0], many[0])
    np.testing.assert_array_equal(one[1], many[1])


def test_a_class_sweep_wakes_threads_in_proportion_to_its_candidates(monkeypatch):
    """Small sweeps run on one thread (a barrier per class costs more than their work); large
    ones on every thread allowed, never more."""
    import numba

    from kmc_ald.engine.backends import cpu
    monkeypatch.setattr(cpu, "MIN_CANDIDATES_PER_THREAD", 100)
    sim = Simulation(rich("square", 12), seed=1, solver="exact")
    backend = NumbaBackend()
    solver = ParallelSolver(sim.model, 1, backend, step_probability=0.3, replicas=4)
    solver.start_phase(sim.state, 0)
    members = 4 * sim.lattice.n_sites / backend.p.n_classes  # replicas x class members
    for q in (1e-3, 0.05, 0.5):
        expected = min(numba.get_num_threads(), max(1, int(q * members // 100)))
        assert backend._threads_for(candidate_gaps(q, DOMAIN_SIZE)) == expected
    assert backend._threads_for(candidate_gaps(1e-3, DOMAIN_SIZE)) == 1


def test_a_run_that_would_draw_mostly_null_candidates_is_warned_about(caplog):
    """Island nucleation: an adatom's four hops (4 x 1e5 1/s) set R_max for every site of an
    empty surface whose only event is deposition at 1 1/s; the rich model's candidates fire
    often enough."""
    from kmc_ald.engine.solvers.parallel import candidate_yield
    island = Simulation(load_island_nucleation(()), solver="exact").model
    found = candidate_yield(island)
    assert found.fraction == pytest.approx(1.0 / 4e5, rel=1e-12)
    assert found.candidates == pytest.approx(4e5 * island.lattice.n_sites * 0.10536, rel=1e-12)
    with caplog.at_level("WARNING", logger="kmc_ald"):
        Simulation(load_island_nucleation(()), solver="parallel", backend="cpu")
    assert "1 in 4e+05 candidates fires" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="kmc_ald"):
        Simulation(rich("square", 12), solver="parallel", backend="cpu")
    assert "candidates fires" not in caplog.text


def test_a_phase_needing_more_sweeps_than_the_clock_can_count_is_refused():
    from kmc_ald.engine.solvers import parallel_unsupported
    from kmc_ald.errors import ScenarioError
    from kmc_ald.model.compile import sweep_schedule
    sc = load_island_nucleation(("recipe.phases[0].duration=1e300 s",))
    model = Simulation(sc, solver="exact").model
    with pytest.raises(ScenarioError, match=r"needs 2e\+307 sweeps of the parallel solver"):
        sweep_schedule(model.rates.rate[0], 1e300, model.mechanism, model.lattice.degree, 0.02)
    assert "sweeps of the parallel solver" in parallel_unsupported(model).reason


def test_a_lone_adatom_does_not_drift():
    """One adatom hopping on a square lattice with the parallel solver at a large p = 0.3.

    Classes are swept in a fixed order, so an adatom that hops into a later class may hop again
    in the same sweep, but those extra hops are isotropic: the mean displacement must stay zero
    within 4 standard errors, while the mean squared displacement shows the first-order bias.
    """
    sc = scenario('species: [A]\nevents:\n  - {name: hop, equation: "A + * -> * + A", '
                  'rate: {A: 1 1/s}}', size=24, duration="2000 s")
    from kmc_ald.scenario.load import loads_scenario
    sc = loads_scenario(sc.text.replace("run: {seed: 1}", "run: {seed: 1, step_probability: 0.3}"))
    sim = Simulation(sc, seed=2, solver="parallel", backend="cpu", replicas=64)
    sim.state.occupation[:, :] = 0
    sim.state.occupation[:, 0] = 1
    solver, lat = sim.solver, sim.lattice
    solver.start_phase(sim.state, 0)
    steps, where = [], np.zeros(64, dtype=np.int64)
    for k in range(1, 401):
        while not solver.advance(sim.state, k * 5.0, False):
            pass
        now = np.argmax(sim.state.occupation, axis=1)
        steps.append(lat.minimum_image(lat.positions[now] - lat.positions[where])[:, :2])
        where = now
    steps = np.concatenate(steps)  # [windows x replicas, 2]
    sem = steps.std(axis=0, ddof=1) / np.sqrt(len(steps))
    assert np.all(np.abs(steps.mean(axis=0)) < 4 * sem), (steps.mean(axis=0), sem)
    msd = (steps**2).sum(axis=1).mean()
    assert 20.0 < msd < 20.0 * 1.5  # 4 D t = 20 Å² per 5 s window; biased up at p = 0.3


def stiff_run(samples=10, cycles=2, chunk=None, monkeypatch=None):
    """Two 0.5 s cycles of the stiff model on 16^2 sites, parallel solver, stiffness control."""
    if chunk is not None:
        from kmc_ald.engine import recipe
        monkeypatch.setattr(recipe, "CHUNK_EVENTS", chunk)
    sim = Simulation(stiffness_model(16, "0.5 s", seed=3, cycles=cycles, solver="parallel",
                                     separation=100, samples=samples))
    sim.run()
    return sim


def test_stiffness_lengthens_the_time_step_and_keeps_the_phase_end():
    sim = stiff_run()
    unscaled = Simulation(stiffness_model(16, "0.5 s", seed=3, solver="parallel"))
    unscaled.solver.start_phase(unscaled.state, 0)
    assert sim.state.scale[2] < 0.05 and sim.state.scale[0] < 0.05  # hop, P pair scaled
    assert sim.state.scale[3] == 1.0  # chemisorption is never scaled
    assert sim.solver.tau > 20 * unscaled.solver.tau
    assert sim.state.time == pytest.approx(1.0, rel=1e-12)
    assert sim.state.event_counts[3] > 0


@COMPILED
def test_stiffness_windows_do_not_depend_on_sampling_or_chunking(monkeypatch, backend):
    """Window ends are counted in sweeps: where the run pauses must not move them."""
    a = stiff_run(samples=1)
    b = stiff_run(samples=7, chunk=40, monkeypatch=monkeypatch)
    np.testing.assert_array_equal(a.state.occupation, b.state.occupation)
    np.testing.assert_array_equal(a.state.event_counts, b.state.event_counts)
    np.testing.assert_array_equal(a.state.scale, b.state.scale)
    assert a.state.counter == b.state.counter


def test_stiffness_decisions_are_identical_on_the_cuda_source(monkeypatch):
    from kmc_ald.engine.backends import base

    a = stiff_run(cycles=1)
    monkeypatch.setattr(base, "select_backend", lambda name: HostShimBackend(reverse=True))
    b = stiff_run(cycles=1)
    assert b.backend == "host_shim"
    np.testing.assert_array_equal(a.state.occupation, b.state.occupation)
    np.testing.assert_array_equal(a.state.scale, b.state.scale)
    assert np.all(a.state.scale[:3] < 1.0)



SITE_TYPED = """
description: several site types, each with its own rates
substrate:
  lattice: {kind}
  size: [{size}, {size}]
  site_types: {{{special}: 0.2, {other}: 0.1}}
species: [A, B, C]
events:
  - name: deposit
    equation: "* -> A"
    rate: {{A: {{default: 1 1/s, {special}: 4 1/s, {other}: 0 1/s}}}}
    footprint: {{shells: 2, blocked_by: [B]}}
  - name: hop
    equation: "A + * -> * + A"
    rate: {{A: {{default: 5 1/s, {other}: 9 1/s}}}}
    bonds: {{with: [A, B], energy: 0.02 eV, max: 3}}
  - name: react
    equation: "A + B -> C + *"
    rate: {{A: {{default: 2 1/s, {special}: 0.5 1/s}}}}
  - name: desorb
    equation: "C -> * + X(g)"
    rate: {{A: 0.5 1/s}}
  - name: convert
    equation: "A -> B"
    rate: {{A: {{default: 0.3 1/s, {special}: 1 1/s}}}}
recipe:
  temperature: 300 K
  cycles: 1
  phases: [{{name: run, duration: 3 s}}]
run: {{seed: 3}}
"""


@pytest.mark.parametrize(("kind", "size", "special", "other"),
                         [("graphene", 8, "pyridinic_N", "vacancy"),
                          ("mxene", 10, "OH", "bare_Ti"), ("oxide", 10, "OH", "Al")])
def test_numba_twin_and_cuda_source_agree_on_ald_substrates(kind, size, special, other):
    """The three-way equality on the ALD substrates, whose site types each have their own rates
    (the textbook lattices above have one type): numba == kernels/sweep.cu, forwards and
    reversed."""
    from kmc_ald.scenario.load import loads_scenario
    sc = loads_scenario(SITE_TYPED.format(kind=kind, size=size, special=special, other=other),
                        "t.yaml")
    assert len(set(Simulation(sc).lattice.site_type)) == 3
    occ_numba, counts_numba = run_backend(NumbaBackend(), sc, replicas=2)
    for reverse in (False, True):
        occ_shim, counts_shim = run_backend(HostShimBackend(reverse=reverse), sc, replicas=2)
        np.testing.assert_array_equal(occ_shim, occ_numba)
        np.testing.assert_array_equal(counts_shim, counts_numba)
    assert np.all(counts_numba.sum(axis=0) > 0)


def test_samples_are_labelled_with_the_time_of_the_last_whole_sweep():
    """The parallel solver stops at the last whole sweep before a sample time: its coverage is
    labelled with that sweep's time (within one step below the request), and sampling more or
    less often changes neither the trajectory nor the label of a common sample."""
    body = """
species: [A]
events:
  - {name: adsorption, equation: "* -> A", rate: {A: 2.0 1/s}}
  - {name: desorption, equation: "A -> *", rate: {A: 1.37 1/s}}
"""
    traces = {}
    for samples in (5, 10):
        # 0.77 s at R_max = 2 1/s, p = 0.02: 77 sweeps, so k/5 of the phase falls between two
        sim = Simulation(scenario(body, size=16, duration="0.77 s", samples=samples),
                         solver="parallel", backend="cpu")
        summary = sim.run()
        tau = sim.solver.tau
        t = summary.coverage_time[1:]
        requested = 0.77 * np.arange(1, samples + 1) / samples
        steps = t / tau
        assert np.all(t <= requested + 1e-12) and np.all(t > requested - tau - 1e-12)
        np.testing.assert_allclose(steps, np.round(steps), atol=1e-6)  # sweep boundaries
        assert np.any(t < requested - 1e-9)  # some requests fall between two sweeps
        traces[samples] = dict(zip(np.round(requested, 9), zip(t, summary.coverage[1:, 1])))
    for key, (t5, theta5) in traces[5].items():
        assert traces[10][key] == (t5, theta5)
