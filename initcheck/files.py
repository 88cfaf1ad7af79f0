"""One way to write every file initcheck writes (reports, JSON): atomically, with the
user's umask."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` so that a reader never sees a half-written file.

    The text goes to a uniquely named temporary file in the same directory (so two
    concurrent writers never share one), is flushed to disk, given the permissions a new
    file gets under the user's umask (``0o666 & ~umask``), and renamed over ``path``.
    Parent directories are created.

    Args:
        path: the file to write.
        text: its content (UTF-8, ``\\n`` line endings).

    Returns:
        The path written.

    Raises:
        IsADirectoryError: ``path`` is a directory.
    """
    target = Path(path)
    if target.is_dir():
        raise IsADirectoryError(
            f"{str(target)!r} is a directory; give a file name. Received: path={str(path)!r}"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
