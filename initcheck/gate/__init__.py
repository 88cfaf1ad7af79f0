"""The zero-code CI gate: initializers named in ``pyproject.toml`` (or ``--initcheck SPEC``)
become pytest items ``initcheck::NAME::PROPERTY``.

.. code-block:: toml

    [tool.initcheck.initializers.my_he]
    target = "mypkg.inits:my_he"   # a Keras name, module:attr or path/file.py:attr
    variance = "he"                # lecun | glorot | he | a number | "mypkg.targets:fn"
    layout = "keras"               # or "torch", or per rank: { 2 = "keras", 4 = "torch" }
    train = true                   # also the MNIST early-training check
    shapes = [[784, 256], [3, 3, 16, 32]]   # optional shapes always included
    only_shapes = true             # optional: draw only kernels of those ranks
    alpha = 1e-4                   # optional Settings overrides

    [tool.initcheck.models.mlp]    # initcheck.audit(): initcheck::mlp::LAYER::CHECK items
    target = "mypkg.models:build"  # a model or a factory
    variance = "he"                # lecun | glorot | he | a number | "mod:fn" | auto
    # or per layer: variance = { "attn.proj" = 2.0, "*" = "auto" }  (first match decides)
    kwargs = { num_classes = 10 }  # the factory's arguments
    accept = [{ path = "*.gate_proj", reason = "gated by a zero-initialized gamma" }]

Every key is read by :mod:`initcheck.inputs`, the table the command line and the plugin
read too; a string stands for what it reads as on a command line (``alpha = "1e-3"``).

Properties, as :func:`initcheck.check` would run them: ``symmetry``, ``centering``,
``seeds``, ``tails`` and ``degeneracy`` always; ``variance`` and ``scaling`` with a
``variance`` target; ``distribution`` with ``family = "normal" | "truncated_normal" |
"uniform"``; ``propagation`` with ``nonlinearity = "relu" | "tanh" | "linear"``;
``training`` with ``train = true``. ``deterministic = true`` declares an initializer that
is deterministic by design (identity, ZerO) for the seeds check (and lets centering,
tails and distribution step aside for a structured identity-like kernel).
``framework = "torch" | "jax" | "array"`` says how ``target`` is called ("array": a
plain ``fn(shape, dtype)`` or an in-place numpy filler ``fn(array)``). A per-rank
``layout`` table draws only the ranks it names.

How an item decides, fast and with a stated error rate:

1. Hypothesis draws ``max_examples`` small kernel shapes (derandomized, so every xdist
   worker and every run sees the same ones; ``--hypothesis-seed`` picks others) and one
   large kernel (≥ 2**18 values) is added; with ``only_shapes`` all are of the ranks of
   ``shapes``.
2. One pooled :func:`~initcheck.api.run_checks` over those shapes decides all statistical
   properties of the initializer at once (one decision per property at ``alpha``); the
   items of one initializer share it (per process).
3. Only when a property fails does Hypothesis search single shapes for that property and
   shrink to the smallest failing one (at most ``2 * max_examples`` evaluations), which the
   failure then shows. A passing property never pays for the search.
4. An *inconclusive* property (too few values could be drawn to decide, e.g. an
   initializer that ignores its seed) **fails** its item: a gate that cannot decide does
   not pass. It is not searched (there is no defect to shrink); its failure says how to
   decide it: more or larger ``shapes``, an initializer taking ``seed=``, a higher
   ``max_draws``. Its record carries ``verdict = "inconclusive"``.

Modules: :mod:`~initcheck.gate.config` (pyproject tables and ``--initcheck`` options),
:mod:`~initcheck.gate.items` (the pytest nodes), :mod:`~initcheck.gate.engine` (the
decision), :mod:`~initcheck.gate.models` (model nodes, one audit per process).
Imported by the plugin at collection; numpy/Hypothesis load when an item runs.
"""

from __future__ import annotations

from initcheck.gate.config import GateConfigError as GateConfigError
from initcheck.gate.config import GateSource as GateSource
from initcheck.gate.config import ModelSource as ModelSource
from initcheck.gate.config import TableError as TableError
from initcheck.gate.config import gate_sources as gate_sources
from initcheck.gate.config import read_pyproject as read_pyproject
from initcheck.gate.engine import Engine as Engine
from initcheck.gate.engine import stable_seed as stable_seed
from initcheck.gate.items import GateCollectError as GateCollectError
from initcheck.gate.items import GateItem as GateItem
from initcheck.gate.items import collect_gate as collect_gate
