"""``python -m initcheck``: the command line (see :mod:`initcheck.cli`)."""

from initcheck.cli import main

raise SystemExit(main())
