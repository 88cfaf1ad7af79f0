"""The versions that make a run reproducible: initcheck's, Python's and the libraries'."""

from __future__ import annotations

import contextlib
import importlib.metadata
import platform
import sys

from initcheck._version import __version__

#: The libraries a run's results can depend on, in report order.
LIBRARIES = ("numpy", "scipy", "tensorflow", "keras", "torch", "jax", "flax", "transformers")


def versions(*, installed: bool = False) -> dict[str, str]:
    """``{name: version}`` of initcheck, Python and each loaded library of :data:`LIBRARIES`.

    Args:
        installed: also name the libraries installed but not loaded in this run (read
            from their metadata, never imported), as ``"2.21.0 (installed, not loaded)"``.
    """
    env = {"initcheck": __version__, "python": platform.python_version()}
    for mod in LIBRARIES:
        if mod in sys.modules:
            env[mod] = str(getattr(sys.modules[mod], "__version__", "?"))
        elif installed:
            with contextlib.suppress(importlib.metadata.PackageNotFoundError):
                env[mod] = f"{importlib.metadata.version(mod)} (installed, not loaded)"
    return env
