"""MNIST for the training check: the bundled real-MNIST subset, or your own full MNIST.

Sources, in order of precedence:

1. ``load_mnist(path=...)`` (the pytest option ``--initcheck-mnist`` passes its value here);
2. the environment variable ``INITCHECK_MNIST``;
3. the bundled subset ``initcheck/data/mnist.npz``: 5,000 real MNIST digits (4,000 train /
   1,000 validation, stratified, see ``initcheck/data/PROVENANCE.md``).

A user path may be:

- a Keras ``mnist.npz`` (keys ``x_train``, ``y_train``, and usually ``x_test``, ``y_test``,
  which are not used); a file with keys ``x_train, y_train, x_val, y_val`` (the bundled
  layout) is used with its own split;
- a directory holding ``train-images-idx3-ubyte`` and ``train-labels-idx1-ubyte``
  (each optionally gzipped, ``.gz``; the ``t10k-*`` test files are not needed), or a
  sequence of those file paths.

Split of a user file without its own validation set: the **first N/12** training images are
validation and the rest train; for full MNIST that is the classic split of TensorFlow's old
``read_data_sets`` (first 5,000 of the 60,000 training images validation, 55,000 train).

Nothing here touches the network, and this module does not import TensorFlow.
"""

from __future__ import annotations

import functools
import gzip
import importlib.resources
import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ENV_VAR = "INITCHECK_MNIST"
_IMAGES_MAGIC = 0x00000803  # unsigned byte, 3 dimensions
_LABELS_MAGIC = 0x00000801  # unsigned byte, 1 dimension
_IDX_NAMES = {
    "images": ("train-images-idx3-ubyte", "train-images.idx3-ubyte"),
    "labels": ("train-labels-idx1-ubyte", "train-labels.idx1-ubyte"),
}
_NPZ_FORMAT = (
    "a Keras-style mnist.npz with uint8 arrays x_train (N, 28, 28) and integer labels "
    "y_train (N,) (x_test/y_test optional), or a directory with the IDX files "
    "train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz]"
)


