"""initcheck.audit on Keras models: acceptance cases (b), (d), (e) of issue 12."""

from __future__ import annotations

import json
import textwrap

import keras  # the [dev] extra installs it (the suite tests Keras): imported, never skipped
import pytest

import initcheck
from initcheck.cli import main

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
    assert "measured gain 0.5" in kernels[0].note  # of the ReLU: measured, not named
    assert report.signal.passed


# A Keras MLP whose first kernel is He normal and whose second keeps Keras's default,
# Glorot uniform: against He (2/fan_in) that is 2/(256+64) ÷ 2/256 = 0.8 of the variance
# (std ×0.894, beyond the ×1.10 that must fail). The oracle is this arithmetic, not audit().
KERAS_MODELS = textwrap.dedent(
    """
    import keras

    def build():
        return keras.Sequential(
            [
                keras.Input((784,)),
                keras.layers.Dense(
                    256, activation="relu", kernel_initializer="he_normal", name="hidden"
                ),
                keras.layers.Dense(64, name="head"),
            ]
        )
    """
)
GLOROT_OVER_HE = 256 / (256 + 64)


def test_initcheck_audit_on_a_keras_model(tmp_path, capsys):
    path = tmp_path / "kmodels.py"
    path.write_text(KERAS_MODELS)
    rc = main(["audit", f"{path}:build", "--variance", "he", "--no-signal", "--json", "-"])
    out, err = capsys.readouterr()
    assert rc == 1, err
    data = json.loads(out)["payload"]
    assert data["framework"] == "keras" and data["passed"] is False
    rows = {r["name"]: r for r in data["rows"]}
    hidden, head = rows["hidden.kernel"], rows["head.kernel"]
    assert hidden["fans"] == [784, 256] and head["fans"] == [256, 64]

    def variance(row):
        (result,) = [c for c in row["results"] if c["check"] == "variance"]
        return result

    assert hidden["passed"] and variance(hidden)["passed"]
    assert variance(hidden)["statistic"] == pytest.approx(1, abs=0.06)
    assert not head["passed"] and not variance(head)["passed"]
    # ≥ 16,384 values: se of the ratio ≈ 1.1%, so ±6% is > 5 se
    assert variance(head)["statistic"] == pytest.approx(GLOROT_OVER_HE, rel=0.06)
    assert "head.kernel" in err and "FAILED" in err


def test_the_gate_audits_a_keras_model(pytester: pytest.Pytester):
    pytester.makepyfile(kmodels=KERAS_MODELS)
    pytester.makefile(
        ".toml",
        pyproject='[tool.pytest.ini_options]\npythonpath = ["."]\n\n'
        '[tool.initcheck.models.kmlp]\ntarget = "kmodels:build"\nvariance = "he"\n'
        "signal = false\n",
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v", "-p", "no:randomly")
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "*initcheck::kmlp::hidden.kernel::variance PASSED*",
            "*initcheck::kmlp::head.kernel::variance FAILED*",
        ]
    )
    failed = [ln for ln in result.outlines if ln.startswith("FAILED ")]
    assert failed and all("::head." in ln for ln in failed), failed


def test_statistics_are_not_weights_to_audit():
    """BatchNormalization's moving statistics and an adapted Normalization's mean,
    variance and count are statistics, not an init: no row, and no INCOMPLETE (issue 26
    item 4); a frozen layer's weights are still audited."""
    import numpy as np

    def build() -> keras.Model:
        norm = keras.layers.Normalization()
        norm.adapt(np.random.default_rng(0).random((64, 16)).astype("float32"))
        frozen = keras.layers.Dense(8, kernel_initializer="he_normal", name="frozen")
        model = keras.Sequential(
            [
                keras.Input((16,)),
                norm,
                keras.layers.Dense(32, activation="relu", kernel_initializer="he_normal"),
                keras.layers.BatchNormalization(),
                frozen,
                keras.layers.Dense(4),
            ]
        )
        frozen.trainable = False
        return model

    report = initcheck.audit(build, variance="auto", signal=False)
    names = {r.param for r in report.rows}
    assert not names & {"moving_mean", "moving_variance", "mean", "variance", "count"}
    assert {"gamma", "beta"} <= names
    assert report.verdict != "incomplete", str(report)
    frozen = report.row("frozen.kernel")  # a frozen layer's weights are still audited
    assert frozen.role == "kernel" and frozen.passed, str(report)
