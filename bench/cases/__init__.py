"""Benchmark cases: each module exposes ``run(sizes, log)`` returning a list of result rows."""
