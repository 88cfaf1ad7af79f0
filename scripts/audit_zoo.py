"""Run ``initcheck.audit`` on every model of the zoo (tests/zoo.py) under several rules.

For each model: its size, build time and one forward/backward time (best of 3); then one
line per (model, rule) — wall time, PASSED/FAILED, rows failed / not audited, the
signal's verdict and message — followed by the first failing rows' one-line reasons and
a count of the not-audited rows by reason. An audit that raises prints ``CRASH`` with
the exception's last line and where it was raised, then the same audit with
``signal=False`` (the rows the crash discarded). Each model runs in its own child
process (with a time limit), so one model's crash, hang or abort never stops the others.

Rules: ``variance=None``, ``"auto"``, and the authors' own rule where one exists
(torchvision ResNet: ``"he_fan_out"`` on convs, PyTorch's default on its fc; the
unnormalized ResNet: ``"he"``; Keras applications and the Glorot defects:
``"glorot"``; Hugging Face: N(0, 0.02²) as a fixed variance, GPT-2's ``c_proj`` at
0.02²/(2·n_layer); torch's TransformerEncoder: its packed Glorot in_proj and PyTorch's
default 1/(3·fan_in) elsewhere).

Usage:
    python scripts/audit_zoo.py                      # every model (~minutes)
    python scripts/audit_zoo.py bert gpt2 resnet18   # by name (case label or prefix)
    python scripts/audit_zoo.py --list
    python scripts/audit_zoo.py --no-inputs resnet18      # the audit's own default batch
    python scripts/audit_zoo.py --rules auto --json-dir /tmp/zoo_json keras_resnet50
    # audit with another engine, e.g. a commit's initcheck/ exported by git archive:
    PYTHONPATH=/tmp/engine python scripts/audit_zoo.py
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import zoo  # noqa: E402


def torch_default(fan_in: int, fan_out: int) -> float:
    """PyTorch's default Linear/Conv init: kaiming_uniform_(a=√5), Var = 1/(3·fan_in)."""
    return 1.0 / (3.0 * fan_in)


def packed_glorot(fan_in: int, fan_out: int) -> float:
    """xavier_uniform_ on MultiheadAttention's packed (3E, E) in_proj, per (E, E) piece."""
    return 2.0 / (fan_in + 3.0 * fan_out)


TRANSFORMER_OWN = {
    "*self_attn.out_proj": torch_default,
    "*self_attn": packed_glorot,
    "*": torch_default,
}


@dataclass(frozen=True)
class Case:
    """One zoo model as audited: its factory, its inputs (``None``: the audit's default)
    and the rules to audit it under (label → ``variance=``)."""

    name: str
    framework: str
    factory: Callable[[], Any]
    inputs: Callable[[], Any] | None
    rules: dict[str, Any] = field(default_factory=dict)
    defect: str = ""


BASIC = {"None": None, "auto": "auto"}


