"""The ``initcheck`` argument parser.

Building the parser imports nothing heavy: the choices of ``--family`` and
``--nonlinearity`` come from the check registry only when one of those options is given
(or ``--help`` lists them), so a usage error is answered without loading the checks.
"""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NoReturn

from initcheck import registry
from initcheck._version import __version__
from initcheck.cli._common import CLASSIC_BATCHES
from initcheck.cli.audit import cmd_audit
from initcheck.cli.commands import cmd_check, cmd_compare
from initcheck.inputs import TABLE, Input, inputs_for, text_parser
from initcheck.output import add_output_options
from initcheck.targets import NAMED_TARGETS
from initcheck.validators import did_you_mean, shown

_SPEC_HELP = (
    "an initializer: a Keras name (he_normal), module:attr (mypkg.inits:my_he) or "
    "path/file.py:attr (inits.py:my_he)"
)

_EPILOG_MAIN = """\
examples:
  initcheck check he_normal --variance he
  initcheck check inits.py:my_he --variance he --report reports/my_he.html
  initcheck check mypkg.inits:lecun --variance lecun --layout torch --json result.json
  initcheck compare --classic --report reports/classic.html
  initcheck compare he_normal glorot_uniform zeros --epochs 2
  initcheck audit models.py:make_model --variance he --report reports/model.html

exit codes: 0 passed, 1 a check failed, 2 usage or load error.
"""

_EPILOG_CHECK = """\
examples:
  initcheck check he_normal --variance he
  initcheck check inits.py:my_he --variance he --report reports/my_he.html --json -
  initcheck check mypkg.inits:init --variance 0.01 --train

{runs}
exit codes: 0 all checks passed, 1 a check failed, 2 usage or load error.
"""

_EPILOG_AUDIT = """\
examples:
  initcheck audit models.py:make_model --variance he
  initcheck audit mypkg.nets:build_cnn --variance auto --report reports/cnn.html --json -
  initcheck audit models.py:model --no-signal
  initcheck audit models.py:make_encoder --inputs data.py:batch
  initcheck audit models.py:build_model --kwargs num_classes=10 --variance "attn.proj=2.0,*=auto"
  initcheck audit models.py:gpt --accept "*.gate_proj=gated by a zero-initialized gamma"

SPEC names a Keras model, a torch.nn.Module, a Flax NNX module (or a Linen module, with
--inputs), or (preferred) a factory returning one (each weight is drawn afresh by its own
initializer or module init code, a factory rebuilt only where that does not reproduce the
model). Every weight is checked where it sits (layer type, layout, fans, packed gates and
projections); --variance sets the target of every kernel (a rule named under --variance
below, a number, module:attr naming a function, or auto: from the gain measured after each
weight), or per layer as PATH=RULE pairs (the first path glob or layer type that matches
decides). --kwargs gives a factory its arguments; --accept PATH=REASON vouches for a weight
(shown as accepted, with the reason). The model's own
signal (activations and gradients through one batch: --inputs, else one built from the
first layer) is measured unless --no-signal.
See docs/audit.md.
exit codes: 0 sound, 1 a weight or the signal failed (or the audit crashed), 2 usage or
load error.
"""

_EPILOG_COMPARE = f"""\
examples:
  initcheck compare --classic --report reports/classic.html
  initcheck compare he_normal glorot_uniform inits.py:my_init --epochs 2 --json cmp.json
  initcheck compare classic he_normal --batches 858
  initcheck compare he_normal inits.py:my_he --variance he --batches 200

Trains the classic notebook's 784-256-128-10 ReLU MLP (Adam, lr 1e-3, batch 128) once per
initializer on the same data order, on the bundled 4,000-image MNIST subset (or the data
$INITCHECK_MNIST points to), and prints validation accuracy and losses. The SPEC
"classic" (or --classic) stands for the notebook's initializers (all zeros, all ones,
uniform ranges, the general rule, normal and truncated normal stddev 0.1); alone it
trains for {CLASSIC_BATCHES} batches unless --epochs/--batches say otherwise.
The checks also run on every initializer, on the network's kernel shapes (784, 256),
(256, 128), (128, 10), with the declarations given (--variance he adds the variance and
scaling checks, as in initcheck check; skip them with --no-checks). Their verdicts are
printed below the training table and shown in the report; they do not change the exit
code. An initializer that raises or returns bad weights gets a failed row; the others
still train and the table, --json and --report are written.
exit codes: 0 trained, 1 an initializer raised or returned bad weights, 2 usage or load
error.
"""


#: The flag that makes each declaration of :data:`initcheck.registry.DECLARATIONS`.
DECLARATION_FLAGS = {d: TABLE[d].flag for d in ("variance", "family", "nonlinearity", "train")}
#: ``--framework``: initcheck.initializers.base.FRAMEWORKS (not imported: the parser is light).
FRAMEWORK_CHOICES = ("torch", "jax", "array")


