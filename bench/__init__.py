"""Throughput benchmarks of kmc-ald's solvers (not library code; run with ``python -m bench.run``)."""
