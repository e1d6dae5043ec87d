"""Errors a user can cause or meet, each with its own process exit code.

The CLI prints ``str(err)`` for any :class:`KmcAldError` without a traceback and exits with
``err.exit_code``; anything else is a bug in kmc-ald and is shown with its traceback.
"""
from __future__ import annotations

import contextlib


class KmcAldError(Exception):
    """Base class of every error kmc-ald raises on purpose."""

    exit_code = 1


class ScenarioError(KmcAldError, ValueError):
    """The scenario (or an override) is invalid; found before anything runs."""

    exit_code = 2

    def __init__(self, message: str, problems: list | None = None):
        super().__init__(message)
        self.problems = problems or []


class BackendUnavailableError(KmcAldError, RuntimeError):
    """A requested backend (e.g. ``gpu``) cannot run on this machine."""

    exit_code = 3


class KernelCompileError(KmcAldError, RuntimeError):
    """A kernel failed to compile; the message carries the file, line and compiler log."""

    exit_code = 4


class RunFileError(KmcAldError, OSError):
    """A run file is unreadable, incompatible, or would be overwritten."""

    exit_code = 5


class OutputError(KmcAldError, OSError):
    """An output (a trajectory, a structure, a report or sweep folder) cannot be written
    where it was asked for: a missing or read-only folder, no permission, a full disk."""

    exit_code = 5


@contextlib.contextmanager
def writing(path, what: str):
    """Turn the operating system's refusal to write ``path`` (``what``: e.g. "the report
    folder") into one OutputError line naming it and the reason."""
    try:
        yield
    except KmcAldError:
        raise
    except OSError as err:
        raise OutputError(f"cannot write {what} {path}: {err.strerror or err}") from None
