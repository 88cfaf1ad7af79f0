"""The ``initcheck`` command line: ``initcheck check SPEC`` and ``initcheck compare SPEC...``.

Exit codes: 0 all checks passed (or the comparison ran), 1 a check failed (or an
initializer misbehaved while training), 2 a usage or load error (unknown Keras name,
unimportable ``module:attr``, missing file, bad option). Errors are one line on stderr,
never a traceback.

Importing this module is cheap: TensorFlow, numpy and Jinja2 load only inside the
commands that need them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from initcheck import registry

__all__ = ["CLASSIC_BATCHES", "build_parser", "main"]

#: Default training length of ``compare --classic``: the notebook's 858 batches (2 epochs
#: of its 55,000 images; ~28 epochs of the bundled 4,000), about 25 s on 2 CPU cores.
CLASSIC_BATCHES = 858

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

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

exit codes: 0 passed, 1 a check failed, 2 usage or load error.
"""

_EPILOG_CHECK = """\
examples:
  initcheck check he_normal --variance he
  initcheck check inits.py:my_he --variance he --report reports/my_he.html --json -
  initcheck check mypkg.inits:init --variance 0.01 --train

--variance takes lecun, glorot (xavier), he (kaiming) or a number; without it the
variance check is skipped and the scaling law is tested against the best-fitting fan rule.
exit codes: 0 all checks passed, 1 a check failed, 2 usage or load error.
"""

_EPILOG_COMPARE = f"""\
examples:
  initcheck compare --classic --report reports/classic.html
  initcheck compare he_normal glorot_uniform inits.py:my_init --epochs 2 --json cmp.json
  initcheck compare classic he_normal --batches 858

Trains the classic notebook's 784-256-128-10 ReLU MLP (Adam, lr 1e-3, batch 128) once per
initializer on the same data order, on the bundled 4,000-image MNIST subset (or the data
$INITCHECK_MNIST points to), and prints validation accuracy and losses. The SPEC
"classic" (or --classic) stands for the notebook's initializers (all zeros, all ones,
uniform ranges, the general rule, normal and truncated normal stddev 0.1); alone it
trains for {CLASSIC_BATCHES} batches unless --epochs/--batches say otherwise.
With --report, the static checks also run on every initializer, on the network's kernel
shapes (784, 256), (256, 128), (128, 10) (skip with --no-checks); their verdicts are
shown in the report and do not change the exit code.
exit codes: 0 trained, 1 an initializer raised or returned bad weights, 2 usage or load
error.
"""


class UsageError(Exception):
    """A bad SPEC, target or option: printed as one line, exit code 2."""


