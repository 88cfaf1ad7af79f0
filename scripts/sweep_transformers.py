"""Audit every model type of the installed ``transformers`` (PyTorch), each built from its
default config shrunk generically, under ``variance="auto"`` and ``variance=None`` with the
audit's own default input.

For each model type, in its own child process (with a time limit, so one model's crash,
hang or abort never stops the others): shrink the config (every width, depth, head count,
vocabulary and image size, nested sub-configs included), build the base model
(``AutoModel.from_config``; a factory, so the audit may rebuild it), time one build, then
audit it once per mode. One JSON line per model type goes to ``--out`` (appended, so a run
that stops can be resumed with ``--resume``): its build status, parameter count, and per
mode the verdict, the signal's verdict and message, the failing and not-audited rows
grouped by cause, and the wall time. ``--table`` prints the markdown summary that
docs/audit.md quotes, from an existing ``--out`` file.

``--floor`` also runs each type's floor in a child of its own, as
``benchmarks/bench_audit.py`` does: the imports, one build and one forward and backward
pass on the audit's default batch (the time to import initcheck's batch helper left out).
A mode's audit time is then its child's wall time without the other modes' audits and
the child's own first build (for the parameter count), and
``--table`` adds each mode's audit ÷ floor: the median, the largest, and the types over 2×.
Where no default batch runs, the floor is the imports, the build and the batches tried
(``floor_batch: false``; the audit tries the same ones), counted apart in ``--table``.
``--refloor`` adds the floor to the types of an existing ``--out`` that have none. Where
``anyinit`` is installed, its analytic ``initialize`` of the built model is timed in the
floor's process (``anyinit_s``, left out of the floor).

Usage:
    python scripts/sweep_transformers.py --limit 10            # the first 10 types
    python scripts/sweep_transformers.py --every 2 --out sweep.jsonl   # every second type
    python scripts/sweep_transformers.py bert gpt2 llama       # by model type
    python scripts/sweep_transformers.py --shard 1/2 --out b.jsonl    # the odd half, in parallel
    python scripts/sweep_transformers.py --every 20 --floor --modes auto --out f.jsonl
    python scripts/sweep_transformers.py --refloor --out f.jsonl   # floors it lacks
    python scripts/sweep_transformers.py --table --out sweep.jsonl
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from shrink_config import shrink

ROOT = Path(__file__).resolve().parents[1]


def model_types() -> list[str]:
    from transformers.models.auto.modeling_auto import MODEL_MAPPING_NAMES

    return sorted(MODEL_MAPPING_NAMES)


def _groups(report: Any, rows: Any) -> dict[str, int]:
    """Rows grouped by their first failing check's message, with the numbers blurred."""
    import re

    out: collections.Counter[str] = collections.Counter()
    for r in rows:
        fails = [f for f in r.failures] or [None]
        msg = fails[0].message if fails[0] is not None else (r.status + " " + r.layer_type)
        key = f"{r.layer_type}.{r.param}: " + re.sub(r"[-+]?\d[\d.,e+-]*", "#", msg)[:160]
        out[key] += 1
    return dict(out.most_common(8))


def child(model_type: str, modes: list[str], seed: int) -> dict[str, Any]:
    """Build and audit one model type; return the JSON record."""
    import logging
    import warnings

    import torch

    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    torch.set_num_threads(1)
    from transformers import AutoConfig, AutoModel

    import initcheck

    record: dict[str, Any] = {"type": model_type}
    try:
        config = shrink(AutoConfig.for_model(model_type))
        start = time.perf_counter()
        model = AutoModel.from_config(config)
        record["build_s"] = round(time.perf_counter() - start, 2)
        record["class"] = type(model).__name__
        record["params"] = sum(p.numel() for p in model.parameters())
    except Exception as exc:
        record["build_error"] = f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
        return record

    def factory() -> Any:
        return AutoModel.from_config(config)

    for mode in modes:
        variance = None if mode == "None" else mode
        start = time.perf_counter()
        try:
            report = initcheck.audit(factory, variance=variance, seed=seed)
        except Exception as exc:
            record[mode] = {
                "crash": f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}",
                "seconds": round(time.perf_counter() - start, 1),
            }
            continue
        signal = report.signal
        record[mode] = {
            "verdict": report.verdict,
            "seconds": round(time.perf_counter() - start, 1),
            "coverage": report.coverage,
            "signal": None if signal is None else signal.verdict,
            "signal_message": None if signal is None else signal.message[:400],
            "failed": _groups(report, report.failed_rows),
            "unaudited": _groups(report, report.unaudited),
        }
    return record


