"""Threads: BLAS threading for the checks' small matrix products, and the daemon worker
that runs initializer calls under a time limit."""

from __future__ import annotations

import contextlib
import queue
import threading
import weakref
from collections.abc import Callable, Iterator
from typing import Any

from threadpoolctl import threadpool_limits


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """One BLAS thread inside the block (restored afterwards).

    The checks multiply and decompose matrices of at most a few hundred rows; a BLAS
    thread pool gains nothing there and, when other processes (pytest-xdist workers,
    TensorFlow) hold the cores, its spinning threads make an SVD 10-20x slower.
    Nested blocks cost nothing (reading the BLAS libraries' state costs milliseconds).
    """
    if _blas_limited[0]:  # the limit is process-wide: already one thread
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        _blas_limited[0] += 1
        try:
            yield
        finally:
            _blas_limited[0] -= 1


_blas_limited = [0]  # enclosing blocks of single_threaded_blas


class CallTimeout(Exception):
    """A call on a :class:`DaemonWorker` did not return within its time limit."""


class _Job:
    __slots__ = ("abandoned", "args", "done", "error", "fn", "result")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.fn, self.args = fn, args
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None
        self.abandoned = False


_running = threading.local()  # the job a worker's thread runs


def abandoned() -> bool:
    """Whether the call running on this thread was given up by its caller (it overran
    its time limit): long work that can stop between steps polls it, so an abandoned
    call does not keep running (a streamed pass drawing weight after weight)."""
    job = getattr(_running, "job", None)
    return job is not None and job.abandoned


def _serve(jobs: queue.SimpleQueue[_Job | None]) -> None:
    while True:
        job = jobs.get()
        if job is None:  # the worker was collected (or abandoned and then collected)
            return
        _running.job = job
        try:
            job.result = job.fn(*job.args)
        except BaseException as exc:  # handed to the caller, like concurrent.futures
            job.error = exc
        _running.job = None
        job.fn = job.args = None  # type: ignore[assignment]
        job.done.set()
        del job


class DaemonWorker:
    """Runs calls one at a time on its own *daemon* thread, each with a time limit.

    A call that overruns its limit cannot be killed (Python has no way to stop a thread):
    :meth:`run` raises :class:`CallTimeout` and the caller abandons the worker (starts a
    new one for later calls). Because the thread is a daemon, the abandoned call does not
    keep the interpreter alive: at exit Python does not wait for it, unlike the threads of
    :class:`concurrent.futures.ThreadPoolExecutor`, which are joined at exit. The thread
    stops once the worker is garbage-collected and its current call (if any) returns.
    """

    def __init__(self, name: str) -> None:
        jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._jobs = jobs
        # The thread holds only the queue, so collecting the worker can stop it.
        threading.Thread(target=_serve, args=(jobs,), name=name, daemon=True).start()
        weakref.finalize(self, jobs.put, None)

    def run(self, fn: Callable[..., Any], *args: Any, timeout: float) -> Any:
        """``fn(*args)`` on the worker's thread.

        Args:
            fn: the function.
            *args: its arguments.
            timeout: seconds to wait for it.

        Returns:
            What ``fn`` returned.

        Raises:
            CallTimeout: it did not return within ``timeout`` seconds (it keeps running;
                do not submit more calls to this worker).
            BaseException: whatever ``fn`` raised.
        """
        job = _Job(fn, args)
        self._jobs.put(job)
        if not job.done.wait(timeout):
            job.abandoned = True  # the call may stop early: see abandoned()
            raise CallTimeout
        if job.error is not None:
            error, job.error = job.error, None
            try:
                raise error
            finally:
                del error
        return job.result
