"""A one-line spinner for the long commands (training, loading TensorFlow)."""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import TextIO


class Progress:
    """A one-line spinner with elapsed seconds on a terminal; silent otherwise.

    On a terminal it writes to its own duplicate of the stderr file descriptor, so it
    keeps drawing while TensorFlow's import has file descriptor 2 captured (see
    :mod:`initcheck._tf`).

    Args:
        stream: where to draw (default: stderr); drawing happens only if it is a tty.
    """

    _FRAMES = "|/-\\"

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self._owned = False
        if self.enabled and stream is None:
            try:
                self.stream = os.fdopen(os.dup(sys.stderr.fileno()), "w", encoding="utf-8")
                self._owned = True
            except (OSError, ValueError, AttributeError):
                pass
        self._text = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._start = time.monotonic()

    def update(self, text: str) -> None:
        """Show ``text`` (with a spinner and the elapsed time) until the next update."""
        if not self.enabled:
            return
        self._text = text
        self._start = time.monotonic()
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()

    def _run(self) -> None:
        i = 0
        while not self._stop.wait(0.2):
            elapsed = time.monotonic() - self._start
            self.stream.write(f"\r\x1b[K{self._FRAMES[i % 4]} {self._text} {elapsed:.0f}s")
            self.stream.flush()
            i += 1

    def close(self) -> None:
        """Stop the spinner and clear its line (idempotent)."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._thread = None
        if self._owned:
            self._owned = False
            self.stream.close()
            self.stream = sys.stderr

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