def _cases() -> list[Case]:
    hf = {n: {**BASIC, "hf_0.02": zoo.hf_rule(n)} for n in zoo.HF}
    glorot = {**BASIC, "glorot": "glorot"}
    # torchvision: kaiming fan_out on convs, the fc left at PyTorch's default
    resnet = {**BASIC, "he_fan_out": {"fc": torch_default, "*": "he_fan_out"}}
    nonorm = {**BASIC, "he": {"fc": torch_default, "*": "he"}}
    return [
        Case("resnet18", "torch", zoo.resnet18, zoo.resnet18_inputs, resnet),
        Case(
            "resnet18_zero_init",
            "torch",
            lambda: zoo.resnet18(zero_init_residual=True),
            zoo.resnet18_inputs,
            resnet,
        ),
        Case(
            "resnet18_nonorm",
            "torch",
            lambda: zoo.resnet18(norm=False),
            zoo.resnet18_inputs,
            nonorm,
            defect=zoo.DEFECTS["resnet18(norm=False)"],
        ),
        Case(
            "plain_cnn_default",
            "torch",
            zoo.plain_cnn_default,
            zoo.plain_cnn_default_inputs,
            BASIC,
            defect=zoo.DEFECTS["plain_cnn_default"],
        ),
        Case(
            "vgg_glorot",
            "torch",
            zoo.vgg_glorot,
            zoo.vgg_glorot_inputs,
            glorot,
            defect=zoo.DEFECTS["vgg_glorot"],
        ),
        Case(
            "transformer_encoder",
            "torch",
            zoo.transformer_encoder,
            zoo.transformer_encoder_inputs,
            {**BASIC, "torch_own": TRANSFORMER_OWN},
        ),
        Case(
            "transformer_encoder_noinputs",
            "torch",
            zoo.transformer_encoder,
            None,
            {**BASIC, "torch_own": TRANSFORMER_OWN},
        ),
        Case("bert", "hf", zoo.bert, zoo.bert_inputs, hf["bert"]),
        Case("gpt2", "hf", zoo.gpt2, zoo.gpt2_inputs, hf["gpt2"]),
        Case("gpt2_base", "hf", lambda: zoo.gpt2(lm_head=False), zoo.gpt2_inputs, hf["gpt2"]),
        Case("vit", "hf", zoo.vit, zoo.vit_inputs, hf["vit"]),
        Case("llama", "hf", zoo.llama, zoo.llama_inputs, hf["llama"]),
        Case("llama_base", "hf", lambda: zoo.llama(lm_head=False), zoo.llama_inputs, hf["llama"]),
        Case("keras_resnet50", "keras", zoo.keras_resnet50, zoo.keras_resnet50_inputs, glorot),
        Case(
            "keras_mobilenet_v2",
            "keras",
            zoo.keras_mobilenet_v2,
            zoo.keras_mobilenet_v2_inputs,
            glorot,
        ),
        Case(
            "keras_convnext_tiny",
            "keras",
            zoo.keras_convnext_tiny,
            zoo.keras_convnext_tiny_inputs,
            glorot,
        ),
        Case(
            "keras_resnet_micro",
            "keras",
            zoo.keras_resnet_micro,
            zoo.keras_resnet_micro_inputs,
            glorot,
        ),
        Case(
            "keras_convnext_micro",
            "keras",
            zoo.keras_convnext_micro,
            zoo.keras_convnext_micro_inputs,
            glorot,
        ),
        Case(
            "keras_plain_cnn_glorot",
            "keras",
            zoo.keras_plain_cnn_glorot,
            zoo.keras_plain_cnn_glorot_inputs,
            glorot,
            defect=zoo.DEFECTS["keras_plain_cnn_glorot"],
        ),
    ]


CASES = {c.name: c for c in _cases()}


def _select(names: list[str]) -> list[Case]:
    if not names:
        return list(CASES.values())
    out: list[Case] = []
    for n in names:
        hits = [c for c in CASES.values() if c.name == n] or [
            c for c in CASES.values() if c.name.startswith(n)
        ]
        if not hits:
            raise SystemExit(f"unknown zoo model {n!r}; have: {', '.join(CASES)}")
        out += [c for c in hits if c not in out]
    return out


# ------------------------------------------------------------------ one model


def _crash_line(exc: BaseException) -> str:
    """The exception's last line and the innermost frame it was raised in."""
    last = traceback.format_exception_only(type(exc), exc)[-1].strip()
    frames = traceback.extract_tb(exc.__traceback__)
    where = ""
    if frames:
        mine = [f for f in frames if "initcheck" in f.filename] or frames
        f = mine[-1]
        where = f" [at {Path(f.filename).name}:{f.lineno} in {f.name}]"
        if frames[-1] is not f:
            g = frames[-1]
            where += f" [raised in {Path(g.filename).name}:{g.lineno} in {g.name}]"
    return (last[:400] + "…" if len(last) > 400 else last) + where


