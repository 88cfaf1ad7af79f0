"""The variance level decided per group of shapes as well as pooled (issue 18, item 1).

Pooling standardised values lets opposite errors cancel: an MXNet Xavier from before its
fan fix is ×0.5 on dense shapes and ×1.23 on the large conv, which holds most values, so
pooled it reads ≈ 1. Each group of shapes (a large kernel alone, the others by rank) is
therefore also decided at alpha/G. The defects below are ×2 and ×3 in variance, tens of
standard errors from the band, so one seed decides them (miss probability < 1e-12).
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from scipy import stats as sps

import initcheck
from initcheck.checks.variance import shape_groups
from initcheck.errors import InitCheckFailure
from initcheck.sampling import ShapeDraws
from initcheck.shapes import DEFAULT_SHAPES


def glorot(factor=lambda shape: 1.0):
    """Glorot normal (Keras layout) with Var × ``factor(shape)``."""

    def init(shape, dtype=None, seed=None):
        fans = initcheck.compute_fans(shape, "keras")
        var = 2 / (fans.fan_in + fans.fan_out) * factor(shape)
        return np.random.default_rng(seed).normal(0, math.sqrt(var), shape).astype(np.float32)

    return init


#: ×0.5 on dense kernels, ×1.23 on conv kernels: the pooled ratio cancels to ≈ 1
mxnet_fan_bug = glorot(lambda shape: 0.5 if len(shape) == 2 else 1.23)
#: Keras 1's get_fans: ×3 on 5-D kernels only
keras1_5d_bug = glorot(lambda shape: 3.0 if len(shape) == 5 else 1.0)


def test_groups_are_the_large_kernel_alone_and_the_rest_by_rank():
    draws = [
        ShapeDraws(shape=s, fans=initcheck.compute_fans(s), target_std=1.0) for s in DEFAULT_SHAPES
    ]
    labels = [label for label, _ in shape_groups(draws)]
    assert labels == [
        "dense shapes (3, 5), (256, 128), (64, 512)",
        "conv1d shape (5, 16, 32)",
        "conv2d shape (3, 3, 32, 16)",
        "conv3d shape (3, 3, 3, 8, 4)",
        "(3, 3, 128, 256)",
    ]


def test_mxnet_fan_bug_fails_naming_x0_5_on_the_dense_shapes():
    with pytest.raises(InitCheckFailure) as info:
        initcheck.assert_variance(mxnet_fan_bug, "glorot", seed=0)
    result = info.value.results[0]
    # the pooled ratio alone is inside the band: this is what passed before
    band = result.details["band"]
    assert band[0] < result.statistic < band[1]
    msg = result.message
    assert "variance too small on some shapes" in msg, msg
    assert "too small ×0.5 on dense shapes (3, 5), (256, 128), (64, 512)" in msg, msg
    assert "too large ×1.2" in msg and "on (3, 3, 128, 256)" in msg, msg
    assert "alpha/5" in msg and "familywise ≤ alpha = 0.0001" in msg, msg
    assert result.details["familywise_alpha"] == 1e-4


def test_sound_glorot_passes_every_group_on_the_same_shapes():
    result = initcheck.assert_variance(glorot(), "glorot", seed=0)
    groups = result.details["groups"]
    assert len(groups) == 5 and not any(g["failed"] for g in groups)
    assert all(g["alpha"] == pytest.approx(1e-4 / 5) for g in groups)


def test_keras1_5d_fan_bug_fails_naming_the_conv3d_shape():
    with pytest.raises(
        InitCheckFailure, match=r"too large ×[23]\S* on conv3d shape \(3, 3, 3, 8, 4\)"
    ):
        initcheck.assert_variance(keras1_5d_bug, "glorot", seed=0)


def test_one_group_is_decided_by_the_pooled_decision_alone():
    result = initcheck.assert_variance(glorot(), "glorot", shape=[(3, 5), (256, 128)], seed=0)
    assert result.details["groups"] == []


def test_scaling_message_states_each_shape_ratio_to_the_target():
    result = initcheck.check(mxnet_fan_bug, variance="glorot", checks=["scaling"], seed=0)
    msg = result["scaling"].message
    assert not result["scaling"].passed
    assert re.search(r"\(256, 128\) at ×0\.(49|50)", msg), msg  # to the target, not ×0.37
    assert "(3, 3, 128, 256) at ×1.2" in msg, msg
    assert "(Var(W)/target on each shape)" in msg, msg


def test_familywise_rate_at_the_tolerance_edge_is_at_most_alpha():
    """std exactly ×1.05 on a dense and a conv shape (two groups), alpha = 0.2: the pooled
    decision and the two groups at alpha/2 together fail at most alpha (one-sided binomial
    bound at confidence 1 - 1e-6 over 300 runs)."""
    alpha, runs = 0.2, 300
    edge = glorot(lambda shape: 1.05**2)
    failed = 0
    for seed in range(runs):
        try:
            initcheck.assert_variance(
                edge, "glorot", shape=[(20, 30), (3, 3, 4, 6)], seed=seed, alpha=alpha
            )
        except InitCheckFailure:
            failed += 1
    assert failed <= int(sps.binom.isf(1e-6, runs, alpha)), failed
