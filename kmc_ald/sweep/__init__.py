"""Sweeps: parameter grids x replicas in one command (kmc-ald sweep), batched into ensembles on
the GPU or across CPU cores, or spread as tasks over a Dask cluster; results as a sweep file, a
tidy table and plots. See kmc_ald.sweep.spec (the sweep file), .run (execution and what is kept
on disk) and .results (sweep file, table)."""