def floor_child(model_type: str, seed: int) -> dict[str, Any]:
    """The floor of one model type: one build and one forward and backward pass on the
    first default batch the model takes, called and in the mode the audit's pass uses
    (after the imports; the child's wall time, less the time to import initcheck's batch
    helpers, is the floor)."""
    import logging
    import warnings

    import torch

    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    torch.set_num_threads(1)
    from transformers import AutoConfig, AutoModel

    start = time.perf_counter()
    from initcheck.models.outputs import first_tensor
    from initcheck.models.torch_batch import default_batches, signal_mode
    from initcheck.models.torch_model import _as_tensor, _required_inputs
    from initcheck.sampling import draw_seed

    helper = time.perf_counter() - start
    config = shrink(AutoConfig.for_model(model_type))
    # the model the audit's first build makes (its seed: the same work in its pass;
    # VITS's weights set its waveform's length, ×2 between two seeds)
    torch.manual_seed(draw_seed(seed, 0, 0))
    model = AutoModel.from_config(config)

    def run(batch: Any) -> Any:  # as the audit's traced pass calls the model
        if isinstance(batch, dict):
            return model(**{k: _as_tensor(model, v) for k, v in batch.items()})
        if isinstance(batch, tuple | list):
            return model(*[_as_tensor(model, v) for v in batch])
        return model(*[_as_tensor(model, batch)] * _required_inputs(model))

    ran = False
    try:  # as the audit: a batch that cannot be made is "could not build a batch"
        batches = default_batches(model, seed)
    except Exception:
        batches = []
    with signal_mode(model):
        for batch in batches:
            try:
                torch.manual_seed(seed)  # as the audit's pass: a forward that draws noise
                # (VITS's stochastic durations set its waveform's length) does the same work
                first_tensor(run(batch)).float().pow(2).mean().backward()
                ran = True
                break
            except Exception:  # the next candidate, as the audit tries them
                model.zero_grad(set_to_none=True)
    # where no batch ran, the floor is the build and the batches tried (the audit tries them)
    found: dict[str, Any] = {"helper_s": round(helper, 2)} | ({} if ran else {"floor_batch": False})
    return found | _anyinit(model, seed)


def _anyinit(model: Any, seed: int, limit: int = 60) -> dict[str, Any]:
    """anyinit's analytic re-initialization of the built model, timed beside the floor
    (only where ``anyinit`` is installed; never part of the floor): ``anyinit_s`` its call,
    ``other_s`` its import and call, which the parent leaves out of the floor."""
    import signal
    from importlib.util import find_spec

    if find_spec("anyinit") is None:
        return {}
    start = time.perf_counter()

    def stop(*_: Any) -> None:
        raise TimeoutError(f"over {limit} s")

    signal.signal(signal.SIGALRM, stop)
    signal.alarm(limit)
    try:
        import anyinit  # type: ignore[import-not-found]

        begin = time.perf_counter()
        anyinit.initialize(model, seed=seed)  # its default, data-free (analytic) mode
        found: dict[str, Any] = {"anyinit_s": round(time.perf_counter() - begin, 3)}
    except Exception as exc:
        found = {"anyinit_error": f"{type(exc).__name__}: {' '.join(str(exc).split())[:120]}"}
    finally:
        signal.alarm(0)
    return {**found, "other_s": round(time.perf_counter() - start, 2)}


