"""``python -m initcheck``: the command line, the same as the ``initcheck`` script."""

from __future__ import annotations

import sys

from initcheck.cli import main

if __name__ == "__main__":
    sys.exit(main())
