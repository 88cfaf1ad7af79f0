"""What the command's modules share: exit codes, the usage error, output helpers (files
are written by :mod:`initcheck.output`, the one output path)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from initcheck.output import FORMATS, write_outputs

if TYPE_CHECKING:
    from initcheck.output import Output

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


def write(args: argparse.Namespace, output: Output) -> None:
    """Write ``output`` in every format the command line asked for (``--json``,
    ``--report``, …), saying where each file went.

    Args:
        args: the parsed arguments (one attribute per format of
            :data:`initcheck.output.FORMATS`).
        output: what the command has to write.
    """

    paths = {name: getattr(args, name, None) for name in FORMATS}
    for f, path in write_outputs(output, paths):
        if path is not None:
            say(args, f"{f.noun} written to {path}")
