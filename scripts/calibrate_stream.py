"""Calibration grid of the residual-depth criterion (``initcheck.models.signal``): sound and
defect residual models written as users write them, over depths, widths and sequence
lengths, each audited once (``variance=None``, seed 0); the stream's ratio ``m_L/m_h`` over
the second half against the bound, and the stream criterion's own verdict (the output
check aside), as the markdown table of docs/audit.md.

Sound: a pre-norm transformer at σ = 0.02 (nanoGPT), the same with each branch's output
normalized before the add (OLMo 2: ``x + norm(f(x))``, whose first blocks add little while
the stream is smaller than the norm's ε), a residual MLP whose branches end at zero (Fixup,
SkipInit) and one whose branches are scaled by 1/√L. Defect: a residual MLP without norm
or branch scaling (He branches: ×2 per block, Hanin & Rolnick 2018), and one whose branches
add half the stream per block (×1.5).

Run: ``python scripts/calibrate_stream.py`` (a few minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

import initcheck
from initcheck.models.signal import KAPPA


class RMSNorm(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * self.scale


class Block(nn.Module):
    """Pre-norm (``x + f(norm(x))``) or branch-normed (``x + norm(f(x))``, OLMo 2)."""

    def __init__(self, d: int, post: bool) -> None:
        super().__init__()
        self.post = post
        self.n1, self.n2 = RMSNorm(d), RMSNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.up, self.down = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

    def attn(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = (z.view(b, t, 4, d // 4).transpose(1, 2) for z in self.qkv(x).chunk(3, -1))
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.proj(a.transpose(1, 2).reshape(b, t, d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.post:
            x = x + self.n1(self.attn(x))
            return x + self.n2(self.down(F.gelu(self.up(x))))
        x = x + self.attn(self.n1(x))
        return x + self.down(F.gelu(self.up(self.n2(x))))


class GPT(nn.Module):
    def __init__(self, d: int, depth: int, post: bool, vocab: int = 256) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.blocks = nn.ModuleList([Block(d, post) for _ in range(depth)])
        self.norm = RMSNorm(d)
        self.head = nn.Linear(d, vocab, bias=False)
        for m in self.modules():
            if isinstance(m, nn.Linear | nn.Embedding):
                nn.init.normal_(m.weight, std=0.02)
                if getattr(m, "bias", None) is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        x = self.embed(idx)
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x))


class ResMLP(nn.Module):
    """``x + b(relu(a(x)))``, He-initialized ``a``; ``b`` He times ``scale`` (0: zero)."""

    def __init__(self, d: int, depth: int, scale: float) -> None:
        super().__init__()
        self.stem = nn.Linear(32, d)
        self.a = nn.ModuleList([nn.Linear(d, d) for _ in range(depth)])
        self.b = nn.ModuleList([nn.Linear(d, d) for _ in range(depth)])
        self.out = nn.Linear(d, 10)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)
        with torch.no_grad():
            for layer in self.b:
                layer.weight.mul_(scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for a, b in zip(self.a, self.b, strict=True):
            x = x + b(F.relu(a(x)))
        return self.out(x)


def _gpt(post: bool) -> Any:
    return lambda d, depth: GPT(d, depth, post)


def _mlp(scale: Any) -> Any:
    return lambda d, depth: ResMLP(d, depth, scale(depth))


#: (label, sound?, factory(d, depth), sequence model?)
MODELS = [
    ("pre-norm transformer, σ 0.02", True, _gpt(False), True),
    ("branch-normed transformer (OLMo 2), σ 0.02", True, _gpt(True), True),
    ("residual MLP, zero last layer", True, _mlp(lambda depth: 0.0), False),
    ("residual MLP, branches ×1/√L", True, _mlp(lambda depth: depth**-0.5), False),
    ("residual MLP, He branches, no norm", False, _mlp(lambda depth: 1.0), False),
    ("residual MLP, branches ×1/√2", False, _mlp(lambda depth: 0.5**0.5), False),
]


def run(depths: list[int], widths: list[int], seqs: list[int]) -> list[dict[str, Any]]:
    rows = []
    gen = torch.Generator().manual_seed(0)
    for label, sound, make, sequence in MODELS:
        for depth in depths:
            for d in widths:
                for t in seqs if sequence else [0]:
                    x = (
                        torch.randint(0, 256, (8, t), generator=gen)
                        if sequence
                        else torch.randn(64, 32, generator=gen)
                    )
                    report = initcheck.audit(
                        lambda make=make, d=d, depth=depth: make(d, depth),
                        variance=None,
                        inputs=x,
                        seed=0,
                    )
                    info = report.signal.details.get("activation", {})
                    rows.append(
                        dict(
                            model=label,
                            sound=sound,
                            depth=depth,
                            width=d,
                            seq=t,
                            ratio=info.get("ratio"),
                            bound=info.get("bound"),
                            passed=bool(info.get("ratio"))
                            and 1 / info["bound"] <= info["ratio"] <= info["bound"],
                        )
                    )
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    out = [
        "| model | sound? | L | width | sequence | m_L/m_h | ÷ linear allowance | bound | stream |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        ratio, bound = r["ratio"], r["bound"]
        share = ratio / (bound / KAPPA) if ratio and bound else math.nan
        out.append(
            f"| {r['model']} | {'yes' if r['sound'] else 'defect'} | {r['depth']} | "
            f"{r['width']} | {r['seq'] or '–'} | ×{ratio:.3g} | {share:.2f} | ×{bound:.3g} | "
            f"{'pass' if r['passed'] else 'fail'} |"
        )
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depths", type=int, nargs="+", default=[4, 8, 16])
    parser.add_argument("--widths", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--seqs", type=int, nargs="+", default=[16, 64])
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(table(run(args.depths, args.widths, args.seqs)))


if __name__ == "__main__":
    main()
