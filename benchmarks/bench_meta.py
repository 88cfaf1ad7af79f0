"""The audit of a model that does not fit in memory: Llama-3-8B's shape on the meta device.

Builds ``LlamaForCausalLM`` from a transformers ``LlamaConfig`` with Llama-3-8B's sizes
(hidden 4096, 32 layers, FFN 14336, 32 heads with 8 KV heads, vocabulary 128256: 8.0 B
parameters, 32 GB in float32) under ``torch.device("meta")``, and audits the factory with
``variance="auto"``: each weight drawn alone on the CPU, the signal streamed one module
at a time, forward only (:mod:`initcheck.models.torch_meta`). Two cases, each in a fresh
process reporting its wall time and peak RSS:

- **sound**: the model's own init (``initializer_range`` 0.02);
- **o_proj**: every ``o_proj`` drawn with std 1.0 (a defect at the same size).

Run: ``PYTHONPATH=$PWD python benchmarks/bench_meta.py [sound|o_proj] [--layers N]
[--declared]`` (``--declared``: o_proj held to the config's promise, std 0.02, by path;
else ``variance="auto"``).
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


def llama_8b_config(layers: int = 32) -> Any:
    from transformers import LlamaConfig

    return LlamaConfig(
        hidden_size=4096,
        intermediate_size=14336,
        num_hidden_layers=layers,
        num_attention_heads=32,
        num_key_value_heads=8,
        vocab_size=128256,
        max_position_embeddings=8192,
        rope_theta=500000.0,
        tie_word_embeddings=False,
    )


def factory(case: str, layers: int) -> Any:
    import torch
    from transformers import LlamaForCausalLM

    config = llama_8b_config(layers)

    def build() -> Any:
        with torch.device("meta"):
            model = LlamaForCausalLM(config)
        model.init_weights()  # what materializing it runs
        if case == "o_proj":
            for layer in model.model.layers:
                torch.nn.init.normal_(layer.self_attn.o_proj.weight, std=1.0)
        return model

    return build


#: ``--declared``: the config's promise for o_proj, declared by path (issue 31, item 3)
DECLARED = {"*.o_proj.weight": "normal(std=0.02)", "*": "auto"}


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
    }


def main(argv: list[str]) -> None:
    layers = int(argv[argv.index("--layers") + 1]) if "--layers" in argv else 32
    cases = [a for a in argv if a in ("sound", "o_proj")] or ["sound", "o_proj"]
    declared = "--declared" in argv
    if "--child" in argv:
        print(json.dumps(_run(cases[0], layers, DECLARED if declared else "auto")))
        return
    for case in cases:
        out = subprocess.run(
            [sys.executable, __file__, case, "--layers", str(layers), "--child"]
            + (["--declared"] if declared else []),
            capture_output=True,
            text=True,
            check=False,
        )
        print(out.stdout.strip().splitlines()[-1] if out.stdout.strip() else out.stderr[-2000:])


if __name__ == "__main__":
    main(sys.argv[1:])
