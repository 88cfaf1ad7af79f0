"""What the command's modules share: exit codes, the usage error, output helpers (files
are written by :mod:`initcheck.output`, the one output path)."""

from __future__ import annotations

import argparse
import sys

__all__ = [
    "CLASSIC_BATCHES",
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_USAGE",
    "UsageError",
    "say",
]

#: Default training length of ``compare --classic``: the notebook's 858 batches (2 epochs
#: of its 55,000 images; ~28 epochs of the bundled 4,000), about 25 s on 2 CPU cores.
CLASSIC_BATCHES = 858

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """A bad SPEC, target or option: printed as one line, exit code 2."""


def say(args: argparse.Namespace, text: str) -> None:
    """Human output: stdout, or stderr when the JSON goes to stdout.

    Args:
        args: the parsed arguments (their ``json`` decides the stream).
        text: one or more lines.
    """
    stream = sys.stderr if getattr(args, "json", None) == "-" else sys.stdout
    stream.write(text + "\n")