def checks_run_text() -> str:
    """What ``check`` runs, from the registry: the default checks, those each declaration
    adds, and those that run only when named (``--checks``)."""
    by_when: dict[str, list[str]] = {}
    for c in registry.checks():
        by_when.setdefault(c.when, []).append(c.name)
    parts = [f"checks run: {', '.join(by_when.get('always', []))}"]
    for declaration, flag in DECLARATION_FLAGS.items():
        if by_when.get(declaration):
            parts.append(f"with {flag} also {', '.join(by_when[declaration])}")
    text = "; ".join(parts) + "."
    if by_when.get("requested"):
        text += f" Only when named in --checks: {', '.join(by_when['requested'])}."
    text += (
        " --checks NAMES runs exactly the checks named (scaling without --variance names "
        "the best-fitting fan rule)."
    )

    targets = (
        f"--variance takes {', '.join(NAMED_TARGETS)}, a positive number (a fixed "
        "variance) or module:attr naming a function (fan_in, fan_out) -> variance. "
        "--framework torch|jax|array says how SPEC is called when initcheck "
        "cannot tell from the object itself: your own torch-style fn(tensor) or JAX "
        "fn(key, shape, dtype), or a plain fn(shape, dtype=None) -> array."
    )
    return "\n".join(textwrap.fill(t, width=88) for t in (text, targets))


class _Parser(argparse.ArgumentParser):
    """A parser whose epilog may be filled in only when help is shown (``epilog_fn``),
    and whose usage errors are one line (with where to look), exit code 2."""

    epilog_fn: Callable[[], str] | None = None

    def error(self, message: str) -> NoReturn:
        if message.startswith("unrecognized arguments: "):  # a did-you-mean per unknown flag
            flags = [t.split("=")[0] for t in message.split(": ", 1)[1].split()]
            known = self._flags()
            hints = "".join(did_you_mean(f, known) for f in flags if f.startswith("--"))
            message += f".{hints}" if hints else ""
        self.exit(2, f"{self.prog}: error: {message} (see: {self.prog} --help)\n")

    def _flags(self) -> list[str]:
        """The flags of this parser and of its subcommands."""
        known = list(self._option_string_actions)
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    known += sub._option_string_actions
        return [f for f in dict.fromkeys(known) if f not in ("-h", "--help", "--version")]

    def format_help(self) -> str:
        if self.epilog_fn is None:
            return super().format_help()
        epilog = self.epilog
        self.epilog = self.epilog_fn()
        try:
            return super().format_help()
        finally:
            self.epilog = epilog


