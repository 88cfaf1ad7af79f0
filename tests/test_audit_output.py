"""The output at init (issue 26 item 5): a head whose logits start spread far apart starts
from a loss far above ln C with a saturated softmax ("verify loss @ init", Karpathy 2019).
The framework-free measure first, then PyTorch models: a He MLP and Hugging Face's own
GPT-2 init pass; every weight (the tied embedding included) at std 1.0 fails, naming the
head, the spread, the loss and ln C."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import initcheck
from initcheck.models.output_scale import SPREAD_MAX, judge_output, output_scale


def test_the_initial_loss_is_measured_against_ln_c_without_labels() -> None:
    rng = np.random.default_rng(0)
    flat = output_scale(np.zeros((8, 10)))
    assert flat is not None and flat["loss"] == pytest.approx(math.log(10))
    assert flat["excess"] == pytest.approx(0.0, abs=1e-12)
    wide = output_scale(rng.standard_normal((4, 16, 1000)) * 2.0)  # batch × tokens × vocab
    assert wide is not None and wide["spread"] == pytest.approx(2.0, rel=0.02)
    assert wide["excess"] == pytest.approx(2.0, rel=0.1)  # ≈ s²/2 for Gaussian logits
    assert output_scale(np.zeros((8, 1))) is None  # one output: not logits
    assert output_scale(np.full((8, 10), np.nan)) is None  # a NaN is never judged sound


def test_a_spread_beyond_the_bound_fails_naming_the_head_and_the_loss() -> None:
    rng = np.random.default_rng(1)
    ok = judge_output(rng.standard_normal((64, 10)), "head")
    assert ok is not None and ok[0]
    bad = judge_output(rng.standard_normal((64, 10)) * 2 * SPREAD_MAX, "head")
    assert bad is not None and not bad[0]
    message = bad[1]
    assert "head" in message and "logit spread" in message and "ln C = 2.3" in message
    assert "verify loss @ init" in message


torch = pytest.importorskip("torch")
nn = torch.nn


def _mlp(how: str) -> Any:
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    for layer in model:
        if isinstance(layer, nn.Linear):
            if how == "he":
                nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            else:
                nn.init.normal_(layer.weight, std=1.0)
    return model


def test_a_he_mlp_starts_near_chance_and_std_one_does_not() -> None:
    sound = initcheck.audit(lambda: _mlp("he"), variance="auto")  # MNIST images
    out = sound.signal.details["output"]
    assert sound.signal.passed and out["head"] == "2.weight" and out["spread"] < SPREAD_MAX
    broken = initcheck.audit(lambda: _mlp("std1"), variance="auto")
    assert not broken.signal.passed
    assert broken.signal.message.startswith("the output at init (2.weight, 10 classes)")


def test_gpt2_at_std_one_fails_on_its_output_and_its_own_init_passes() -> None:
    pytest.importorskip("transformers")
    sys.path.insert(0, str(Path(__file__).parent))
    import zoo

    def std_one() -> Any:
        model = zoo.gpt2()
        with torch.no_grad():
            for p in model.parameters():
                if p.dim() >= 2:
                    p.normal_(0.0, 1.0)
        return model

    own = initcheck.audit(zoo.gpt2, variance="auto", inputs=zoo.gpt2_inputs())
    assert own.signal.passed and own.signal.details["output"]["head"] == "lm_head"
    broken = initcheck.audit(std_one, variance="auto", inputs=zoo.gpt2_inputs())
    assert not broken.signal.passed
    assert "the output at init (lm_head" in broken.signal.message
    assert broken.signal.details["output"]["spread"] > SPREAD_MAX