@dataclass(frozen=True, eq=False)
class MNIST:
    """Training and validation data, ready for the training check.

    Attributes:
        x_train: float32 array (N, 784), pixels scaled to [0, 1].
        y_train: int32 array (N,), digits 0..9.
        x_val: float32 array (M, 784).
        y_val: int32 array (M,).
        source: where the data came from (for messages and reports).
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    source: str

    def __repr__(self) -> str:
        return (
            f"MNIST(train={len(self.y_train)}, validation={len(self.y_val)}, "
            f"source={self.source!r})"
        )


def load_mnist(
    path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
) -> MNIST:
    """Load MNIST from ``path``, from ``$INITCHECK_MNIST``, or the bundled subset.

    Results are cached per path, so repeated calls are free.

    Args:
        path: a Keras ``mnist.npz``, a directory with the IDX training files, or a sequence
            of the IDX file paths. ``None`` uses ``$INITCHECK_MNIST`` if set, else the bundled
            5,000-image subset.

    Returns:
        An :class:`MNIST` with float32 pixels in [0, 1] (flattened to 784) and int32 labels.

    Raises:
        FileNotFoundError: the path (or a required IDX file) does not exist.
        ValueError: the file is not in the expected format (the message names the file and
            the format).

    Example:
        >>> data = load_mnist()
        >>> data.x_train.shape, data.x_val.shape
        ((4000, 784), (1000, 784))
    """
    if path is None:
        env = os.environ.get(ENV_VAR, "").strip()
        if not env:
            return _load_bundled()
        path = env
    if isinstance(path, str | os.PathLike):
        return _load_path(str(Path(path).expanduser().resolve()))
    paths = tuple(str(Path(p).expanduser().resolve()) for p in path)
    return _load_idx_files(paths)


@functools.lru_cache(maxsize=1)
def _load_bundled() -> MNIST:
    resource = importlib.resources.files("initcheck") / "data" / "mnist.npz"
    with resource.open("rb") as fh, np.load(fh) as npz:
        arrays = {k: npz[k] for k in ("x_train", "y_train", "x_val", "y_val")}
    return _make(arrays, source="bundled MNIST subset (4,000 train / 1,000 validation)")


@functools.lru_cache(maxsize=4)
def _load_path(path: str) -> MNIST:
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(
            f"MNIST file not found: {path}. Expected {_NPZ_FORMAT} (set by path=, "
            f"${ENV_VAR} or --initcheck-mnist)."
        )
    if p.is_dir():
        files = [str(child) for child in sorted(p.iterdir())]
        return _load_idx_files(tuple(files), where=path)
    return _load_npz(path)


def _load_npz(path: str) -> MNIST:
    try:
        with np.load(path, allow_pickle=False) as npz:
            keys = set(npz.files)
            if {"x_train", "y_train", "x_val", "y_val"} <= keys:
                arrays = {k: npz[k] for k in ("x_train", "y_train", "x_val", "y_val")}
                return _make(arrays, source=path)
            if not {"x_train", "y_train"} <= keys:
                raise ValueError(
                    f"{path} has keys {sorted(keys)}; expected x_train and y_train ({_NPZ_FORMAT})."
                )
            x, y = npz["x_train"], npz["y_train"]
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ValueError(
            f"{path} is not a readable .npz file ({exc}); expected {_NPZ_FORMAT}."
        ) from exc
    except ValueError as exc:
        if str(exc).startswith(path):
            raise
        raise ValueError(
            f"{path} could not be read as .npz ({exc}); expected {_NPZ_FORMAT}."
        ) from exc
    return _split_first_twelfth(x, y, source=path)


def _find_idx(files: Sequence[str], kind: str, where: str) -> str:
    for name in _IDX_NAMES[kind]:
        for candidate in (name, name + ".gz"):
            for f in files:
                if Path(f).name == candidate:
                    return f
    expected = " or ".join(f"{n}[.gz]" for n in _IDX_NAMES[kind])
    raise FileNotFoundError(f"No {expected} found in {where}; expected {_NPZ_FORMAT}.")


@functools.lru_cache(maxsize=4)
def _load_idx_files(files: tuple[str, ...], where: str | None = None) -> MNIST:
    where = where or ", ".join(files)
    for f in files:
        if not Path(f).exists():
            raise FileNotFoundError(f"MNIST IDX file not found: {f}.")
    images = _read_idx(_find_idx(files, "images", where), _IMAGES_MAGIC)
    labels = _read_idx(_find_idx(files, "labels", where), _LABELS_MAGIC)
    return _split_first_twelfth(images, labels, source=where)


def _read_idx(path: str, magic: int) -> np.ndarray:
    """Read one IDX file (optionally gzipped) and return its uint8 array."""
    raw = Path(path).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise ValueError(f"{path} is a damaged gzip file ({exc}).") from exc
    ndim = magic & 0xFF
    kind = "images (magic 0x00000803)" if ndim == 3 else "labels (magic 0x00000801)"
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path} is too short ({len(raw)} bytes) for an IDX file of {kind}.")
    found = int.from_bytes(raw[:4], "big")
    if found != magic:
        raise ValueError(
            f"{path} has magic number 0x{found:08X}; expected 0x{magic:08X} for an IDX "
            f"file of {kind} (train-images-idx3-ubyte / train-labels-idx1-ubyte, "
            "optionally gzipped)."
        )
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    size = int(np.prod(dims))
    if len(raw) - header != size:
        raise ValueError(
            f"{path}: the header announces shape {dims} ({size} bytes) but the file holds "
            f"{len(raw) - header} bytes of data; the file is truncated or not MNIST IDX."
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _split_first_twelfth(x: np.ndarray, y: np.ndarray, source: str) -> MNIST:
    if x.ndim < 2 or x.shape[1:] not in ((28, 28), (784,)):
        _pixels(x, source, "x_train")  # raises, naming the full array's shape
    _labels(y, len(x), source, "y_train")
    n = len(x)
    n_val = max(1, round(n / 12))
    if n < 2:
        raise ValueError(f"{source} holds {n} training image(s); need at least 2.")
    arrays = {"x_train": x[n_val:], "y_train": y[n_val:], "x_val": x[:n_val], "y_val": y[:n_val]}
    return _make(arrays, source=f"{source} (first {n_val} training images as validation)")


def _pixels(x: np.ndarray, source: str, key: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim == 3 and x.shape[1:] == (28, 28):
        x = x.reshape(len(x), 784)
    if x.ndim != 2 or x.shape[1] != 784:
        raise ValueError(
            f"{source}: {key} has shape {x.shape}; expected (N, 28, 28) or (N, 784) images "
            f"({_NPZ_FORMAT})."
        )
    if x.dtype == np.uint8:
        out = np.empty(x.shape, dtype=np.float32)
        return np.divide(x, np.float32(255), out=out, dtype=np.float32)
    if x.dtype.kind == "f" and x.size and float(x.min()) >= 0.0 and float(x.max()) <= 1.0:
        return x.astype(np.float32)
    raise ValueError(
        f"{source}: {key} has dtype {x.dtype}; expected uint8 pixels 0-255 (or floats in [0, 1])."
    )


def _labels(y: np.ndarray, n: int, source: str, key: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != n:
        raise ValueError(
            f"{source}: {key} has shape {y.shape}; expected ({n},) integer labels matching "
            "the images."
        )
    if y.dtype.kind not in "iu" or (y.size and (y.min() < 0 or y.max() > 9)):
        raise ValueError(f"{source}: {key} must hold integer digits 0..9 (dtype {y.dtype}).")
    return y.astype(np.int32)


def _make(arrays: dict[str, np.ndarray], source: str) -> MNIST:
    x_train = _pixels(arrays["x_train"], source, "x_train")
    x_val = _pixels(arrays["x_val"], source, "x_val")
    out = MNIST(
        x_train=x_train,
        y_train=_labels(arrays["y_train"], len(x_train), source, "y_train"),
        x_val=x_val,
        y_val=_labels(arrays["y_val"], len(x_val), source, "y_val"),
        source=source,
    )
    for arr in (out.x_train, out.y_train, out.x_val, out.y_val):
        arr.setflags(write=False)
    return out
