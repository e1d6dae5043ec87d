"""Analysis of lattice states: clusters and their statistics."""
