"""The audit of a model that does not fit in memory: Llama-3-8B's shape on the meta device.

Builds ``LlamaForCausalLM`` from a transformers ``LlamaConfig`` with Llama-3-8B's sizes
(hidden 4096, 32 layers, FFN 14336, 32 heads with 8 KV heads, vocabulary 128256: 8.0 B
parameters, 32 GB in float32) under ``torch.device("meta")``, and audits the factory with
``variance="auto"``: each weight drawn alone on the CPU, the signal streamed one module
at a time, forward only (:mod:`initcheck.models.torch_meta`). Two cases, each in a fresh
process reporting its wall time and peak RSS:

- **sound**: the model's own init (``initializer_range`` 0.02);
- **o_proj**: every ``o_proj`` drawn with std 1.0 (a defect at the same size);
- **compare** (``--compare``): Llama-3.2-1B's shape (hidden 2048, 16 layers, FFN 8192, 32
  heads with 8 KV heads, vocabulary 128256: 1.2 B parameters, 5 GB in float32), which
  fits, audited once built on the meta device and once in memory: the same verdict and
  every row's verdict the same, or the rows that differ.

Run: ``PYTHONPATH=$PWD python benchmarks/bench_meta.py [sound|o_proj] [--layers N]
[--declared]`` or ``… bench_meta.py --compare`` (``--declared``: o_proj held to the
config's promise, std 0.02, by path; else ``variance="auto"``).
Numbers in docs/audit.md ("Models that do not fit in memory").
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from typing import Any

__all__ = ["llama_8b_config", "main"]

TIMEOUT = 1800.0  # seconds per call of the model's code (the streamed pass is one)


def llama_8b_config(layers: int = 32, hidden: int = 4096, ffn: int = 14336) -> Any:
    """Llama-3-8B's config (Llama 3's heads, vocabulary and rotary base), or another
    width and depth of the same family."""
    from transformers import LlamaConfig

    return LlamaConfig(
        hidden_size=hidden,
        intermediate_size=ffn,
        num_hidden_layers=layers,
        num_attention_heads=32,
        num_key_value_heads=8,
        vocab_size=128256,
        max_position_embeddings=8192,
        rope_theta=500000.0,
        tie_word_embeddings=False,
    )


def llama_1b_config() -> Any:
    """Llama-3.2-1B's shape: hidden 2048, 16 layers, FFN 8192."""
    return llama_8b_config(layers=16, hidden=2048, ffn=8192)


def factory(case: str, layers: int) -> Any:
    import torch
    from transformers import LlamaForCausalLM

    config = llama_1b_config() if case in ("meta-1b", "memory-1b") else llama_8b_config(layers)

    def build() -> Any:
        if case == "memory-1b":
            return LlamaForCausalLM(config)
        with torch.device("meta"):
            model = LlamaForCausalLM(config)
        model.init_weights()  # what materializing it runs
        if case == "o_proj":
            for layer in model.model.layers:
                torch.nn.init.normal_(layer.self_attn.o_proj.weight, std=1.0)
        return model

    return build


#: ``--declared``: the config's promise for o_proj, declared by path (issue 31, item 3)
DECLARED = {"*.o_proj.weight": "normal(std=initializer_range)", "*": "auto"}


def _run(case: str, layers: int, variance: Any = "auto") -> dict[str, Any]:
    import initcheck

    start = time.time()
    # the streamed pass draws all 8 B values: more than the default 60 s per call
    settings = initcheck.Settings(timeout=TIMEOUT)
    report = initcheck.audit(factory(case, layers), variance=variance, settings=settings)
    failing = [r.name for r in report.failed_rows]
    return {
        "case": case,
        "layers": layers,
        "variance": variance,
        "seconds": round(time.time() - start, 1),
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
        "verdict": report.verdict,
        "failing_rows": len(failing),
        "failing_o_proj": sum(".o_proj." in n for n in failing),
        "signal": report.signal.verdict if report.signal else None,
        "signal_message": report.signal.message[:300] if report.signal else "",
        "rows": {r.name: str(r.verdict) for r in report.rows},
    }


def _child(case: str, layers: int, declared: bool) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, case, "--layers", str(layers), "--child"]
        + (["--declared"] if declared else []),
        capture_output=True,
        text=True,
        check=False,
    )
    if not out.stdout.strip():
        raise SystemExit(out.stderr[-2000:])
    found: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return found


def compare() -> int:
    """The 1B shape on the meta device and in memory: the same verdicts, or which differ."""
    meta, memory = _child("meta-1b", 16, False), _child("memory-1b", 16, False)
    for r in (meta, memory):
        print(json.dumps({**r, "rows": len(r["rows"])}))
    differ = {
        k: (v, memory["rows"].get(k)) for k, v in meta["rows"].items() if memory["rows"].get(k) != v
    }
    same = (
        meta["verdict"] == memory["verdict"]
        and not differ
        and meta["rows"].keys() == memory["rows"].keys()
    )
    print(f"verdicts the same: {same}; rows that differ (meta, memory): {differ or 'none'}")
    return 0 if same else 1


def main(argv: list[str]) -> int:
    layers = int(argv[argv.index("--layers") + 1]) if "--layers" in argv else 32
    known = ("sound", "o_proj", "meta-1b", "memory-1b")
    cases = [a for a in argv if a in known] or ["sound", "o_proj"]
    declared = "--declared" in argv
    if "--child" in argv:
        print(json.dumps(_run(cases[0], layers, DECLARED if declared else "auto")))
        return 0
    if "--compare" in argv:
        return compare()
    for case in cases:
        found = _child(case, layers, declared)
        found.pop("rows")
        print(json.dumps(found))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
