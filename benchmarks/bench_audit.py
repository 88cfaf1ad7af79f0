"""The audit against each model's own floor: time and peak memory, side by side.

For every model below, three fresh processes run on the same batch:

- **floor**: the imports, building the model once, one forward and backward pass;
- **audit**: the imports and ``initcheck.audit(factory, variance="auto")``, which builds
  the model once;
- **anyinit** (only where ``anyinit`` is installed): its analytic re-initialization.

Each process reports its wall time (from interpreter start) and its peak RSS. The
acceptance bar (docs/audit.md, "Speed and memory"): audit time ≤ 5× the floor and ≤ 20 s,
and audit peak RSS ≤ floor peak RSS + max(3× the parameter bytes, 512 MB).

The wide set (torchvision's and timm's EfficientNet-B0 and RegNets, timm's CaiT-XXS,
ResMLP-24 and ViT-Tiny, a 0.7 M-parameter Mistral; torchvision and timm where installed)
reports each audit ÷ its floor beside anyinit's time.

Run: ``PYTHONPATH=$PWD python benchmarks/bench_audit.py [model ...]`` (all models by
default). Numbers in docs/audit.md.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

__all__ = ["MODELS", "main", "resnet18_sized"]

BATCH = 8
TIME_RATIO, TIME_LIMIT, MEMORY_FLOOR = 5.0, 20.0, 512 * 2**20


def _keras_mobilenet() -> tuple[Any, Any]:
    import keras
    import numpy as np

    x = np.random.default_rng(0).standard_normal((BATCH, 96, 96, 3)).astype("float32")
    return lambda: keras.applications.MobileNetV2(
        alpha=0.35, input_shape=(96, 96, 3), weights=None
    ), x


def _keras_resnet50() -> tuple[Any, Any]:
    import keras
    import numpy as np

    x = np.random.default_rng(0).standard_normal((BATCH, 64, 64, 3)).astype("float32")
    return lambda: keras.applications.ResNet50(input_shape=(64, 64, 3), weights=None), x


def _block(c_in: int, c_out: int, stride: int) -> Any:
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(),
        nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(),
    )


def resnet18_sized() -> Any:
    """ResNet-18's convolutions and widths as a plain stack: 11.2 M parameters."""
    from torch import nn

    layers: list[Any] = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU()]
    c = 64
    for c_out, stride in (
        (64, 1),
        (64, 1),
        (128, 2),
        (128, 1),
        (256, 2),
        (256, 1),
        (512, 2),
        (512, 1),
    ):
        layers.append(_block(c, c_out, stride))
        c = c_out
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 1000)]
    return nn.Sequential(*layers)


def _torch_resnet18_sized() -> tuple[Any, Any]:
    import torch

    return resnet18_sized, torch.randn(BATCH, 3, 64, 64, generator=torch.Generator().manual_seed(0))


def _torch_bert_base() -> tuple[Any, Any]:
    import torch
    from transformers import BertConfig, BertModel

    config = BertConfig()  # bert-base-uncased's sizes: 12 layers, 768 wide, 110 M parameters
    x = torch.randint(0, config.vocab_size, (BATCH, 16), generator=torch.Generator().manual_seed(0))
    return lambda: BertModel(config), x


def _flax_cnn() -> tuple[Any, Any]:
    import jax.numpy as jnp
    import numpy as np
    from flax import nnx

    class CNN(nnx.Module):
        def __init__(self, rngs: nnx.Rngs) -> None:
            self.conv1 = nnx.Conv(1, 32, (3, 3), rngs=rngs)
            self.conv2 = nnx.Conv(32, 64, (3, 3), rngs=rngs)
            self.hidden = nnx.Linear(64 * 7 * 7, 256, rngs=rngs)
            self.out = nnx.Linear(256, 10, rngs=rngs)

        def __call__(self, x: Any) -> Any:
            x = nnx.avg_pool(nnx.relu(self.conv1(x)), (2, 2), (2, 2))
            x = nnx.avg_pool(nnx.relu(self.conv2(x)), (2, 2), (2, 2))
            return self.out(nnx.relu(self.hidden(x.reshape(x.shape[0], -1))))

    x = jnp.asarray(np.random.default_rng(0).standard_normal((BATCH, 28, 28, 1)), jnp.float32)
    return CNN, x


