"""The ``initcheck`` command line: ``initcheck check SPEC``, ``initcheck compare SPEC...``
and ``initcheck audit SPEC`` (a whole model; see :mod:`~initcheck.cli.audit`).

Exit codes: 0 all checks passed (or the comparison ran), 1 a check failed (or an
initializer misbehaved while training, or a check crashed), 2 a usage or load error
(unknown Keras name, unimportable ``module:attr``, missing file, bad option). Errors are
one line on stderr, never a traceback.

Run as a command (the ``initcheck`` console script, or ``python -m initcheck``), a
``module:attr`` SPEC is imported with the current directory first on ``sys.path``, as
``python -m`` does, so ``initcheck check mypkg.inits:my_he`` works from a project root
(not under ``python -P`` / ``PYTHONSAFEPATH``, which ask for no such entry).

Importing this package is cheap, and so is a usage error: the SPECs, targets, check names
and options are validated before TensorFlow, Keras or the checks are imported (see
:mod:`initcheck.cli.commands`). Modules: :mod:`~initcheck.cli.parser` (arguments),
:mod:`~initcheck.cli.commands` (the commands), :mod:`~initcheck.cli.progress` (spinner).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from initcheck._tf import prefer_quiet as prefer_quiet
from initcheck.cli._common import CLASSIC_BATCHES as CLASSIC_BATCHES
from initcheck.cli._common import EXIT_FAILED as EXIT_FAILED
from initcheck.cli._common import EXIT_OK as EXIT_OK
from initcheck.cli._common import EXIT_USAGE as EXIT_USAGE
from initcheck.cli._common import UsageError as UsageError
from initcheck.cli.parser import build_parser as build_parser
from initcheck.cli.progress import Progress as Progress


def _import_from_cwd() -> None:
    """Put the current directory first on ``sys.path``, as ``python -m`` does.

    A console script's ``sys.path[0]`` is the directory of the script (``.../bin``), so
    without this a user's package in the project root is not importable.
    """
    if getattr(sys.flags, "safe_path", False):  # python -P / PYTHONSAFEPATH (3.11+)
        return
    cwd = os.getcwd()
    if not any(os.path.abspath(entry or os.curdir) == cwd for entry in sys.path):
        sys.path.insert(0, cwd)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.

    Args:
        argv: the arguments (default: ``sys.argv[1:]``; then the current directory is
            also made importable, as ``python -m`` does).

    Returns:
        The exit code: 0 passed, 1 failed, 2 usage error, 130 interrupted.
    """

    prefer_quiet()  # TF_CPP_MIN_LOG_LEVEL before anything may load TensorFlow (env only)
    if argv is None:  # run as a command, not called from Python
        _import_from_cwd()
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help/--version (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except UsageError as exc:
        print(f"initcheck {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:  # unwritable --json/--report path
        print(f"initcheck {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("initcheck: interrupted", file=sys.stderr)
        return 130