class _LazyChoices(Sequence[str]):
    """The values the registered checks accept for a declaration, looked up on first use."""

    def __init__(self, declaration: str) -> None:
        self.declaration = declaration
        self._values: tuple[str, ...] | None = None

    @property
    def values(self) -> tuple[str, ...]:
        if self._values is None:
            self._values = registry.option_choices(self.declaration)
        return self._values

    def __getitem__(self, index: int) -> str:  # type: ignore[override]
        return self.values[index]

    def __len__(self) -> int:
        return len(self.values)

    def __iter__(self) -> Iterator[str]:
        return iter(self.values)

    def __contains__(self, value: object) -> bool:
        return value in self.values


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of ``initcheck``."""
    parser = _Parser(
        prog="initcheck",
        description="Tell whether a neural-network weight initializer is sound: symmetry, "
        "centering, variance against its fan target, the 1/n scaling law, and early "
        "training on MNIST.",
        epilog=_EPILOG_MAIN,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )

    parser.add_argument("--version", action="version", version=f"initcheck {__version__}")
    sub = parser.add_subparsers(
        dest="command", metavar="{check,compare,audit}", parser_class=_Parser
    )
    sub.required = True

    chk = sub.add_parser(
        "check",
        help="run the checks on one initializer",
        description="Run initcheck's battery on one initializer and print the verdicts.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    chk.epilog_fn = lambda: _EPILOG_CHECK.format(runs=checks_run_text())
    chk.add_argument("spec", metavar="SPEC", help=_SPEC_HELP)
    add_inputs(chk, "check")
    chk.add_argument("--name", help="display name (default: derived from SPEC)")
    _add_outputs(chk)
    chk.set_defaults(func=cmd_check)

    cmp = sub.add_parser(
        "compare",
        help="train the classic MLP with several initializers and compare",
        description="The classic notebook's comparison: train one MLP per initializer "
        "side by side and compare validation accuracy and loss curves.",
        epilog=_EPILOG_COMPARE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cmp.add_argument(
        "specs",
        metavar="SPEC",
        nargs="*",
        help=_SPEC_HELP + '; "classic" = the notebook\'s set; FRAMEWORK:module:attr (e.g. '
        "jax:mypkg.inits:fn) declares one SPEC, so frameworks mix; --framework applies to "
        "every other non-Keras SPEC, and a Keras name needs none",
    )
    cmp.add_argument(
        "--classic",
        action="store_true",
        help="include the notebook's initializers (same as the SPEC classic)",
    )
    cmp.add_argument(
        "--epochs",
        type=_positive("epochs", float),
        metavar="N",
        help="passes over the training set (default 2; the classic set alone: "
        f"{CLASSIC_BATCHES} batches)",
    )
    cmp.add_argument(
        "--batches",
        type=_positive("batches", int),
        metavar="N",
        help="exact number of training batches (overrides --epochs)",
    )
    cmp.add_argument(
        "--batch-size",
        type=_positive("batch_size", int),
        default=128,
        metavar="N",
        help="images per batch (default 128)",
    )
    add_inputs(cmp, "compare")
    cmp.add_argument(
        "--no-checks",
        dest="run_checks",
        action="store_false",
        help="do not run the checks (only train)",
    )
    _add_outputs(cmp)
    cmp.set_defaults(func=cmd_compare)
    _add_audit(sub)
    return parser


class _Extend(argparse.Action):
    """A repeatable flag of a list input: each value parsed by the table (``type=``),
    the parsed items appended in order."""

    def __call__(self, parser: Any, namespace: Any, values: Any, option: Any = None) -> None:
        setattr(namespace, self.dest, [*(getattr(namespace, self.dest) or ()), *values])


def _add_input(p: argparse.ArgumentParser, inp: Input, command: str) -> None:
    """One input of the table as a flag of ``command``: a switch for a flag input
    (``--no-NAME`` when it defaults to true), repeatable for a list, else ``--NAME VALUE``;
    every value is parsed by the table's validator for the command."""
    if inp.is_flag:
        flag = inp.flag if not inp.default else f"--no-{inp.flag[2:]}"
        action = "store_false" if inp.default else "store_true"
        p.add_argument(
            flag,
            dest=inp.name,
            action=action,
            help=f"do not {inp.help}" if inp.default else inp.help,
        )
        return
    kwargs: dict[str, object] = {
        "metavar": inp.metavar,
        "help": inp.help_text,
        "type": text_parser(inp.name, command),
        "default": inp.default,
    }
    if isinstance(inp.default, tuple):  # a list: the flag is repeatable
        kwargs |= {"action": _Extend, "default": list(inp.default)}
        kwargs["help"] = f"{inp.help} (repeatable)"
    else:
        listed = {"framework": FRAMEWORK_CHOICES}  # family, nonlinearity: looked up lazily
        if inp.name in ("family", "nonlinearity", "framework"):  # their values in help
            kwargs["choices"] = listed.get(inp.name) or _LazyChoices(inp.name)
            kwargs["help"] = f"{inp.help} (one of: %(choices)s)"
    p.add_argument(inp.flag, **kwargs)  # type: ignore[arg-type]


def add_inputs(p: argparse.ArgumentParser, command: str) -> None:
    """The flags of ``command`` (check, compare, audit), one per input of
    :data:`initcheck.inputs.TABLE` that it takes, in table order; a flag the command
    already defines (``compare --batches``) keeps its own meaning."""
    for inp in inputs_for(command):
        if inp.flag not in p._option_string_actions and f"--no-{inp.flag[2:]}" not in (
            p._option_string_actions
        ):
            _add_input(p, inp, command)


def _add_audit(sub: argparse._SubParsersAction) -> None:
    aud = sub.add_parser(
        "audit",
        help="audit every weight of a Keras, PyTorch or Flax model, and its signal at init",
        description="Audit a whole model: every weight checked where it sits, and the "
        "model's own signal at init.",
        epilog=_EPILOG_AUDIT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    aud.add_argument(
        "spec",
        metavar="SPEC",
        help="a model or zero-arg factory: module:attr (mypkg.nets:build) or "
        "path/file.py:attr (models.py:make_model)",
    )
    add_inputs(aud, "audit")
    aud.add_argument(
        "--verbose",
        action="store_true",
        help="print every row and every finding's full messages (default: the findings, "
        "the failing rows and a count of the rest)",
    )
    aud.add_argument(
        "--fix-preview",
        action="store_true",
        help="apply the suggested fixes to a copy of the model and re-audit it: the report "
        "says 'after the suggested fix: passes' or what still fails (the exit code stays "
        "the original audit's)",
    )
    _add_outputs(aud)
    aud.set_defaults(func=cmd_audit)


def _add_outputs(p: argparse.ArgumentParser) -> None:
    add_output_options(p.add_argument)


def _positive(name: str, number: type) -> Callable[[str], object]:
    """``type=`` of a positive count or number of ``compare`` (the table's wording)."""

    def parse(text: str) -> object:
        try:
            value = number(text)
        except ValueError:
            value = None
        if value is None or not value > 0:
            kind = "integer" if number is int else "number"
            raise argparse.ArgumentTypeError(
                f"`{name}` must be a positive {kind}. Received: {name}={shown(text)}"
            )
        return value

    return parse