# --------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of ``initcheck``."""
    parser = argparse.ArgumentParser(
        prog="initcheck",
        description="Tell whether a neural-network weight initializer is sound: symmetry, "
        "centering, variance against its fan target, the 1/n scaling law, and early "
        "training on MNIST.",
        epilog=_EPILOG_MAIN,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from initcheck._version import __version__

    parser.add_argument("--version", action="version", version=f"initcheck {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="{check,compare}")
    sub.required = True

    chk = sub.add_parser(
        "check",
        help="run the checks on one initializer",
        description="Run initcheck's battery on one initializer and print the verdicts.",
        epilog=_EPILOG_CHECK,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    chk.add_argument("spec", metavar="SPEC", help=_SPEC_HELP)
    chk.add_argument(
        "--variance", metavar="T", help="declared variance target: lecun, glorot, he or a number"
    )
    chk.add_argument(
        "--layout",
        choices=("keras", "torch"),
        default="keras",
        help="kernel layout: keras (*kernel, in, out) or torch (out, in, *kernel); default keras",
    )
    chk.add_argument(
        "--train",
        action="store_true",
        help="also run the early-training check on MNIST (loads TensorFlow)",
    )
    chk.add_argument(
        "--family",
        choices=registry.option_choices("family"),
        help="declared distribution family: adds a Kolmogorov-Smirnov test",
    )
    chk.add_argument(
        "--nonlinearity",
        choices=registry.option_choices("nonlinearity"),
        help="adds the signal-propagation check through a deep net",
    )
    chk.add_argument(
        "--deterministic",
        action="store_true",
        help="the initializer is deterministic by design (identity, ZerO)",
    )
    chk.add_argument(
        "--checks",
        metavar="NAMES",
        type=lambda t: [c.strip() for c in t.split(",")],
        help="comma-separated checks to run instead of the defaults, e.g. symmetry,variance,dtypes",
    )
    chk.add_argument("--seed", type=int, default=0, help="seed of all draws (default 0)")
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
        "specs", metavar="SPEC", nargs="*", help=_SPEC_HELP + '; "classic" = the notebook\'s set'
    )
    cmp.add_argument(
        "--classic",
        action="store_true",
        help="include the notebook's initializers (same as the SPEC classic)",
    )
    cmp.add_argument(
        "--epochs",
        type=_positive_float,
        metavar="N",
        help="passes over the training set (default 2; the classic set alone: "
        f"{CLASSIC_BATCHES} batches)",
    )
    cmp.add_argument(
        "--batches",
        type=_positive_int,
        metavar="N",
        help="exact number of training batches (overrides --epochs)",
    )
    cmp.add_argument(
        "--batch-size",
        type=_positive_int,
        default=128,
        metavar="N",
        help="images per batch (default 128)",
    )
    cmp.add_argument("--seed", type=int, default=0, help="seed of the weights and data order")
    cmp.add_argument(
        "--no-checks",
        dest="checks",
        action="store_false",
        help="with --report, do not run the static checks",
    )
    _add_outputs(cmp)
    cmp.set_defaults(func=cmd_compare)
    return parser


def _add_outputs(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--json", metavar="PATH", help="write the results as JSON to PATH ('-' for stdout)"
    )
    p.add_argument(
        "--report",
        metavar="PATH",
        help="write a self-contained HTML report to PATH (e.g. reports/x.html)",
    )


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


# --------------------------------------------------------------------------- helpers


class Progress:
    """A one-line spinner with elapsed seconds on a terminal; silent otherwise."""

    _FRAMES = "|/-\\"

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self._text = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._start = time.monotonic()

    def update(self, text: str) -> None:
        """Show ``text`` (with a spinner and the elapsed time) until the next update."""
        if not self.enabled:
            return
        self._text = text
        self._start = time.monotonic()
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()

    def _run(self) -> None:
        i = 0
        while not self._stop.wait(0.2):
            elapsed = time.monotonic() - self._start
            self.stream.write(f"\r\x1b[K{self._FRAMES[i % 4]} {self._text} {elapsed:.0f}s")
            self.stream.flush()
            i += 1

    def close(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._thread = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _quiet_tensorflow() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _load(spec: str, *, name: str | None = None) -> Any:
    """SPEC → a resolved initializer; every loading problem becomes a UsageError."""
    from initcheck.initializers import resolve
    from initcheck.specs import SpecError, load_spec

    try:
        obj = load_spec(spec)
    except SpecError as exc:
        raise UsageError(str(exc)) from None
    if isinstance(obj, str):
        _quiet_tensorflow()
    try:
        return resolve(obj, name=name or spec)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"{spec!r}: {exc}") from None


def _variance(text: str | None) -> Any:
    if text is None:
        return None
    from initcheck.targets import resolve_target

    try:
        value: Any = float(text)
    except ValueError:
        value = text
    try:
        return resolve_target(value)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"--variance {text!r}: {exc}") from None


def _write_json(path: str, data: Any) -> None:
    text = json.dumps(data, indent=2, allow_nan=False, ensure_ascii=False)
    if path == "-":
        sys.stdout.write(text + "\n")
        return
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(text + "\n", encoding="utf-8")
    os.replace(tmp, target)


def _say(args: argparse.Namespace, text: str) -> None:
    """Human output: stdout, or stderr when the JSON goes to stdout."""
    stream = sys.stderr if getattr(args, "json", None) == "-" else sys.stdout
    stream.write(text + "\n")


# --------------------------------------------------------------------------- commands


def cmd_check(args: argparse.Namespace) -> int:
    """``initcheck check SPEC``: run the battery, print, write JSON/HTML, exit 0/1."""
    init = _load(args.spec, name=args.name)
    target = _variance(args.variance)
    if args.train:
        _quiet_tensorflow()
    from initcheck.api import check

    with Progress() as progress:
        progress.update(f"checking {init.name}" + (" (training on MNIST)" if args.train else ""))
        try:
            report = check(
                init,
                variance=target,
                layout=args.layout,
                seed=args.seed,
                train=args.train,
                family=args.family,
                nonlinearity=args.nonlinearity,
                deterministic=args.deterministic,
                checks=args.checks,
            )
        except (TypeError, ValueError) as exc:
            raise UsageError(str(exc)) from None
    _say(args, str(report))
    if args.json:
        _write_json(args.json, report.to_dict())
    if args.report:
        from initcheck.report import write_html_report

        path = write_html_report(
            args.report,
            report.results,
            settings=report.settings,
            title=f"initcheck report: {report.initializer}",
        )
        _say(args, f"report written to {path}")
    return EXIT_OK if report.passed else EXIT_FAILED


def _compare_inits(args: argparse.Namespace) -> tuple[dict[str, Any], bool]:
    """{display name: initializer} in order, and whether it is the classic set alone."""
    specs = list(args.specs)
    classic = args.classic or "classic" in specs
    specs = [s for s in specs if s != "classic"]
    inits: dict[str, Any] = {}
    if classic:
        from initcheck.classic import CLASSIC

        inits.update(CLASSIC)
    for spec in specs:
        init = _load(spec)
        if spec in inits:
            raise UsageError(f"{spec!r} is given twice; each initializer is trained once.")
        inits[spec] = init
    if not inits:
        raise UsageError(
            "compare needs at least one SPEC, or --classic for the notebook's "
            "initializers (e.g. initcheck compare --classic)."
        )
    return inits, classic and not specs


def comparison_table(runs: Sequence[Mapping[str, Any]]) -> str:
    """The notebook's printed table: validation accuracy, last loss, mean of last 50."""
    width = max(len("initializer"), *(len(r["name"]) for r in runs))
    head = (
        f"{'initializer':<{width}}  {'val acc':>8}  {'val loss':>8}  {'last loss':>9}  "
        f"{'mean last 50':>12}"
    )
    lines = [head, "-" * len(head)]

    def num(v: float | None, spec: str, w: int) -> str:
        return f"{v:{spec}}" if v is not None else f"{'—':>{w}}"

    for r in runs:
        acc = r["val_accuracy"]
        lines.append(
            f"{r['name']:<{width}}  {num(acc * 100 if acc is not None else None, '7.2f', 7)}%"
            f"  {num(r['val_loss'], '8.3f', 8)}  {num(r['last_loss'], '9.3f', 9)}  "
            f"{num(r['mean_last_50'], '12.3f', 12)}"
        )
    return "\n".join(lines)


def cmd_compare(args: argparse.Namespace) -> int:
    """``initcheck compare SPEC...``: train side by side, print the table, write outputs."""
    inits, classic_only = _compare_inits(args)
    epochs, batches = args.epochs, args.batches
    note = ""
    if classic_only and epochs is None and batches is None:
        batches = CLASSIC_BATCHES
        note = (
            f"(--classic default: {CLASSIC_BATCHES} batches as in the notebook, which "
            "ran 2 epochs of 55,000 images; pass --batches or --epochs to change)"
        )
    _quiet_tensorflow()
    from initcheck.errors import InitializerError
    from initcheck.report.html import normalize_comparisons

    length = f"{batches} batches" if batches else f"{epochs or 2:g} epochs"
    with Progress() as progress:
        progress.update(
            f"loading TensorFlow and MNIST, training {len(inits)} "
            f"initializer{'s' if len(inits) > 1 else ''} for {length}"
        )
        from initcheck.training import compare

        try:
            comparison = compare(
                inits,
                epochs=epochs if epochs is not None else 2,
                batches=batches,
                batch_size=args.batch_size,
                seed=args.seed,
            )
        except InitializerError as exc:
            progress.close()
            print(f"initcheck: error: {exc}", file=sys.stderr)
            return EXIT_FAILED
        reports = []
        if args.report and args.checks:
            from initcheck.api import check
            from initcheck.training import KERNEL_SHAPES

            for i, (name, init) in enumerate(inits.items(), 1):
                progress.update(f"checking {name} ({i}/{len(inits)})")
                reports.append(check(init, name=name, seed=args.seed, shapes=KERNEL_SHAPES))
    view = normalize_comparisons([comparison])[0]
    first = next(iter(comparison.runs.values()))
    header = (
        f"After {first.batches} batches ({first.epochs:.3g} epochs, batch "
        f"{comparison.batch_size}, seed {comparison.seed}) on {comparison.data_source}:"
    )
    _say(args, header)
    _say(args, comparison_table(view["runs"]))
    if note:
        _say(args, note)
    if args.json:
        _write_json(args.json, comparison_json(comparison, reports))
    if args.report:
        from initcheck.report import write_html_report

        settings = {
            "seed": args.seed,
            "batches": first.batches,
            "epochs": round(float(first.epochs), 4),
            "batch_size": comparison.batch_size,
            "data": comparison.data_source,
        }
        if reports:
            settings["checks"] = {
                k: v
                for k, v in reports[0].settings.items()
                if k not in ("versions", "seed", "train")
            }
            settings["versions"] = reports[0].settings.get("versions", {})
        titled = {
            "title": "the classic notebook's initializers" if classic_only else ", ".join(inits),
            "runs": comparison.runs,
            "batch_size": comparison.batch_size,
            "seed": comparison.seed,
            "data": comparison.data_source,
        }
        path = write_html_report(
            args.report,
            reports,
            comparisons=[titled],
            settings=settings,
            title="initcheck: the classic initializer comparison"
            if classic_only
            else "initcheck comparison",
        )
        _say(args, f"report written to {path}")
    return EXIT_OK


def comparison_json(comparison: Any, reports: Sequence[Any] = ()) -> dict[str, Any]:
    """A Comparison (and optional check Reports) as JSON-safe data."""
    from initcheck.results import jsonable

    runs = {}
    for name, run in comparison.runs.items():
        runs[name] = jsonable(
            {
                "losses": list(run.losses),
                "val_accuracy": run.val_accuracy,
                "val_loss": run.val_loss,
                "last_loss": run.last_loss,
                "mean_last_50": run.mean_loss(50),
                "batches": run.batches,
                "epochs": run.epochs,
                "seed": run.seed,
            }
        )
    return {
        "batch_size": comparison.batch_size,
        "seed": comparison.seed,
        "data_source": comparison.data_source,
        "runs": runs,
        "checks": [r.to_dict() for r in reports],
    }


# --------------------------------------------------------------------------- entry point


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (0 passed, 1 failed, 2 usage error)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help/--version (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except UsageError as exc:
        print(f"initcheck {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:  # unwritable --json/--report path
        print(f"initcheck {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("initcheck: interrupted", file=sys.stderr)
        return 130