def _floor(model_type: str, timeout: float, seed: int) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--floor-child", model_type, "--seed", str(seed)]
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    start = time.perf_counter()
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"floor_error": f"over {timeout:g} s"}
    wall = time.perf_counter() - start
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    if done.returncode != 0 or not lines:
        return {"floor_error": f"exit {done.returncode}"}
    found: dict[str, Any] = json.loads(lines[-1])
    if "floor_error" not in found:
        found["floor_s"] = round(wall - found["helper_s"] - found.pop("other_s", 0.0), 2)
    return found


def ratio(record: dict[str, Any], mode: str) -> float | None:
    """The audit under ``mode`` ÷ the floor, both as fresh processes (``None``: not both
    measured): the child's wall time without the other modes' audits."""
    floor, wall = record.get("floor_s"), record.get("wall_s")
    result = record.get(mode, {})
    if not floor or wall is None or "verdict" not in result:
        return None
    others = sum(record.get(m, {}).get("seconds", 0.0) for m in record.get("modes", [mode]))
    # the child's own first build (for the parameter count) is not the audit's
    return (wall - others + result["seconds"] - record.get("build_s", 0.0)) / floor


def _run_one(model_type: str, modes: list[str], timeout: float, seed: int) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", model_type, "--modes", *modes, "--seed", str(seed)]
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    start = time.perf_counter()
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"type": model_type, "timeout": timeout}
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = " ".join(done.stderr.strip().splitlines()[-2:])[:300]
        return {"type": model_type, "abort": f"exit {done.returncode}: {tail}"}
    record: dict[str, Any] = json.loads(lines[-1])
    record["wall_s"] = round(time.perf_counter() - start, 1)
    record["modes"] = modes
    return record


def outcome(record: dict[str, Any], mode: str) -> str:
    """One word per (model type, mode): build-error, timeout, abort, crash or the verdict."""
    for key in ("build_error", "timeout", "abort"):
        if key in record:
            return key.replace("_", "-")
    result = record.get(mode, {})
    return "crash" if "crash" in result else result.get("verdict", "missing")


def table(records: list[dict[str, Any]], modes: list[str]) -> str:
    lines = [
        "| outcome | " + " | ".join(f"`{m}`" for m in modes) + " |",
        "|---|" + "---:|" * len(modes),
    ]
    counts = {m: collections.Counter(outcome(r, m) for r in records) for m in modes}
    keys = sorted({k for c in counts.values() for k in c})
    for k in keys:
        lines.append(f"| {k} | " + " | ".join(str(counts[m][k]) for m in modes) + " |")
    lines.append("| **model types** | " + " | ".join(str(len(records)) for _ in modes) + " |")
    for m in modes:
        for batch, what in ((True, "floor"), (False, "floor without a batch (build, tries)")):
            ratios = sorted(
                (r, rec["type"])
                for rec in records
                if rec.get("floor_batch", True) == batch and (r := ratio(rec, m)) is not None
            )
            if ratios:
                over = [f"`{t}` {r:.1f}×" for r, t in ratios if r > 2]
                lines.append(
                    f"\n`{m}`: audit ÷ {what} over {len(ratios)} types: median "
                    f"{statistics.median(r for r, _ in ratios):.2f}×, largest "
                    f"{ratios[-1][0]:.2f}× (`{ratios[-1][1]}`); "
                    f"over 2×: {', '.join(over) or 'none'}"
                )
    beside = sorted(r["anyinit_s"] for r in records if "anyinit_s" in r)
    if beside:
        failed = sum("anyinit_error" in r for r in records)
        lines.append(
            f"\nanyinit's analytic `initialize` on the built model, {len(beside)} types: median "
            f"{statistics.median(beside):.2f} s, largest {beside[-1]:.2f} s"
            + (f"; raised on {failed} types" if failed else "")
        )
    return "\n".join(lines)


