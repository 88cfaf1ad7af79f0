"""initcheck.audit on Keras models: acceptance cases (b), (d), (e) of issue 12."""

from __future__ import annotations

import pytest

keras = pytest.importorskip("keras")

import initcheck  # noqa: E402

L = keras.layers


def test_conv2d_transpose_he_normal_names_the_swapped_fan():
    def model():
        return keras.Sequential(
            [keras.Input((8, 8, 32)), L.Conv2DTranspose(8, 3, kernel_initializer="he_normal")]
        )

    row = initcheck.audit(model, variance="he", signal=False).row("conv2d_transpose.kernel")
    assert row.fans == (288, 72)
    assert not row["variance"].passed
    assert row["variance"].statistic == pytest.approx(4, rel=0.08)
    assert "swapped" in row.diagnosis


def test_depthwise_he_normal_names_the_depthwise_fan():
    def model():
        return keras.Sequential(
            [keras.Input((8, 8, 16)), L.DepthwiseConv2D(3, depthwise_initializer="he_normal")]
        )

    report = initcheck.audit(model, variance="he", signal=False)
    row = next(r for r in report.rows if r.role == "kernel")
    assert row.fans == (9, 9)
    assert row["variance"].statistic == pytest.approx(1 / 16, rel=0.08)
    assert "depthwise" in row.diagnosis and "fan_in=144" in row.diagnosis


def test_lstm_gates_a_third_of_glorot_and_orthogonal_recurrent_kernel():
    def model():
        return keras.Sequential([keras.Input((5, 16)), L.LSTM(32)])

    report = initcheck.audit(model, variance="glorot", signal=False)
    gates = [r for r in report.rows if r.param == "kernel"]
    assert [r.piece for r in gates] == ["gate i", "gate f", "gate c", "gate o"]
    for row in gates:
        assert row.fans == (16, 32)
        assert row["variance"].statistic == pytest.approx(1 / 3, rel=0.1)
        assert "packed (in, 4·units)" in row.diagnosis and "fan_out=128" in row.diagnosis
    rec = next(r for r in report.rows if r.role == "recurrent")
    assert rec.passed and rec["orthogonality"].passed


def cnn():
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            L.Conv2D(16, 3, activation="relu", kernel_initializer="he_normal"),
            L.Conv2D(16, 3, strides=2, activation="relu", kernel_initializer="he_normal"),
            L.Flatten(),
            L.Dense(64, activation="relu", kernel_initializer="he_normal"),
            L.Dense(10, kernel_initializer="lecun_normal"),
        ]
    )


def test_sound_cnn_passes_with_auto_targets():
    report = initcheck.audit(cnn, variance="auto")
    assert report.passed, str(report)
    kernels = [r for r in report.rows if r.role == "kernel"]
    assert [r.target.split(" at ")[0] for r in kernels] == ["2/fan_in"] * 3 + ["1/fan_in"]
    assert "heuristic" in kernels[0].note
    assert report.signal.passed