def _images(size: int) -> Any:
    import torch

    return torch.randn(BATCH, 3, size, size, generator=torch.Generator().manual_seed(0))


def _torchvision(name: str, size: int = 224) -> Callable[[], tuple[Any, Any]]:
    def builder() -> tuple[Any, Any]:
        import torchvision

        return getattr(torchvision.models, name), _images(size)

    return builder


def _timm(name: str, size: int = 224) -> Callable[[], tuple[Any, Any]]:
    def builder() -> tuple[Any, Any]:
        import timm

        return lambda: timm.create_model(name), _images(size)

    return builder


def _torch_small_mistral() -> tuple[Any, Any]:
    import torch
    from transformers import MistralConfig, MistralForCausalLM

    config = MistralConfig(
        hidden_size=64,
        intermediate_size=224,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=4096,
    )  # 0.7 M parameters
    x = torch.randint(0, config.vocab_size, (BATCH, 16), generator=torch.Generator().manual_seed(0))
    return lambda: MistralForCausalLM(config), x


#: name -> (framework, builder returning (factory, batch))
MODELS: dict[str, tuple[str, Callable[[], tuple[Any, Any]]]] = {
    "keras-mobilenet_v2-0.35-96": ("keras", _keras_mobilenet),
    "keras-resnet50-64": ("keras", _keras_resnet50),
    "torch-resnet18-sized-64": ("torch", _torch_resnet18_sized),
    "torch-bert-base": ("torch", _torch_bert_base),
    "flax-cnn": ("flax", _flax_cnn),
    # the wide set (issue 31): architectures whose audit was far slower than its floor
    "torchvision-efficientnet_b0": ("torch", _torchvision("efficientnet_b0")),
    "torchvision-regnet_y_400mf": ("torch", _torchvision("regnet_y_400mf")),
    "timm-efficientnet_b0": ("torch", _timm("efficientnet_b0")),
    "timm-cait_xxs24_224": ("torch", _timm("cait_xxs24_224")),
    "timm-resmlp_24_224": ("torch", _timm("resmlp_24_224")),
    "timm-regnety_002": ("torch", _timm("regnety_002")),
    "timm-vit_tiny_patch16_224": ("torch", _timm("vit_tiny_patch16_224")),
    "torch-mistral-0.7M": ("torch", _torch_small_mistral),
}
#: the wide set's bars: audit ≤ 2× its floor, the median ≤ 1.5×
WIDE_RATIO, WIDE_MEDIAN = 2.0, 1.5
WIDE_FROM = list(MODELS).index("torchvision-efficientnet_b0")


def _forward_backward(framework: str, model: Any, x: Any) -> None:
    if framework == "keras":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x, training=True)))
        tape.gradient(loss, model.trainable_weights)
    elif framework == "torch":
        from initcheck.models.outputs import first_tensor

        first_tensor(model(x)).pow(2).mean().backward()
    else:
        import jax.numpy as jnp
        from flax import nnx

        nnx.grad(lambda m: jnp.mean(m(x) ** 2))(model)


def _build(framework: str, factory: Callable[..., Any]) -> Any:
    if framework == "flax":
        from flax import nnx

        return factory(nnx.Rngs(0))
    return factory()


