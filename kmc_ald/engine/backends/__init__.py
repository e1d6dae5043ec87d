"""Where solvers run: the CPU always; an NVIDIA GPU through CuPy when one can be used."""
