"""TensorFlow's start-up noise, silenced unless the user chose a log level.

Importing TensorFlow 2.x prints C++ log lines on stderr ("oneDNN custom operations are
on", "Could not find cuda drivers", "failed call to cuInit", "All log messages before
absl::InitializeLog() is called ..."). Some are written by static initializers while the
shared libraries load, before TensorFlow reads ``TF_CPP_MIN_LOG_LEVEL``, so the variable
alone does not hide them (even when set before the process starts). Unless the user has
set ``TF_CPP_MIN_LOG_LEVEL`` (then their choice rules and nothing is filtered), initcheck:

- sets ``TF_CPP_MIN_LOG_LEVEL=3`` as early as it can: when the pytest plugin is loaded
  and when the command line starts (:func:`prefer_quiet`, the environment only, no
  import), so every line TensorFlow logs after loading is below the level;
- sets absl's Python verbosity to ERROR when it imports TensorFlow or a user's module
  (:func:`quiet_tensorflow`);
- imports TensorFlow/Keras, and the user's modules named by a SPEC (which may import
  Keras first), with the process's stderr (file descriptor 2) captured, and writes back
  every captured line except absl-format C++ log lines below FATAL (:func:`quiet_stderr`,
  :func:`import_quietly`).

Standard library only; nothing here imports TensorFlow at module import.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import sys
import threading
from collections.abc import Iterator
from types import ModuleType

ENV_VAR = "TF_CPP_MIN_LOG_LEVEL"

#: absl/TSL C++ log lines below FATAL (``I0000 00:00:17.1  123 port.cc:153] ...``) and the
#: absl banner printed before ``absl::InitializeLog()``.
_NOISE = re.compile(
    r"^(?:[IWE]\d{4} \d+:\d+:\d+\.\d+\s+\d+ \S+:\d+\] .*"
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    # the second line of cpu_feature_guard's message (printed when the level is set late)
    r"|To enable the following instructions: .*, in other operations, rebuild TensorFlow "
    r"with the appropriate compiler flags\.)"
    r"\r?\n?$"
)
_LOCK = threading.RLock()  # re-entrant: a captured import may import TensorFlow quietly


def _user_chose() -> bool:
    return os.environ.get(ENV_VAR, "") != "" and os.environ.get("_INITCHECK_TF_QUIET") != "1"


def prefer_quiet() -> bool:
    """Set ``TF_CPP_MIN_LOG_LEVEL=3`` unless the user chose a level: the environment only,
    no import, so it is cheap enough for the plugin's load and the command line's start.

    Returns:
        Whether initcheck chose the level (``False``: the user set ``TF_CPP_MIN_LOG_LEVEL``
        and nothing was changed).
    """
    if _user_chose():
        return False
    os.environ[ENV_VAR] = "3"
    os.environ["_INITCHECK_TF_QUIET"] = "1"  # remembers that the level is ours, not the user's
    return True


def quiet_tensorflow() -> bool:
    """Lower TensorFlow's C++ and absl log levels unless the user chose a level.

    Sets ``TF_CPP_MIN_LOG_LEVEL=3`` (:func:`prefer_quiet`) and, when absl is installed,
    absl's Python logging verbosity to ERROR.

    Returns:
        Whether initcheck chose the level (``False``: the user set ``TF_CPP_MIN_LOG_LEVEL``
        and nothing was changed).
    """
    if not prefer_quiet():
        return False
    try:
        from absl import logging as absl_logging
    except ImportError:  # pragma: no cover - absl comes with TensorFlow
        return True
    absl_logging.set_verbosity(absl_logging.ERROR)
    return True


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Run the block with TensorFlow's start-up lines removed from stderr.

    For imports that may load TensorFlow: TensorFlow or Keras itself, or a user's module
    named by a SPEC. Unless the user chose a level (then the block runs untouched), file
    descriptor 2 is captured for the block and every captured line that is not an
    absl-format log line below FATAL is written back when it ends (also when it raises).
    """
    if not quiet_tensorflow():
        yield
        return
    import tempfile

    with _LOCK:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        saved = os.dup(2)
        with tempfile.TemporaryFile() as tmp:
            os.dup2(tmp.fileno(), 2)
            try:
                yield
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
    with quiet_stderr():
        return importlib.import_module(name)
