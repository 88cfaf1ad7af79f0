"""Time initcheck.audit on an 11 M-parameter ResNet-18-sized PyTorch model (no torchvision).

Run: ``PYTHONPATH=$PWD python benchmarks/bench_audit.py``. Result in docs/audit.md.
"""

from __future__ import annotations

import time

import torch
from torch import nn

import initcheck

__all__ = ["main", "resnet18_sized"]


def _block(c_in: int, c_out: int, stride: int) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(),
        nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(),
    )


def resnet18_sized() -> nn.Module:
    """ResNet-18's convolutions and widths as a plain stack: 11.2 M parameters."""
    layers: list[nn.Module] = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU()]
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


def main() -> None:
    torch.set_num_threads(2)
    model = resnet18_sized()
    n = sum(p.numel() for p in model.parameters())
    for label, target in (("instance", model), ("factory", resnet18_sized)):
        start = time.perf_counter()
        report = initcheck.audit(target, variance="he", inputs=torch.randn(4, 3, 64, 64))
        took = time.perf_counter() - start
        print(
            f"{label}: {n / 1e6:.1f} M parameters, {len(report.rows)} rows, "
            f"{report.settings['rebuilds']} rebuilds, {took:.1f} s (target <= 30 s: "
            f"{'met' if took <= 30 else 'MISSED'}), passed={report.passed}"
        )


if __name__ == "__main__":
    main()
