"""The framework-free analysis on hand-built graphs: no framework is imported here.

An adapter turns a model and a batch into :class:`~initcheck.models.graph.Trace` calls
carrying measurements (a nonlinearity's gain, a measured role); ``variance="auto"`` decides
each kernel's target from the measured gain only: Var = 1/(gain·fan_in) forward, the range
up to 1/(gain·fan_out) backward accepted (Glorot & Bengio 2010). Names explain, never
decide. The analysis modules import and name no framework (in the spirit of anyinit's
``test_core_isolation``), and run with every framework blocked.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.special import erf

import initcheck
from initcheck.fans import Fans
from initcheck.models.graph import LINEAR, Call, Gain, Trace, flow
from initcheck.models.measure import first_samples, function_gain, measured_role
from initcheck.models.records import WeightPiece
from initcheck.models.rows import _unmeasured
from initcheck.models.rules import auto_band, piece_target

ROOT = Path(initcheck.__file__).parent
#: Modules of the framework-free analysis: numbers and paths in, verdicts out.
ANALYSIS = (
    "models/graph.py",
    "models/measure.py",
    "models/rules.py",
    "models/signal.py",
    "models/fidelity.py",
    "models/text.py",
    "models/uses.py",
    "models/attention.py",
    "models/output_scale.py",
    "models/findings.py",
    "models/fixcode.py",
    "models/fixes.py",
    "models/weightrow.py",
    "models/value_checks.py",
    "models/stream.py",
)
FRAMEWORKS = ("torch", "tensorflow", "keras", "jax", "flax")
#: The variance check's own tolerance on the std (Settings.std_tolerance), on the variance.
WIDEN = 1.05**2


def relu(z: np.ndarray) -> np.ndarray:
    return np.maximum(z, 0)


def gelu(z: np.ndarray) -> np.ndarray:
    return z * 0.5 * (1 + erf(z / np.sqrt(2)))


RELU = function_gain(relu)
TANH = function_gain(np.tanh)


def _mlp(gain: Gain | None, name: str = "f") -> Trace:
    """fc1 → φ → fc2 → (output), φ carrying ``gain`` (None: not measured)."""
    t = Trace(outputs=("fc2",), source="a hand-built graph")
    t.add(Call("fc1", "Dense", (), 1.0, grad_n2=1.0))
    t.add(Call("act", name, ("fc1",), 0.5, role="activation", gain=gain))
    t.add(Call("fc2", "Dense", ("act",), 1.0, grad_n2=1.0))
    return t


def _piece(gain: Gain | None, fan_in: int = 256, fan_out: int = 256, act: str = "f"):
    return WeightPiece(
        layer="fc1",
        param="kernel",
        layer_type="Dense",
        role="kernel",
        key="fc1.kernel",
        framework="none",
        fans=Fans(fan_in, fan_out),
        activation=act,
        gain=gain,
    )


def _auto_passes(piece: WeightPiece, var_times_fan_in: float) -> bool:
    """Whether a kernel of variance ``var_times_fan_in``/fan_in passes under "auto" (the
    rows' rule: exact target, or within the measured gain's forward–backward band)."""
    target, _ = piece_target(piece, "auto")
    assert target is not None
    ratio = var_times_fan_in / target.scale
    lo, hi = auto_band(piece)
    return lo / WIDEN <= ratio <= hi * WIDEN


def test_measured_gains_of_plain_functions() -> None:
    assert RELU is not None and RELU.at_scale == pytest.approx(0.5, rel=0.03)
    assert RELU.homogeneous
    assert TANH is not None and TANH.small == pytest.approx(1.0, rel=0.03)
    assert TANH.at_scale == pytest.approx(0.394, rel=0.03)  # E[tanh(z)²], z ~ N(0, 1)
    g = function_gain(gelu)
    assert g is not None and g.at_scale == pytest.approx(0.425, rel=0.03)
    assert function_gain(lambda z: 3 * z) is None  # linear: no nonlinearity


def test_a_norm_written_as_a_function_is_measured_as_a_norm() -> None:
    def rms_norm(z: np.ndarray) -> np.ndarray:
        return z / np.sqrt((z * z).mean(-1, keepdims=True) + 1e-6)

    x = np.random.default_rng(0).standard_normal((8, 32)).astype("float32")
    assert measured_role(rms_norm, x, rms_norm(x)) == ("norm", None)
    assert measured_role(lambda z: 3 * z, x, 3 * x) == ("pass", None)  # linear


def test_an_op_is_probed_on_its_first_samples() -> None:
    x = np.random.default_rng(0).standard_normal((64, 1024)).astype("float32")
    cut, out = first_samples(np.tanh, x, np.tanh(x))
    assert cut.shape == out.shape == (16, 1024)  # PROBE values, not the batch's 64 rows
    assert np.array_equal(cut, x[:16]) and np.array_equal(out, np.tanh(x)[:16])

    def batch_norm(z: np.ndarray) -> np.ndarray:  # on batch statistics: on the cut's own
        return (z - z.mean(0)) / np.sqrt(z.var(0) + 1e-5)

    cut, out = first_samples(batch_norm, x, batch_norm(x))
    assert np.allclose(out, batch_norm(x[:16]))
    assert measured_role(batch_norm, x, batch_norm(x)) == ("norm", None)

    def whole_batch(z: np.ndarray) -> np.ndarray:  # needs the batch it was traced on
        return z.reshape(64, 1024) * 2

    assert first_samples(whole_batch, x, whole_batch(x))[0].shape == x.shape
    role, gain = measured_role(np.tanh, x, np.tanh(x))  # probed on the cut, as a whole
    assert role == "activation" and gain is not None
    assert gain.at_scale == pytest.approx(0.394, rel=0.03)  # E[tanh(z)²], z ~ N(0, 1)


def test_flow_carries_the_measured_gain_or_linear() -> None:
    t = _mlp(RELU, "my_relu")
    first = flow(t, "fc1")
    assert first.gain == RELU and first.activation == "my_relu"
    assert flow(t, "fc2").gain == LINEAR and flow(t, "fc2").output  # nothing follows
    assert flow(_mlp(None), "fc1").gain is None  # a nonlinearity not measured
    assert flow(t, "not.traced").gain is None and flow(None, "fc1").gain is None


def test_auto_targets_one_over_the_measured_gain() -> None:
    target, note = piece_target(_piece(RELU, act="relu"), "auto")
    assert target is not None and target.scale == 2.0
    assert "measured gain 0.5" in note and "Var = 2/fan_in" in note and "He's rule" in note
    target, note = piece_target(_piece(LINEAR, act=None), "auto")
    assert target is not None and target.scale == 1.0
    assert "no nonlinearity follows" in note and "LeCun's rule" in note
    # a gain no published rule matches: 1/gain, named by nothing
    odd = Gain(at_scale=0.25, small=0.25, se=0.001, homogeneous=True)
    target, note = piece_target(_piece(odd), "auto")
    assert target is not None and target.scale == pytest.approx(4.0)
    assert "He" not in note and "LeCun" not in note


def test_a_name_without_a_measured_gain_decides_nothing() -> None:
    piece = _piece(None, act="relu")
    target, note = piece_target(piece, "auto")
    assert target is None and "inconclusive" in note and "measured no gain" in note
    assert _unmeasured(piece, "auto")
    assert not _unmeasured(piece, "he")  # an explicit rule needs no measurement
    assert not _unmeasured(_piece(LINEAR), "auto")


@pytest.mark.parametrize(
    ("fans", "var_times_fan_in", "what"),
    [
        ((256, 256), 2.0, "He (fan_in)"),
        ((256, 512), 2.0 * 256 / 512, "He (fan_out mode)"),
        ((512, 256), 2.0 * 512 / 256, "He (fan_out mode)"),
    ],
)
def test_he_passes_under_relu_in_either_mode(fans, var_times_fan_in, what) -> None:
    assert _auto_passes(_piece(RELU, *fans), var_times_fan_in), what


@pytest.mark.parametrize(
    ("fans", "var_times_fan_in", "what"),
    [
        ((256, 256), 1.0, "LeCun"),
        ((256, 256), 2 * 256 / 512, "Glorot"),
        ((256, 512), 2 * 256 / 768, "Glorot (widening)"),
        ((256, 256), 256.0, "std 1.0"),
        ((256, 256), 0.1, "far too small"),
    ],
)
def test_wrong_rules_fail_under_relu(fans, var_times_fan_in, what) -> None:
    assert not _auto_passes(_piece(RELU, *fans), var_times_fan_in), what


@pytest.mark.parametrize("fans", [(256, 256), (256, 512), (512, 256)])
def test_glorot_passes_under_tanh(fans) -> None:
    fan_in, fan_out = fans
    assert _auto_passes(_piece(TANH, *fans, act="tanh"), 2 * fan_in / (fan_in + fan_out))
    assert not _auto_passes(_piece(TANH, *fans, act="tanh"), 10.0)


@pytest.mark.parametrize("module", ANALYSIS)
def test_analysis_modules_import_and_name_no_framework(module: str) -> None:
    source = (ROOT / module).read_text()
    for node in ast.walk(ast.parse(source)):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        for name in names:
            assert name.split(".")[0] not in FRAMEWORKS, f"{module} imports {name}"
    low = source.lower()
    for fw in FRAMEWORKS:
        assert fw not in low, f"{module} names {fw}"


def test_analysis_runs_with_every_framework_blocked() -> None:
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name.split('.')[0] in {FRAMEWORKS!r}:\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import numpy as np\n"
        "from initcheck.fans import Fans\n"
        "from initcheck.models.graph import Call, Trace, flow\n"
        "from initcheck.models.measure import function_gain\n"
        "from initcheck.models.records import WeightPiece\n"
        "from initcheck.models.rules import piece_target\n"
        "from initcheck.models.signal import decide_signal\n"
        "g = function_gain(lambda z: np.maximum(z, 0))\n"
        "t = Trace(source='a hand-built graph')\n"
        "t.add(Call('fc1', 'Linear', (), 1.0, grad_n2=1.0))\n"
        "t.add(Call('act', 'f', ('fc1',), 0.5, role='activation', gain=g))\n"
        "t.add(Call('fc2', 'Linear', ('act',), 1.0, grad_n2=1.0))\n"
        "f = flow(t, 'fc1')\n"
        "assert f.gain is g and f.activation == 'f', f\n"
        "p = WeightPiece('fc1', 'w', 'Linear', 'kernel', 'k', 'none', fans=Fans(4, 4),"
        " gain=f.gain)\n"
        "target, note = piece_target(p, 'auto')\n"
        "assert target.scale == 2.0, note\n"
        "r = decide_signal([t.get('fc1'), t.get('fc2')], [], t.source, 'm')\n"
        "assert r.passed, r.message\n"
        f"assert not [m for m in sys.modules if m.split('.')[0] in {FRAMEWORKS!r}]\n"
        "print('ok')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_only_blocks_a_merge_runs_through_stay_stream_points() -> None:
    t = Trace(source="a hand-built graph")
    t.add(Call("stem", "Linear", (), 1.0))
    t.add(Call("chain.0", "Sequential", ("stem",), 1.0, block=True))  # no add inside
    t.add(Call("chain.1", "Sequential", ("chain.0",), 1.0, block=True))
    t.add(Call("res.0", "Block", ("chain.1",), 1.0, block=True))
    t.add(Call("res.0:add#1", "add", ("chain.1", "res.0.fc"), 2.0, role="merge"))
    t.add(Call("res.1", "Block", ("res.0",), 3.0, block=True))
    t.add(Call("res.1:add#1", "add", ("res.0", "res.1.fc"), 3.0, role="merge"))
    t.add(Call("lib.0", "TransformerEncoderLayer", ("res.1",), 1.0, block=True))
    t.keep_residual_blocks(unseen=frozenset({"lib.0"}))
    assert [c.path for c in t.blocks] == ["res.0", "res.1", "lib.0"]
    # a branch added to the stream by its parent: the merge is the point
    p = Trace(source="a hand-built graph")
    p.add(Call("blocks.0", "Sequential", ("x",), 1.0, block=True))
    p.add(Call("drop", "Dropout", ("blocks.0",), 1.0, role="pass"))
    p.add(Call(":add#1", "add", ("x", "drop"), 2.0, role="merge"))
    p.add(Call("blocks.1", "Sequential", (":add#1",), 1.0, block=True))
    p.add(Call(":add#2", "add", (":add#1", "blocks.1"), 3.0, role="merge"))
    p.keep_residual_blocks()
    assert [c.path for c in p.blocks] == [":add#1", ":add#2"]


def test_attention_entropy_below_the_bound_fails_naming_the_op() -> None:
    from initcheck.models.attention import ENTROPY_MIN, judge_attention

    assert judge_attention([]) is None  # nothing measured: no verdict
    ok = judge_attention([("blocks.0:softmax#a1", 0.95), ("blocks.1:softmax#a2", 0.8)])
    assert ok is not None and ok[0] and "0.8 at its lowest" in ok[1]
    bad = judge_attention([("blocks.0:softmax#a1", 0.95), ("blocks.1:softmax#a2", 0.06)])
    assert bad is not None and not bad[0]
    assert "blocks.1:softmax#a2" in bad[1] and f"bound {ENTROPY_MIN:g}" in bad[1]
    nan = judge_attention([("a", float("nan"))])
    assert nan is not None and not nan[0]  # a NaN entropy never passes
