"""Suite-wide test configuration: Hypothesis settings profiles.

- ``ci`` (loaded when the ``CI`` environment variable is set): derandomized, no deadline,
  no example database, so every CI run draws the same examples (the statistical checks'
  seeds are fixed too), and slow shared runners never trip a deadline.
- ``dev`` (default elsewhere): randomized, no deadline, the local example database.

Select one explicitly with ``HYPOTHESIS_PROFILE=ci`` or ``--hypothesis-profile=ci``.

Under pytest-xdist each worker runs torch, TensorFlow and BLAS on one thread (unless the
environment already says otherwise): two workers on two cores then never oversubscribe
them, so a model audit on one worker cannot starve the other worker's timed Hypothesis
examples. Set before any test module imports a framework.
The initcheck plugin is *not* registered here: its ``pytest11`` entry point loads it once
the package is installed (``pip install -e .``); registering it again would fail.
"""

from __future__ import annotations

import os

if os.environ.get("PYTEST_XDIST_WORKER"):
    for var in (
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
        "TF_NUM_INTRAOP_THREADS",
    ):
        os.environ.setdefault(var, "1")

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
)
