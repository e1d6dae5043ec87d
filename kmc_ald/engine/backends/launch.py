"""Kernel launches by parameter name, checked against the kernel's C signature.

CuPy passes a raw kernel whatever it is given: a float64 where the kernel reads int32, or two
arguments swapped, runs and gives wrong numbers. So the GPU backend never builds a positional
argument list by hand. It names every argument, and :func:`bind` orders them as the signature in
``kernels/<file>.cu`` does, casting Python numbers to the parameter's type (refusing values that
do not fit) and refusing arrays of another dtype, non-contiguous arrays, or a missing or unknown
name, each with the parameter it concerns. The tests' host shim runs the same checks on the
same tuple, so a mismatch fails on a machine without a GPU.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

from kmc_ald.engine.backends.kernels import kernel_dir

_C_TYPES = {"uint8_t": np.uint8, "int32_t": np.int32, "uint32_t": np.uint32, "int64_t": np.int64,
            "uint64_t": np.uint64, "unsigned long long": np.uint64, "double": np.float64}


class Parameter(NamedTuple):
    """One parameter of a kernel: its name, element or scalar type, and whether it is a pointer."""

    name: str
    dtype: np.dtype
    pointer: bool


@functools.cache
def kernel_signature(source: str, name: str) -> tuple[Parameter, ...]:
    """The parameters of kernel ``name`` in ``kernels/<source>``, in order."""
    text = re.sub(r"//[^\n]*", "", (kernel_dir() / source).read_text())
    match = re.search(rf"KMC_KERNEL\s+void\s+{name}\s*\((.*?)\)\s*{{", text, re.S)
    if match is None:
        raise ValueError(f"kernel {name} not found in kernels/{source}")
    # parameter lists shared by several kernels are object-like macros of the same file
    macros = {m[1]: m[2].replace("\\\n", " ")
              for m in re.finditer(r"#define\s+(\w+)[ \t]+((?:[^\n]*\\\n)*[^\n]*)", text)}
    listed = re.sub(r"\b\w+\b", lambda w: macros.get(w[0], w[0]), match[1])
    params = []
    for raw in listed.split(","):
        words = [w for w in raw.replace("*", " * ").split() if w not in ("const", "KMC_RESTRICT")]
        pointer = "*" in words
        words = [w for w in words if w != "*"]
        ctype = " ".join(words[:-1])
        if ctype not in _C_TYPES:
            raise ValueError(f"kernels/{source}: parameter {words[-1]} of {name} has type "
                             f"{ctype!r}, which the launcher does not know ({', '.join(_C_TYPES)})")
        params.append(Parameter(words[-1], np.dtype(_C_TYPES[ctype]), pointer))
    return tuple(params)


def check_argument(param: Parameter, value) -> None:
    """Raise TypeError unless ``value`` is what ``param`` takes: a C-contiguous array (NumPy or
    CuPy) of its dtype for a pointer, a NumPy scalar of its dtype otherwise."""
    if param.pointer:
        dtype, flags = getattr(value, "dtype", None), getattr(value, "flags", None)
        if dtype != param.dtype or flags is None or not flags.c_contiguous:
            raise TypeError(f"{param.name}: expected a C-contiguous {param.dtype} array, got "
                            f"{type(value).__name__} {dtype or ''}".rstrip())
    elif not (isinstance(value, np.generic) and value.dtype == param.dtype):
        raise TypeError(f"{param.name}: expected a {param.dtype} scalar, got "
                        f"{type(value).__name__} {getattr(value, 'dtype', '')}".rstrip())


def bind(signature: tuple[Parameter, ...], arguments: Mapping[str, object]) -> tuple:
    """The launch tuple for ``arguments`` (parameter name -> value), in signature order.

    Python and NumPy integers for scalar parameters are cast to the parameter's type, after a
    range check, and Python floats to a double parameter; everything else must match exactly
    (:func:`check_argument`).
    """
    names = [p.name for p in signature]
    missing = [n for n in names if n not in arguments]
    unknown = [n for n in arguments if n not in names]
    if missing or unknown:
        raise TypeError(f"kernel arguments: missing {missing or 'none'}, unknown "
                        f"{unknown or 'none'}")
    out = []
    for param in signature:
        value = arguments[param.name]
        if not param.pointer and isinstance(value, int | np.integer):
            info = np.iinfo(param.dtype)
            if not info.min <= int(value) <= info.max:
                raise OverflowError(f"{param.name} = {int(value)} does not fit {param.dtype}")
            value = param.dtype.type(value)
        elif not param.pointer and param.dtype.kind == "f" and isinstance(value, float):
            value = param.dtype.type(value)
        check_argument(param, value)
        out.append(value)
    return tuple(out)
