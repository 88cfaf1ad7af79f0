"""TensorFlow's start-up noise, silenced when initcheck is the one importing it.

Importing TensorFlow 2.x prints C++ log lines on stderr ("oneDNN custom operations are
on", "Could not find cuda drivers", "failed call to cuInit", "All log messages before
absl::InitializeLog() is called ..."). Some are written by static initializers while the
shared libraries load, before TensorFlow reads ``TF_CPP_MIN_LOG_LEVEL``, so the variable
alone does not hide them. Unless the user has set ``TF_CPP_MIN_LOG_LEVEL`` (then their
choice rules and nothing is filtered), initcheck:

- sets ``TF_CPP_MIN_LOG_LEVEL=3`` and absl's Python verbosity to ERROR
  (:func:`quiet_tensorflow`);
- imports TensorFlow/Keras with the process's stderr (file descriptor 2) captured, and
  writes back every captured line except absl-format C++ log lines below FATAL
  (:func:`import_quietly`).

Standard library only; nothing here imports TensorFlow at module import.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import tempfile
import threading
from types import ModuleType

__all__ = ["ENV_VAR", "import_quietly", "quiet_tensorflow"]

ENV_VAR = "TF_CPP_MIN_LOG_LEVEL"

#: absl/TSL C++ log lines below FATAL (``I0000 00:00:17.1  123 port.cc:153] ...``) and the
#: absl banner printed before ``absl::InitializeLog()``.
_NOISE = re.compile(
    r"^(?:[IWE]\d{4} \d+:\d+:\d+\.\d+\s+\d+ \S+:\d+\] .*"
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR)"
    r"\r?\n?$"
)
_LOCK = threading.Lock()


def _user_chose() -> bool:
    return os.environ.get(ENV_VAR, "") != "" and os.environ.get("_INITCHECK_TF_QUIET") != "1"


def quiet_tensorflow() -> bool:
    """Lower TensorFlow's C++ and absl log levels unless the user chose a level.

    Sets ``TF_CPP_MIN_LOG_LEVEL=3`` (only if unset) and, when absl is installed, absl's
    Python logging verbosity to ERROR.

    Returns:
        Whether initcheck chose the level (``False``: the user set ``TF_CPP_MIN_LOG_LEVEL``
        and nothing was changed).
    """
    if _user_chose():
        return False
    os.environ[ENV_VAR] = "3"
    os.environ["_INITCHECK_TF_QUIET"] = "1"  # remembers that the level is ours, not the user's
    try:
        from absl import logging as absl_logging
    except ImportError:  # pragma: no cover - absl comes with TensorFlow
        return True
    absl_logging.set_verbosity(absl_logging.ERROR)
    return True


def import_quietly(name: str) -> ModuleType:
    """Import ``name`` (``"tensorflow"`` or ``"keras"``) without TensorFlow's start-up logs.

    Args:
        name: the module to import.

    Returns:
        The module.

    Raises:
        ImportError: the module is not installed (its own error, stderr restored).
    """
    if name in sys.modules:
        quiet_tensorflow()
        return sys.modules[name]
    if not quiet_tensorflow():
        return importlib.import_module(name)
    with _LOCK:
        if name in sys.modules:
            return sys.modules[name]
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        saved = os.dup(2)
        with tempfile.TemporaryFile() as tmp:
            os.dup2(tmp.fileno(), 2)
            try:
                return importlib.import_module(name)
            finally:
                sys.stderr.flush()
                os.dup2(saved, 2)
                os.close(saved)
                tmp.seek(0)
                text = tmp.read().decode("utf-8", errors="replace")
                kept = "".join(
                    line for line in text.splitlines(keepends=True) if not _NOISE.match(line)
                )
                if kept:
                    os.write(2, kept.encode("utf-8"))