def causes(records: list[dict[str, Any]], mode: str) -> str:
    """One markdown line per model type that did not pass under ``mode``: its outcome and
    its first cause (the signal's message if it failed, else the first failing rows)."""
    lines = []
    for r in sorted(records, key=lambda r: r["type"]):
        word = outcome(r, mode)
        if word == "passed":
            continue
        result = r.get(mode, {})
        if word in ("build-error", "abort"):
            why = r.get("build_error") or r.get("abort") or ""
        elif word == "timeout":
            why = f"over {r['timeout']:g} s"
        elif word == "crash":
            why = result["crash"]
        else:
            failing = {
                k: n for k, n in (result.get("failed") or {}).items() if "inconclusive" not in k
            }
            groups = failing or result.get("unaudited") or result.get("failed") or {}
            rows = "; ".join(f"{n}× {k}" for k, n in list(groups.items())[:2])
            signal = result.get("signal_message") or ""
            if result.get("signal") == "fail" or (not failing and word == "inconclusive"):
                why = f"signal: {signal}" + (f" | rows: {rows}" if failing else "")
            else:
                why = f"rows: {rows}" + (
                    f" | signal: {signal}" if result.get("signal") != "pass" else ""
                )
        lines.append(f"- `{r['type']}` {word}: {' '.join(why.split())[:240]}")
    return "\n".join(lines)


def refloor(out: Path, index: int, count: int, timeout: float, seed: int) -> int:
    """Time the floor of every type in ``out`` (this shard's) that built and has none,
    rewriting ``out`` (at the end: run shards on separate files)."""
    records = [json.loads(ln) for ln in out.read_text().splitlines() if ln.strip()]
    todo = [r for r in records if "build_error" not in r and "floor_s" not in r and "wall_s" in r][
        index::count
    ]
    for i, record in enumerate(todo, 1):
        record.pop("floor_error", None)
        record.update(_floor(record["type"], timeout, seed))
        print(f"[{i}/{len(todo)}] {record['type']}: floor {record.get('floor_s', '-')}", flush=True)
    out.write_text("".join(json.dumps(r) + "\n" for r in records))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("types", nargs="*", help="model types (default: all)")
    parser.add_argument("--every", type=int, default=1, help="every N-th model type")
    parser.add_argument("--limit", type=int, default=0, help="at most this many types")
    parser.add_argument("--shard", default="0/1", help="I/N: every N-th type from the I-th")
    parser.add_argument("--modes", nargs="+", default=["auto", "None"])
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per model type")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("sweep_transformers.jsonl"))
    parser.add_argument("--resume", action="store_true", help="skip types already in --out")
    parser.add_argument("--table", action="store_true", help="print the table of --out")
    parser.add_argument("--causes", help="print each type's cause of not passing under MODE")
    parser.add_argument("--floor", action="store_true", help="also time each type's floor")
    parser.add_argument("--refloor", action="store_true", help="add floors --out lacks")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--floor-child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.modes, args.seed)), flush=True)
        return 0
    if args.floor_child:
        print(json.dumps(floor_child(args.floor_child, args.seed)), flush=True)
        return 0
    if args.table or args.causes:
        records = [json.loads(ln) for ln in args.out.read_text().splitlines() if ln.strip()]
        print(causes(records, args.causes) if args.causes else table(records, args.modes))
        return 0
    index, count = (int(v) for v in args.shard.split("/"))
    if args.refloor:
        return refloor(args.out, index, count, args.timeout, args.seed)
    types = (args.types or model_types()[:: args.every])[index::count]
    done = set()
    if args.resume and args.out.exists():
        done = {json.loads(ln)["type"] for ln in args.out.read_text().splitlines() if ln}
    types = [t for t in types if t not in done]
    if args.limit:
        types = types[: args.limit]
    with args.out.open("a") as out:
        for i, t in enumerate(types, 1):
            record = _run_one(t, args.modes, args.timeout, args.seed)
            if args.floor and "build_error" not in record:
                record.update(_floor(t, args.timeout, args.seed))
            out.write(json.dumps(record) + "\n")
            out.flush()
            words = " ".join(f"{m}={outcome(record, m)}" for m in args.modes)
            ratios = " ".join(
                f"{m} {r:.1f}x" for m in args.modes if (r := ratio(record, m)) is not None
            )
            took = f"{record.get('wall_s', '-')} s" + (f"; floor {ratios}" if ratios else "")
            if "anyinit_s" in record:
                took += f"; anyinit {record['anyinit_s']:.2f} s"
            print(f"[{i}/{len(types)}] {t}: {words} ({took})", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
