"""Backend availability: which devices can run here, and if not, why not.

CuPy is optional (``pip install kmc-ald[gpu]``) and imported only inside these functions, so that
machines without it never pay for (or fail on) the import.
"""
from __future__ import annotations


def gpu_unavailable_reason() -> str | None:
    """Why the GPU backend cannot run here, or None if it can."""
    try:
        import cupy
    except ImportError as err:
        return f"CuPy is not importable ({err}); install it with: pip install 'kmc-ald[gpu]'"
    try:
        n = cupy.cuda.runtime.getDeviceCount()
    except Exception as err:  # noqa: BLE001 - CUDARuntimeError, missing driver, ...
        return f"CUDA runtime error: {err}"
    return None if n > 0 else "CuPy found no CUDA device"


def describe_gpu() -> str:
    """One line about the GPU, for ``kmc-ald info``."""
    reason = gpu_unavailable_reason()
    if reason is not None:
        return f"not available: {reason}"
    import cupy
    props = cupy.cuda.runtime.getDeviceProperties(0)
    name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    return f"available: {name} (CuPy {cupy.__version__}); the GPU solver is not built yet"