def _child(mode: str, name: str) -> dict[str, Any]:
    framework, builder = MODELS[name]
    if framework == "keras":
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    factory, x = builder()
    result: dict[str, Any] = {}
    if mode == "floor":
        model = _build(framework, factory)
        _forward_backward(framework, model, x)
    elif mode == "audit":
        import initcheck

        report = initcheck.audit(factory, variance="auto", inputs=x)  # built once inside
        result = {"verdict": report.verdict, "rows": len(report.rows)}
        result["rebuilds"] = report.settings.get("rebuilds")
        result["rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        return result
    else:
        import anyinit  # type: ignore[import-not-found]

        model = _build(framework, factory)
        anyinit.initialize(model)  # its default, data-free (analytic) mode
    result["params"] = _parameter_count(framework, model)
    result["rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return result


def _parameter_count(framework: str, model: Any) -> tuple[int, int]:
    """(parameters, bytes)."""
    if framework == "keras":
        sizes = [(int(w.numpy().size), w.numpy().nbytes) for w in model.weights]
    elif framework == "torch":
        sizes = [(p.numel(), p.numel() * p.element_size()) for p in model.parameters()]
    else:
        import jax
        from flax import nnx

        leaves = jax.tree_util.tree_leaves(nnx.state(model, nnx.Param))
        sizes = [(int(a.size), int(a.nbytes)) for a in leaves]
    return sum(n for n, _ in sizes), sum(b for _, b in sizes)


def _run(mode: str, name: str, *, quiet: bool = False) -> dict[str, Any] | None:
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, __file__, "--child", mode, name], capture_output=True, text=True
    )
    took = time.perf_counter() - start
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines() or ["(no message)"]
        detail = lines[-1] if quiet else "\n" + proc.stderr[-2000:]
        print(f"  {mode} failed: {detail}")
        return None
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["seconds"] = took
    return result


def _has_anyinit() -> bool:
    from importlib.util import find_spec

    return find_spec("anyinit") is not None


def main(names: list[str]) -> int:
    missed = 0
    ratios: list[float] = []
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"{os.cpu_count()} cores, load average {load} (the absolute limit assumes an idle machine)"
    )
    print(
        f"{'model':28} {'params':>8} {'floor':>7} {'audit':>7} {'ratio':>6} "
        f"{'floor RSS':>10} {'audit RSS':>10} {'over':>8} {'allowed':>8}  verdict"
    )
    for name in names or list(MODELS):
        floor, audit = _run("floor", name), _run("audit", name)
        if floor is None or audit is None:
            missed += 1
            continue
        n, nbytes = floor["params"]
        ratio = audit["seconds"] / floor["seconds"]
        over = audit["rss"] - floor["rss"]
        allowed = max(3 * nbytes, MEMORY_FLOOR)
        wide = list(MODELS).index(name) >= WIDE_FROM
        if wide:
            ratios.append(ratio)
        fast = ratio <= TIME_RATIO and audit["seconds"] <= TIME_LIMIT
        within = ratio <= WIDE_RATIO if wide else fast
        ok = within and over <= allowed
        missed += not ok
        mb = 2**20
        print(
            f"{name:28} {n / 1e6:7.1f}M {floor['seconds']:6.1f}s {audit['seconds']:6.1f}s "
            f"{ratio:5.1f}x {floor['rss'] / mb:9.0f}M {audit['rss'] / mb:9.0f}M "
            f"{over / mb:7.0f}M {allowed / mb:7.0f}M  {audit['verdict']} "
            f"({audit['rows']} rows, {audit['rebuilds']} rebuilds) {'met' if ok else 'MISSED'}"
        )
        if _has_anyinit():
            other = _run("anyinit", name, quiet=True)
            if other is not None:
                print(f"{'  anyinit (analytic)':28} {'':8} {'':7} {other['seconds']:6.1f}s")
    if ratios:
        median = statistics.median(ratios)
        missed += median > WIDE_MEDIAN
        print(f"wide set: median audit/floor {median:.2f}x (bar {WIDE_MEDIAN}x)")
    return 1 if missed else 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        print(json.dumps(_child(sys.argv[2], sys.argv[3])))
    else:
        sys.exit(main(sys.argv[1:]))
