"""The CUDA kernel sources, as the GPU backend and the tests' host shim load them."""
from __future__ import annotations

import functools
import hashlib

from kmc_ald.resources import kernel_dir

__all__ = ["kernel_dir", "kernels_digest", "kernel_files"]


def kernel_files() -> list[str]:
    """Names of the kernel entry-point files (``sweep.cu``, ...)."""
    return sorted(p.name for p in kernel_dir().glob("*.cu"))


@functools.cache
def kernels_digest() -> str:
    """Hash of every file under kernels/. CuPy keys its compile cache on the source string only,
    so headers reached through -I must be represented in that string (cupy/cupy#941)."""
    h = hashlib.sha256()
    root = kernel_dir()
    for path in sorted(root.rglob("*")):
        if path.is_file():
            h.update(path.relative_to(root).as_posix().encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]