def _short(text: str, n: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _forward_backward(case: Case, model: Any, x: Any) -> float:
    """The best of 3 timed forward/backward passes (train mode, loss = sum of the output)."""
    if case.framework == "keras":
        import tensorflow as tf

        xt = tf.convert_to_tensor(x)

        def step() -> None:
            with tf.GradientTape() as tape:
                out = model(xt, training=True)
                loss = tf.reduce_sum(out[0] if isinstance(out, list | tuple) else out)
            tape.gradient(loss, model.trainable_weights)

    else:
        import torch

        model.train()

        def step() -> None:
            out = model(x)
            if not isinstance(out, torch.Tensor):
                out = out[0]
            out.float().sum().backward()

    step()
    times = []
    for _ in range(3):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    return min(times)


def _default_inputs(case: Case) -> Any:
    """A batch for timing only (the audit itself gets ``case.inputs``, maybe ``None``)."""
    if case.inputs is not None:
        return case.inputs()
    return zoo.transformer_encoder_inputs()


def _report_lines(report: Any, limit: int) -> list[str]:
    rows = list(report.rows)
    failed = [r for r in rows if r.audited and not r.passed]
    unaudited = [r for r in rows if not r.audited]
    sig = report.signal
    if sig is None:
        signal = "signal=none"
    else:
        signal = f"signal={'ok' if sig.passed else 'FAILED'}: {_short(sig.message, 600)}"
    head = (
        f"{'PASSED' if report.passed else 'FAILED'} rows={len(rows)} failed={len(failed)} "
        f"not_audited={len(unaudited)} {signal}"
    )
    lines = [head]
    for r in failed[:limit]:
        why = "; ".join(f"{f.check}: {_short(f.message, 140)}" for f in r.failures[:2])
        diag = f" | diagnosis: {_short(r.diagnosis, 120)}" if r.diagnosis else ""
        lines.append(f"      x {r.name} ({r.layer_type}) {why}{diag}")
    if len(failed) > limit:
        lines.append(f"      … {len(failed) - limit} more failed rows")
    if unaudited:
        reasons = collections.Counter(f"{r.note or 'no note'}" for r in unaudited)
        for note, n in reasons.most_common(4):
            lines.append(f"      ? {n}× {_short(note, 140)}")
    return lines


def run_one(
    name: str,
    rules: list[str] | None,
    limit: int,
    json_dir: Path | None,
    no_inputs: bool = False,
) -> int:
    """Audit one zoo model under its rules, printing as it goes (``no_inputs``: the
    audit builds its own default batch). Returns 0 (crashes are printed, not raised)."""
    case = CASES[name]
    label = f"{name}{' [defect]' if case.defect else ''}"
    try:
        if case.framework != "keras":
            import torch

            torch.set_num_threads(2)
        t = time.perf_counter()
        model = case.factory()
        build = time.perf_counter() - t
        t = time.perf_counter()
        case.factory()
        build2 = time.perf_counter() - t
        fb = _forward_backward(case, model, _default_inputs(case))
        print(
            f"== {label}: {type(model).__name__}, {zoo.n_params(model):,} params, build "
            f"{build:.2f} s (again {build2:.2f} s), fwd/bwd {fb * 1000:.0f} ms"
            + (f" — defect: {case.defect}" if case.defect else ""),
            flush=True,
        )
    except Exception as exc:
        print(f"== {label}: BUILD/FORWARD CRASH {_crash_line(exc)}", flush=True)
        return 0

    import initcheck

    for rule_label, variance in case.rules.items():
        if rules and rule_label not in rules:
            continue
        inputs = case.inputs() if case.inputs is not None and not no_inputs else None
        t = time.perf_counter()
        try:
            report = initcheck.audit(case.factory, variance=variance, inputs=inputs)
        except Exception as exc:
            took = time.perf_counter() - t
            print(f"  {name:28s} {rule_label:10s} {took:6.1f}s CRASH {_crash_line(exc)}")
            sys.stdout.flush()
            # the rows the crash discarded: the same audit without the signal
            t = time.perf_counter()
            try:
                report = initcheck.audit(
                    case.factory, variance=variance, inputs=inputs, signal=False
                )
            except Exception as exc2:
                took = time.perf_counter() - t
                print(f"      (signal=False) {took:5.1f}s CRASH too: {_crash_line(exc2)}")
                sys.stdout.flush()
                continue
            took = time.perf_counter() - t
            lines = _report_lines(report, limit)
            print(f"      (signal=False) {took:5.1f}s rows only: {lines[0]}")
            for line in lines[1:]:
                print(line)
            sys.stdout.flush()
            _write_json(report, json_dir, f"{name}__{rule_label}__nosignal")
            continue
        took = time.perf_counter() - t
        lines = _report_lines(report, limit)
        print(f"  {name:28s} {rule_label:10s} {took:6.1f}s {lines[0]}")
        for line in lines[1:]:
            print(line)
        sys.stdout.flush()
        _write_json(report, json_dir, f"{name}__{rule_label}")
    return 0


def _write_json(report: Any, json_dir: Path | None, stem: str) -> None:
    if json_dir is None:
        return
    json_dir.mkdir(parents=True, exist_ok=True)
    path = json_dir / f"{stem}.json"
    try:
        path.write_text(json.dumps(report.to_dict(), indent=1, default=str))
    except Exception as exc:
        print(f"      (could not write {path}: {_crash_line(exc)})")


# ---------------------------------------------------------------------- main


def _run_child(cmd: list[str], env: dict[str, str], timeout: float) -> int | None:
    """Run one model's child, echoing its stdout as it comes; its return code, or
    ``None`` when it ran out of time (then it is killed). Its stderr (framework logs) is
    dropped except for the last line when it fails."""
    import threading

    with subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        tail: collections.deque[str] = collections.deque(maxlen=3)

        def drain() -> None:
            assert proc.stderr is not None
            try:
                for line in proc.stderr:
                    if line.strip():
                        tail.append(line.rstrip())
            except (OSError, ValueError):  # closed when the parent stops early
                pass

        err = threading.Thread(target=drain, daemon=True)
        err.start()
        killed = threading.Event()

        def kill() -> None:
            killed.set()
            proc.kill()

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                print(line, end="", flush=True)
            code = proc.wait()
        finally:
            timer.cancel()
        err.join(timeout=5)
    if killed.is_set():
        return None
    if code != 0 and tail:
        print(f"      stderr: {_short(tail[-1], 300)}")
    return code


def _engine(env: dict[str, str]) -> str:
    """Where the children import initcheck from; for this checkout's own package, its
    commit and whether initcheck/ has uncommitted changes."""
    code = "import initcheck, os; print(os.path.dirname(initcheck.__file__))"
    found = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False, cwd="/"
    )
    where = found.stdout.strip()
    if not where:
        return f"(import failed: {found.stderr.strip()[-200:]})"
    if Path(where).resolve() != (ROOT / "initcheck").resolve():
        return f"{where} (not this checkout's initcheck/)"

    def git(*a: str) -> str:
        out = subprocess.run(
            ["git", "-C", str(ROOT), *a], capture_output=True, text=True, check=False
        )
        return out.stdout.strip()

    dirty = " + uncommitted changes" if git("status", "--porcelain", "initcheck") else ""
    return f"{where} at {_short(git('log', '-1', '--format=%h %s'), 90)}{dirty}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="*", help="zoo case names or prefixes (default: all)")
    parser.add_argument("--list", action="store_true", help="list the cases and their rules")
    parser.add_argument("--rules", nargs="*", help="only these rule labels (None, auto, …)")
    parser.add_argument("--limit", type=int, default=5, help="failing rows shown per audit")
    parser.add_argument("--timeout", type=float, default=1200, help="seconds per model")
    parser.add_argument("--json-dir", type=Path, help="write each report's to_dict() here")
    parser.add_argument(
        "--no-inputs",
        action="store_true",
        help="audit every model with inputs=None (the audit's own default batch)",
    )
    parser.add_argument("--one", help=argparse.SUPPRESS)  # run in this process (the child)
    args = parser.parse_args(argv)

    if args.list:
        for c in CASES.values():
            mark = f"  [defect: {c.defect}]" if c.defect else ""
            print(f"{c.name:30s} {c.framework:6s} rules: {', '.join(c.rules)}{mark}")
        return 0
    if args.one:
        return run_one(args.one, args.rules, args.limit, args.json_dir, args.no_inputs)

    # an engine given on PYTHONPATH (e.g. an exported commit) comes before the checkout
    path = os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH", ""), str(ROOT)]))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": path}
    print(f"# engine: {_engine(env)}", flush=True)
    start = time.perf_counter()
    for case in _select(args.models):
        cmd = [sys.executable, __file__, "--one", case.name, "--limit", str(args.limit)]
        if args.rules:
            cmd += ["--rules", *args.rules]
        if args.json_dir:
            cmd += ["--json-dir", str(args.json_dir)]
        if args.no_inputs:
            cmd.append("--no-inputs")
        t = time.perf_counter()
        code = _run_child(cmd, env, args.timeout)
        if code is None:
            print(f"  {case.name}: TIMEOUT after {args.timeout:.0f} s (remaining rules not run)")
        elif code != 0:
            print(f"  {case.name}: child exited {code} (crashed outside Python: see above)")
        print(f"  ({case.name}: {time.perf_counter() - t:.1f} s in all)")
        sys.stdout.flush()
    print(f"total {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # e.g. piped into head
        sys.exit(1)
