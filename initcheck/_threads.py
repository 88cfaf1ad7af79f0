"""BLAS threading for the checks' small matrix products."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from threadpoolctl import threadpool_limits


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """One BLAS thread inside the block (restored afterwards).

    The checks multiply and decompose matrices of at most a few hundred rows; a BLAS
    thread pool gains nothing there and, when other processes (pytest-xdist workers,
    TensorFlow) hold the cores, its spinning threads make an SVD 10-20x slower.
    """
    with threadpool_limits(limits=1, user_api="blas"):
        yield
