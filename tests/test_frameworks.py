"""PyTorch and JAX initializers through the adapters (skipped without the extras)."""

import functools
import math

import numpy as np
import pytest

import initcheck
from initcheck.errors import InitializerError
from initcheck.initializers import jax_initializer, resolve, torch_initializer
from initcheck.initializers.jax import is_jax_initializer
from initcheck.initializers.torch import is_torch_initializer

# (out, in) and (out, in, k, k): in ≠ out and k > 1, so fan swaps and receptive-field
# mistakes are visible
TORCH_SHAPES = [(128, 64), (32, 256), (16, 8, 3, 3)]
JAX_SHAPES = [(64, 128), (256, 32)]  # (in, out); few shapes: JAX compiles once per shape
CORE = ["symmetry", "centering", "variance", "scaling"]


@pytest.fixture
def torch():
    return pytest.importorskip("torch", reason="the initcheck[torch] extra is not installed")


@pytest.fixture
def jax():
    return pytest.importorskip("jax", reason="the initcheck[jax] extra is not installed")


def torch_check(init, variance, **kwargs):
    kwargs.setdefault("checks", CORE)
    return initcheck.check(init, variance=variance, layout="torch", shapes=TORCH_SHAPES, **kwargs)


def test_kaiming_normal_relu_passes_he(torch):
    init = functools.partial(torch.nn.init.kaiming_normal_, nonlinearity="relu")
    report = initcheck.check(init, variance="he", layout="torch", shapes=TORCH_SHAPES)
    assert report.passed, str(report)
    assert report.initializer == "torch.nn.init.kaiming_normal_(nonlinearity='relu')"


def test_nn_linear_default_passes_at_its_true_variance(torch):
    # nn.Linear.reset_parameters: kaiming_uniform_(a=√5) → U(±1/√fan_in), Var = 1/(3 fan_in)
    def linear_default(tensor):
        out_features, in_features = tensor.shape
        tensor.copy_(torch.nn.Linear(in_features, out_features).weight)
        return tensor

    true_variance = lambda fan_in, fan_out: 1 / (3 * fan_in)  # noqa: E731
    report = initcheck.check(
        torch_initializer(linear_default),
        variance=true_variance,
        layout="torch",
        shapes=[(128, 64), (32, 256)],
        checks=CORE,
    )
    assert report.passed, str(report)
    same = torch_check(
        functools.partial(torch.nn.init.kaiming_uniform_, a=math.sqrt(5)), true_variance
    )
    assert same.passed, str(same)
    # …and it is *not* He: declared as He it fails with the variance too small
    he = torch_check(functools.partial(torch.nn.init.kaiming_uniform_, a=math.sqrt(5)), "he")
    assert not he["variance"].passed and "too small" in he["variance"].message


def test_xavier_uniform_passes_glorot(torch):
    report = torch_check(torch.nn.init.xavier_uniform_, "glorot")
    assert report.passed, str(report)


def test_kaiming_fan_out_declared_fan_in_fails_scaling(torch):
    init = functools.partial(torch.nn.init.kaiming_normal_, mode="fan_out", nonlinearity="relu")
    report = torch_check(init, "he")
    scaling = report["scaling"]
    assert not scaling.passed
    assert "fan_out" in scaling.message


def test_torch_seeds_reproduce_and_leave_global_rng_alone(torch):
    def no_generator(tensor):  # seeded through torch.manual_seed inside fork_rng
        return tensor.normal_(0.0, 0.1)

    for init in (torch.nn.init.kaiming_normal_, torch_initializer(no_generator)):
        adapted = resolve(init)
        assert adapted.kind == "torch"
        before = torch.random.get_rng_state().clone()
        a, b, c = (adapted.draw((16, 8), seed=s) for s in (1, 1, 2))
        assert torch.equal(before, torch.random.get_rng_state())
        assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_torch_dtypes(torch):
    adapted = resolve(torch.nn.init.xavier_normal_)
    ref = adapted.draw((64, 32), seed=0, dtype="float32")
    # float16/bfloat16: PyTorch draws in float32 and rounds, so every value is within half
    # an ulp (2**-11, 2**-8 relative; 2**-25 absolute among float16's subnormals) of the
    # float32 draw of the same seed
    for dtype, rel in (("float16", 2**-11), ("bfloat16", 2**-8)):
        values = adapted.draw((64, 32), seed=0, dtype=dtype)
        assert values.shape == (64, 32) and np.isfinite(values).all()
        assert (np.abs(values - ref) <= np.abs(ref) * rel + 2**-25).all(), dtype
    # float32/float64: Xavier's std sqrt(2/96) within 6 standard errors of a sample std
    # of 2,048 values (se = 1/sqrt(2·2048) relative; P(outside) < 2e-9)
    for dtype in ("float32", "float64"):
        values = adapted.draw((64, 32), seed=0, dtype=dtype)
        assert values.std() / math.sqrt(2 / 96) == pytest.approx(1, abs=6 / math.sqrt(4096))


