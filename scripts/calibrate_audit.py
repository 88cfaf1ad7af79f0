"""Calibration table of the audit's signal criteria on the zoo (tests/zoo.py): for each
sound and defect model, the regime, the stream's (or the plain net's) measured ratios,
the bound, and the verdict under ``variance="auto"``, as the markdown table of
docs/audit.md.

Run: ``python scripts/calibrate_audit.py [--seeds N]`` (a few minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import zoo

import initcheck

#: (label, factory, inputs, sound?)
MODELS: list[tuple[str, Any, Any, bool]] = [
    ("torch ResNet-18 (BN, torchvision init)", zoo.resnet18, zoo.resnet18_inputs, True),
    (
        "torch ResNet-18, zero_init_residual",
        lambda: zoo.resnet18(zero_init_residual=True),
        zoo.resnet18_inputs,
        True,
    ),
    ("torch nn.TransformerEncoder (post-LN)", zoo.transformer_encoder, None, True),
    ("HF BERT (post-LN)", zoo.bert, zoo.bert_inputs, True),
    ("HF GPT-2 (pre-LN)", zoo.gpt2, zoo.gpt2_inputs, True),
    ("HF ViT (pre-LN)", zoo.vit, zoo.vit_inputs, True),
    ("HF Llama (pre-RMSNorm)", zoo.llama, None, True),
    ("Keras ResNet50", zoo.keras_resnet50, None, True),
    ("Keras MobileNetV2 α 0.35", zoo.keras_mobilenet_v2, None, True),
    ("Keras ConvNeXt-Tiny", zoo.keras_convnext_tiny, None, True),
    (
        "torch ResNet-18 without BN, He (Fixup's case)",
        lambda: zoo.resnet18(norm=False),
        zoo.resnet18_inputs,
        False,
    ),
    ("torch plain CNN ×8, PyTorch default", zoo.plain_cnn_default, None, False),
    ("torch VGG-11 without BN, Glorot", zoo.vgg_glorot, None, False),
    ("Keras plain CNN ×8, glorot_uniform", zoo.keras_plain_cnn_glorot, None, False),
]


def _cells(report: Any) -> tuple[str, str, str]:
    sig = report.signal
    d = sig.details
    if d.get("regime") == "residual":
        a = d["activation"]
        measured = f"×{a['ratio']:.3g} (×{a['per_block']:.3g}/block)"
        return f"stream, {a['blocks']} blocks", measured, f"×{a['bound']:.3g}"
    act, grad = d.get("activation_ratio"), d.get("gradient_ratio")
    g = "—" if grad is None else f"{grad:.3g}"
    return "plain", f"act ×{act:.3g}, grad ×{g} (RMS)", "×/÷2"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=1, help="seeds per model (default 1)")
    args = parser.parse_args()
    print("| model | sound? | regime | measured | bound | verdict (auto) |")
    print("|---|---|---|---|---|---|")
    for label, factory, inputs, sound in MODELS:
        verdicts = []
        cells = ("", "", "")
        for seed in range(args.seeds):
            report = initcheck.audit(
                factory, variance="auto", inputs=inputs() if inputs else None, seed=seed
            )
            verdicts.append(report.verdict)
            if seed == 0:
                cells = _cells(report)
                n_rows = len(report.failed_rows)
        verdict = ", ".join(sorted(set(verdicts)))
        if n_rows:
            verdict += f" ({n_rows} rows)"
        signal = "signal fails" if not report.signal.passed else "signal ok"
        print(
            f"| {label} | {'yes' if sound else 'defect'} | {cells[0]} | {cells[1]} | "
            f"{cells[2]} | {verdict}; {signal} |"
        )


if __name__ == "__main__":
    main()
