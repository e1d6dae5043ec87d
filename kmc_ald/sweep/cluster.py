"""Dask clusters for sweeps: a local cluster of worker processes, or an existing scheduler.

Each local worker is one process with one Dask thread and ``cores / workers`` numba threads, so
the ensembles of several workers do not oversubscribe the cores (Dask sets OMP_NUM_THREADS=1
in its workers, but numba reads NUMBA_NUM_THREADS). On Slurm or PBS, start the cluster with
dask-jobqueue (one worker per GPU or node) and pass its scheduler address.
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from kmc_ald.errors import BackendUnavailableError


@contextlib.contextmanager
def client_for(workers: int | None, scheduler: str | None) -> Iterator[object]:
    """A dask.distributed Client: to ``scheduler``, or to a new LocalCluster of ``workers``
    processes (closed on exit)."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as err:
        raise BackendUnavailableError(
            f"Dask is not importable ({err}); install it with: pip install distributed (or, "
            "in the checkout, pip install -e '.[cluster]')"
        ) from None
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as err:
            raise BackendUnavailableError(f"cannot reach the Dask scheduler at {scheduler}: "
                                          f"{err}") from None
        with client:
            yield client
        return
    threads = max(1, (os.cpu_count() or 1) // workers)
    env = {"NUMBA_NUM_THREADS": str(threads), "OMP_NUM_THREADS": "1"}
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=None, env=env) as cluster, Client(cluster) as client:
        yield client