def test_jax_initializers_pass(jax):
    inits = jax.nn.initializers
    for init, target in (
        (inits.he_normal(), "he"),
        (inits.glorot_uniform(), "glorot"),
        (inits.lecun_normal(), "lecun"),
    ):
        report = initcheck.check(init, variance=target, shapes=JAX_SHAPES, checks=CORE)
        assert report.passed, str(report)
    assert resolve(inits.he_normal()).name == "jax.nn.initializers.he_normal"


def test_jax_truncated_normal_is_uncorrected(jax):
    # jax.nn.initializers.truncated_normal(stddev) does not divide by 0.8796: std × 0.88
    init = jax.nn.initializers.truncated_normal(0.05)
    report = initcheck.check(init, variance=0.05**2, shapes=JAX_SHAPES, checks=["variance"])
    assert not report.passed
    assert "too small" in report["variance"].message
    assert report["variance"].statistic == pytest.approx(0.8796**2, rel=0.03)
    assert "truncated_normal" in report.initializer


def test_declared_jax_function_is_adapted(jax):
    def mine(key, shape, dtype=None):
        return jax.random.normal(key, shape, dtype) * 0.1

    adapted = resolve(jax_initializer(mine, name="mine"))
    assert adapted.kind == "jax" and adapted.name == "mine"
    a, b = adapted.draw((8, 4), seed=0), adapted.draw((8, 4), seed=1)
    assert not np.array_equal(a, b)


def test_detection_is_by_the_object_not_parameter_names(torch, jax):
    # torch.nn.init's own first parameter is `tensor`, but a function of ours named the
    # same is not guessed; jax closures are recognized by their module
    def tensor_style(tensor):
        return tensor.normal_()

    def key_style(key, shape, dtype=None):
        return jax.random.normal(key, shape, dtype)

    assert is_torch_initializer(torch.nn.init.kaiming_normal_)
    assert not is_torch_initializer(tensor_style)
    assert not is_jax_initializer(key_style)
    assert resolve(tensor_style).kind == "callable"
    assert resolve(key_style).kind == "callable"

    # …and a torch/jax initializer with renamed parameters is still recognized
    def renamed(w, mode="fan_in"):
        return torch.nn.init.kaiming_normal_(w, mode=mode)

    renamed.__module__ = "torch.nn.init"
    assert is_torch_initializer(renamed) and not is_torch_initializer(torch.nn.Linear)


def test_partial_of_torch_init_at_any_depth(torch):
    inner = functools.partial(torch.nn.init.kaiming_normal_, nonlinearity="relu")
    outer = functools.partial(inner, mode="fan_out")
    assert is_torch_initializer(inner) and is_torch_initializer(outer)
    adapted = resolve(outer)
    assert adapted.kind == "torch"
    assert adapted.name == "torch.nn.init.kaiming_normal_(nonlinearity='relu', mode='fan_out')"
    assert adapted.draw((16, 8), seed=0).shape == (16, 8)
    # a pre-bound tensor leaves nothing to fill: not an initializer of that form
    assert not is_torch_initializer(functools.partial(torch.nn.init.zeros_, torch.empty(2)))


def test_jax_closures_are_detected(jax):
    inits = jax.nn.initializers
    for init in (inits.he_normal(), inits.truncated_normal(0.1), inits.zeros):
        assert is_jax_initializer(init), init
        assert resolve(init).kind == "jax"
    assert is_jax_initializer(functools.partial(inits.variance_scaling(1.0, "fan_in", "normal")))


@pytest.mark.parametrize(
    ("first", "wrapper"), [("tensor", "torch_initializer"), ("key", "jax_initializer")]
)
def test_tensor_or_key_parameter_gets_a_hint_not_a_guess(first, wrapper):
    namespace: dict = {}
    exec(f"def mine({first}, *args, **kwargs):\n    return {first}.fill_(0.0)", namespace)
    adapted = resolve(namespace["mine"])
    assert adapted.kind == "callable"
    with pytest.raises(InitializerError, match=rf"initcheck\.initializers\.{wrapper}\(mine\)"):
        adapted.draw((2, 3), seed=0)
    report = initcheck.check(namespace["mine"], variance="he", checks=["variance"])
    assert not report.passed and wrapper in report["variance"].message


def test_declared_wrappers_reject_non_functions():
    with pytest.raises(TypeError, match=r"Received: 3 \(type=int\)"):
        torch_initializer(3)
    with pytest.raises(TypeError, match="jax initializer must be a function"):
        jax_initializer(dict)


def test_non_framework_objects_are_left_to_resolve():
    assert not is_torch_initializer("he_normal") and not is_jax_initializer("he_normal")
    plain = lambda shape, dtype=None: np.zeros(shape)  # noqa: E731
    assert not is_torch_initializer(plain) and not is_jax_initializer(plain)
    assert resolve(plain).kind == "callable"
    assert not is_torch_initializer(3) and not is_jax_initializer(3)
