"""The bundled MNIST subset and loading the user's own MNIST (npz and IDX files)."""

from __future__ import annotations

import gzip
import hashlib
import importlib.resources
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from initcheck import mnist
from initcheck.mnist import ENV_VAR, load_mnist

BUNDLED_SHA256 = "5d3245498ff5095c0377cd9de03a51786b23d6180855d227b7efd3e4e1b7bebf"


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)


def _fake(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n).astype(
        np.uint8
    )


def _write_idx(path: Path, arr: np.ndarray, magic: int, compress: bool) -> Path:
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in arr.shape)
    raw = header + arr.astype(np.uint8).tobytes()
    if compress:
        path = path.with_name(path.name + ".gz")
        raw = gzip.compress(raw)
    path.write_bytes(raw)
    return path


def _idx_dir(
    tmp_path: Path, n: int = 24, compress: bool = False
) -> tuple[Path, np.ndarray, np.ndarray]:
    x, y = _fake(n)
    _write_idx(tmp_path / "train-images-idx3-ubyte", x, 0x803, compress)
    _write_idx(tmp_path / "train-labels-idx1-ubyte", y, 0x801, compress)
    return tmp_path, x, y


# ---------------------------------------------------------------- bundled data


def test_bundled_file_checksum() -> None:
    data = (importlib.resources.files("initcheck") / "data" / "mnist.npz").read_bytes()
    assert hashlib.sha256(data).hexdigest() == BUNDLED_SHA256
    assert len(data) < 3_000_000
    provenance = (importlib.resources.files("initcheck") / "data" / "PROVENANCE.md").read_text()
    assert BUNDLED_SHA256 in provenance
    assert "CC BY-SA 3.0" in provenance


def test_bundled_raw_arrays_are_uint8() -> None:
    with np.load(importlib.resources.files("initcheck") / "data" / "mnist.npz") as npz:
        assert sorted(npz.files) == ["x_train", "x_val", "y_train", "y_val"]
        assert npz["x_train"].dtype == np.uint8
        assert npz["x_train"].shape == (4000, 28, 28)
        assert npz["y_val"].dtype == np.uint8
        assert npz["x_train"].max() == 255


def test_bundled_shapes_dtypes_range_and_balance() -> None:
    data = load_mnist()
    assert data.x_train.shape == (4000, 784)
    assert data.x_val.shape == (1000, 784)
    assert data.x_train.dtype == np.float32
    assert data.y_train.dtype == np.int32
    for x in (data.x_train, data.x_val):
        assert x.min() == 0.0
        assert x.max() == 1.0
    assert np.bincount(data.y_train).tolist() == [400] * 10
    assert np.bincount(data.y_val).tolist() == [100] * 10
    assert "bundled" in data.source


def test_bundled_is_cached_and_read_only() -> None:
    assert load_mnist() is load_mnist()
    with pytest.raises(ValueError, match="read-only"):
        load_mnist().x_train[0, 0] = 1.0


def test_train_and_validation_are_disjoint() -> None:
    data = load_mnist()
    train = {row.tobytes() for row in data.x_train}
    assert not any(row.tobytes() in train for row in data.x_val)


def test_importing_mnist_does_not_import_tensorflow() -> None:
    code = "import initcheck.mnist as m, sys; m.load_mnist(); print('tensorflow' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parents[1],
    )
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------- user files


def test_keras_npz(tmp_path: Path) -> None:
    x, y = _fake(36)
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=x, y_train=y, x_test=x[:5], y_test=y[:5])
    data = load_mnist(path)
    assert data.x_val.shape == (3, 784)  # first N/12 are validation
    assert data.x_train.shape == (33, 784)
    np.testing.assert_array_equal(data.y_val, y[:3])
    np.testing.assert_allclose(data.x_train[0], x[3].reshape(-1) / 255, rtol=1e-6)
    assert str(path) in data.source


@pytest.mark.parametrize("compress", [False, True])
def test_idx_directory(tmp_path: Path, compress: bool) -> None:
    folder, x, y = _idx_dir(tmp_path, compress=compress)
    data = load_mnist(folder)
    assert len(data.y_val) == 2
    assert len(data.y_train) == 22
    np.testing.assert_array_equal(data.y_train, y[2:])
    np.testing.assert_allclose(data.x_val * 255, x[:2].reshape(2, -1), atol=1e-4)


def test_idx_file_list(tmp_path: Path) -> None:
    folder, _, y = _idx_dir(tmp_path, compress=True)
    files = sorted(folder.iterdir())
    data = load_mnist(files)
    np.testing.assert_array_equal(np.concatenate([data.y_val, data.y_train]), y)


def test_env_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder, _, y = _idx_dir(tmp_path)
    monkeypatch.setenv(ENV_VAR, str(folder))
    data = load_mnist()
    assert len(data.y_train) + len(data.y_val) == len(y)
    assert str(folder) in data.source


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope\.npz.*x_train"):
        load_mnist(tmp_path / "nope.npz")


def test_missing_idx_labels(tmp_path: Path) -> None:
    x, _ = _fake(12)
    _write_idx(tmp_path / "train-images-idx3-ubyte", x, 0x803, False)
    with pytest.raises(FileNotFoundError, match="train-labels-idx1-ubyte"):
        load_mnist(tmp_path)


def test_wrong_npz_keys(tmp_path: Path) -> None:
    path = tmp_path / "weird.npz"
    np.savez(path, images=np.zeros((3, 28, 28), np.uint8))
    with pytest.raises(ValueError, match=r"weird\.npz has keys \['images'\]; expected x_train"):
        load_mnist(path)


def test_not_an_npz(tmp_path: Path) -> None:
    path = tmp_path / "garbage.npz"
    path.write_bytes(b"this is not a zip file")
    with pytest.raises(ValueError, match=r"garbage\.npz"):
        load_mnist(path)


def test_wrong_image_shape(tmp_path: Path) -> None:
    path = tmp_path / "small.npz"
    np.savez(path, x_train=np.zeros((12, 8, 8), np.uint8), y_train=np.zeros(12, np.uint8))
    with pytest.raises(ValueError, match=r"x_train has shape \(12, 8, 8\)"):
        load_mnist(path)


def test_bad_labels(tmp_path: Path) -> None:
    path = tmp_path / "labels.npz"
    np.savez(path, x_train=np.zeros((12, 28, 28), np.uint8), y_train=np.full(12, 11))
    with pytest.raises(ValueError, match=r"digits 0\.\.9"):
        load_mnist(path)


@pytest.mark.parametrize("compress", [False, True])
def test_bad_magic_number(tmp_path: Path, compress: bool) -> None:
    x, y = _fake(12)
    _write_idx(tmp_path / "train-images-idx3-ubyte", x, 0x801, compress)  # labels' magic
    _write_idx(tmp_path / "train-labels-idx1-ubyte", y, 0x801, compress)
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte.*magic number 0x00000801"):
        load_mnist(tmp_path)


def test_truncated_idx(tmp_path: Path) -> None:
    _idx_dir(tmp_path)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ValueError, match="truncated"):
        load_mnist(tmp_path)


def test_caches_are_per_path(tmp_path: Path) -> None:
    a, _, _ = _idx_dir(tmp_path)
    assert load_mnist(a) is load_mnist(str(a))
    assert mnist.load_mnist() is not load_mnist(a)
