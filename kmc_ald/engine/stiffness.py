"""Stiffness control: slow down quasi-equilibrated fast channels, adaptively, in windows.

At ALD temperatures some events (a metal atom hopping on graphene or on a particle facet, a
physisorbed precursor coming and going) fire 10^6-10^10 times more often than the chemistry that
decides the outcome. If such a channel is quasi-equilibrated, its rate can be divided by a factor
without changing what the slow events see, as long as it stays much faster than they are.

The scheme follows the channel-based scaling of Prats, Li & Stamatakis (J. Chem. Theory Comput.
21, 12262 (2025)), itself a descendant of the accelerated superbasin KMC of Dybeck, Plaisance &
Neurock (J. Chem. Theory Comput. 13, 1525 (2017)):

* a *channel* is an event and the event that undoes it (``Mechanism.reverse``); a hop is its own
  reverse. Events without a reverse are never scaled;
* a window runs until the events outside quasi-equilibrated channels fired :data:`MIN_SLOW`
  times, or :data:`MAX_CHUNKS` chunks of events have run; windows restart with every phase;
* at the end of a window, a channel is *quasi-equilibrated* when it fired at least
  :data:`MIN_FIRINGS` times and its forward and reverse firings differ by at most
  :data:`BALANCE` of their sum (a hop is balanced by construction);
* the fastest event outside the quasi-equilibrated channels sets the slow frequency
  ``nu_slow`` (at least one firing per window); each quasi-equilibrated channel's scale factor
  is moved so that it fires at ``separation * nu_slow``: downwards or back upwards, by at most
  :data:`MAX_STEP` per window, never above 1;
* a channel that stops being balanced is restored to its true rate at once;
* a channel whose firing frequency does not drop after it was slowed down is *slaved* to slow
  events (for example hops whose number per deposited atom is fixed by geometry, not by time):
  it is restored and left unscaled for the rest of the phase.

``separation`` is the one accuracy knob: it bounds from below how many times a scaled channel
fires per slow event. Rates change only at window ends, which are counted in executed events, so
runs stay reproducible and independent of sampling. Scaled rates are exact only in the limit the
assumption holds; the validation suite measures the error against unscaled runs.
"""
from __future__ import annotations

import numpy as np

from kmc_ald.engine.state import State

#: A channel needs this many firings in a window to be judged.
MIN_FIRINGS = 20
#: A window ends once this many slow events fired ...
MIN_SLOW = 10
#: ... or after this many chunks of ``StiffnessControl.chunk`` events.
MAX_CHUNKS = 16
#: Largest |forward - reverse| / (forward + reverse) of a quasi-equilibrated channel.
BALANCE = 0.2
#: Largest change of a scale factor per window.
MAX_STEP = 100.0
#: Smallest scale factor.
MIN_SCALE = 1e-15


class StiffnessControl:
    """Scale factors of every event, updated from the events executed in each window.

    Args:
        reverse: ``Mechanism.reverse``: int [n_events], the event undoing each event, or -1.
        separation: How many times a scaled channel still fires per slow event (>= 20).
    """

    def __init__(self, reverse: np.ndarray, separation: float):
        self.reverse = np.asarray(reverse)
        self.separation = float(separation)
        self.chunk = int(max(1000, 2 * separation))
        n = len(self.reverse)
        self.channels = sorted({(min(e, int(r)), max(e, int(r))) for e, r in enumerate(self.reverse)
                                if r >= 0})
        self._in_channel = np.zeros(n, dtype=bool)
        for a, b in self.channels:
            self._in_channel[[a, b]] = True
        self.slaved = np.zeros(n, dtype=bool)
        self._quasi = np.zeros(n, dtype=bool)  # quasi-equilibrated at the last window's end
        self._expect = np.full(n, np.nan)  # the highest firing frequency expected after a cut

    def start_phase(self, state: State) -> None:
        """A new phase may change which events are slow: slaved channels get another chance,
        and the first window starts."""
        self.slaved[:] = False
        self._quasi[:] = False
        self._expect[:] = np.nan
        self._begin_window(state)

    def end_window(self, state: State) -> bool:
        """Judge the window since it began if it is long enough (then the next one begins), and
        update ``state.scale`` in place. Solvers call it at their chunk ends.

        Returns:
            Whether any factor changed (the caller then reloads its rates).
        """
        fired = state.event_counts - state.window_start
        if not self.window_done(fired):
            return False
        duration = state.time - self._window_time
        self._begin_window(state)
        return self.update(state.scale, fired, duration)

    def _begin_window(self, state: State) -> None:
        state.window_start = state.event_counts.copy()
        self._window_time = state.time

    def window_done(self, fired: np.ndarray) -> bool:
        """Whether a window with these firings per event is long enough to judge."""
        return (int(fired[~self._quasi].max(initial=0)) >= MIN_SLOW
                or int(fired.sum()) >= MAX_CHUNKS * self.chunk)

    def update(self, scale: np.ndarray, fired: np.ndarray, duration: float) -> bool:
        """New scale factors (in place) from ``fired`` (events per type in the last window)
        over ``duration`` [s] of simulated time.

        Returns:
            Whether any factor changed (the caller then rebuilds its rates).
        """
        old = scale.copy()
        equilibrated = []
        for a, b in self.channels:
            n = fired[a] + (fired[b] if b != a else 0)
            balanced = a == b or abs(int(fired[a]) - int(fired[b])) <= BALANCE * n
            if n >= MIN_FIRINGS and balanced and not self.slaved[a]:
                equilibrated.append((a, b, n))
            elif n >= MIN_FIRINGS and not balanced:
                scale[[a, b]] = 1.0  # driven: it must run at its true rate
                self._expect[[a, b]] = np.nan  # restored, not cut: nothing to expect
        quasi = np.zeros(len(scale), dtype=bool)
        for a, b, _ in equilibrated:
            quasi[[a, b]] = True
        self._quasi = quasi
        if not duration > 0:
            return not np.array_equal(old, scale)
        n_slow = max(1, int(fired[~quasi].max(initial=0)))
        for a, b, n in equilibrated:
            ratio = n / n_slow
            frequency = n / duration
            if frequency > self._expect[a]:
                # slowed down last window, yet it fires as often per slow event: slaved
                scale[[a, b]] = 1.0
                self.slaved[[a, b]] = True
                self._expect[[a, b]] = np.nan
                continue
            factor = min(MAX_STEP, max(1.0 / MAX_STEP, self.separation / ratio))
            new = float(np.clip(scale[a] * factor, MIN_SCALE, 1.0))
            cut = new / scale[a]
            # a real cut by f should bring the frequency down to about f times; allow sqrt(f)
            self._expect[[a, b]] = frequency * np.sqrt(cut) if cut < 0.5 else np.nan
            scale[[a, b]] = new
        return not np.array_equal(old, scale)
