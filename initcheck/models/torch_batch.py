"""The default batches of a PyTorch model, in the order the traced pass tries them.

A model with a Hugging Face ``config`` gets the inputs its ``forward`` names, sized from
the config and its sub-configs (``text_config``, ``vision_config``, ``audio_config``…):
token ids (``input_ids``, and ``decoder_input_ids`` for an encoder-decoder), images
(``pixel_values``), a waveform (``input_values``; last, as one channel) or filterbank features
(``input_features``). First all of them together, then each modality alone (a
vision-language model may need its image tokens placed in the text to take both). Any other
model gets one batch from its first parameterized module: a Linear's features (MNIST images
for 784), a conv's images at the smallest size that keeps every feature map wider than 1,
an Embedding's ids, an RNN's sequences, an attention's queries.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from initcheck.errors import NoDefaultBatch

IMAGE_SIZES = (32, 64, 128, 224)
BATCH = 8
SEQUENCE = 16
SAMPLES = 8000  # a waveform's length (half a second at 16 kHz)
FRAMES = 64  # filterbank frames, when the config does not fix them
#: sub-configs searched (after the config itself) for a modality's sizes
SUBCONFIGS = ("text_config", "vision_config", "audio_config", "encoder", "decoder")


@contextmanager
def signal_mode(model: Any) -> Iterator[None]:
    """Dropout off, BatchNorm on batch statistics; flags and running stats restored."""
    import torch.nn as nn

    modes = {m: m.training for m in model.modules()}
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._NormBase)]
    saved = [{k: v.clone() for k, v in m.named_buffers(recurse=False)} for m in norms]
    model.eval()
    for m in norms:
        m.train()
    try:
        yield
    finally:
        for m, flag in modes.items():
            m.training = flag
        for m, buffers in zip(norms, saved, strict=True):
            for k, v in buffers.items():
                getattr(m, k).copy_(v)


def _find(config: Any, *names: str, prefer: str = "") -> Any:
    """The first of ``names`` set (truthy) on ``config`` or, failing that, on its
    sub-configs (``prefer`` first)."""
    order = (prefer, *SUBCONFIGS) if prefer else SUBCONFIGS
    for c in (config, *(getattr(config, s, None) for s in order)):
        if c is None or isinstance(c, dict):
            continue
        for name in names:
            value = getattr(c, name, None)
            if value:
                return value
    return None


def _token_ids(config: Any, g: Any) -> Any:
    import torch

    vocab = _find(config, "vocab_size", prefer="text_config")
    if not isinstance(vocab, int) or vocab <= 0:
        return None
    limit = _find(config, "max_position_embeddings", "n_positions", prefer="text_config")
    seq = min(SEQUENCE, int(limit)) if isinstance(limit, int) else SEQUENCE
    return torch.randint(0, vocab, (BATCH, seq), generator=g)


def _pixels(config: Any, g: Any) -> Any:
    import torch

    image = _find(config, "image_size", prefer="vision_config")
    if not isinstance(image, int | tuple | list) or isinstance(image, bool):
        return None
    channels = _find(config, "num_channels", prefer="vision_config") or 3
    hw = (image, image) if isinstance(image, int) else tuple(image)[:2]
    return torch.randn(BATCH, int(channels), *hw, generator=g)


def _features(config: Any, g: Any) -> Any:
    import torch

    bins = _find(
        config, "num_mel_bins", "feature_size", "input_feat_per_channel", prefer="audio_config"
    )
    if not isinstance(bins, int):
        return None
    positions = _find(config, "max_source_positions", prefer="audio_config")
    frames = 2 * positions if isinstance(positions, int) else FRAMES  # Whisper's conv stride
    return torch.randn(BATCH, bins, frames, generator=g)


def _waveform(g: Any) -> Any:
    import torch

    return torch.randn(BATCH, SAMPLES, generator=g)


def config_batches(model: Any, seed: int) -> list[Any]:
    """The candidate batches of a model with a Hugging Face ``config``, from the inputs
    its ``forward`` names (empty if it names none this module can build)."""
    import torch

    config = model.config
    g = torch.Generator().manual_seed(seed)
    try:
        names = set(inspect.signature(model.forward).parameters)
    except (TypeError, ValueError):
        return []
    parts: dict[str, Any] = {}
    for name, make in (
        ("input_ids", lambda: _token_ids(config, g)),
        ("pixel_values", lambda: _pixels(config, g)),
        ("input_features", lambda: _features(config, g)),
        ("input_values", lambda: _waveform(g)),
    ):
        value = make() if name in names else None
        if value is not None:
            parts[name] = value
    extra: dict[str, Any] = {}
    if "decoder_input_ids" in names and getattr(config, "is_encoder_decoder", False):
        decoder = _token_ids(getattr(config, "decoder", None) or config, g)
        if decoder is not None:
            extra["decoder_input_ids"] = decoder
    if "input_values" in parts:  # an audio codec takes (batch, channels, samples)
        parts_mono = dict(parts, input_values=parts["input_values"][:, None, :])
    else:
        parts_mono = {}
    first = next(iter(inspect.signature(model.forward).parameters), None)
    candidates: list[Any] = []
    for chosen in ([*parts], *([k] for k in parts if len(parts) > 1)):
        if not chosen:
            continue
        batch = {k: parts[k] for k in chosen} | extra
        if first is not None and list(batch) == [first]:
            candidates.append(batch[first])  # one positional tensor, as the user passes it
        else:
            candidates.append(batch)
    if parts_mono:
        candidates.append(parts_mono | extra)
    return candidates


def first_parameterized(model: Any) -> Any:
    for _, m in model.named_modules():
        if list(m.parameters(recurse=False)):
            return m
    return None


def probe_image_size(model: Any, channels: int, dims: int) -> int:
    """The smallest of :data:`IMAGE_SIZES` at which every conv/pool output is > 1 wide
    (the largest if none is; the smallest if the model ran at none: a size did not decide
    that, and a failing batch is then cheap, not 8 × 224³ values for a ``Conv3d``)."""
    import torch

    smallest: list[int] = []
    ran = False

    def hook(_m: Any, _i: Any, out: Any) -> None:
        from initcheck.models.outputs import first_tensor

        t = first_tensor(out)
        if t is not None and t.dim() == dims + 2:
            smallest.append(min(t.shape[2:]))

    handles = [
        m.register_forward_hook(hook)
        for m in model.modules()
        if "Conv" in type(m).__name__ or "Pool" in type(m).__name__
    ]
    try:
        for size in IMAGE_SIZES:
            smallest.clear()
            try:
                with torch.no_grad(), signal_mode(model):
                    model(torch.zeros(2, channels, *([size] * dims)))
            except Exception:  # too small for the model's own arithmetic: try larger
                continue
            ran = True
            if smallest and min(smallest) >= 2:
                return size
    finally:
        for h in handles:
            h.remove()
    return IMAGE_SIZES[-1] if ran else IMAGE_SIZES[0]


def module_batch(model: Any, seed: int) -> Any:
    """One batch from the model's first parameterized module."""
    import torch
    import torch.nn as nn

    g = torch.Generator().manual_seed(seed)
    m = first_parameterized(model)
    if isinstance(m, nn.Linear):
        if m.in_features == 784:
            from initcheck.mnist import load_mnist

            return torch.from_numpy(load_mnist().x_train[:32].copy())
        return torch.randn(32, m.in_features, generator=g)
    if isinstance(m, nn.modules.conv._ConvNd):
        dims = len(m.kernel_size)
        size = probe_image_size(model, m.in_channels, dims)
        return torch.randn(BATCH, m.in_channels, *([size] * dims), generator=g)
    if isinstance(m, nn.Embedding):
        return torch.randint(0, m.num_embeddings, (BATCH, SEQUENCE), generator=g)
    if isinstance(m, nn.modules.rnn.RNNBase):
        batch = (BATCH, 12) if m.batch_first else (12, BATCH)
        return torch.randn(*batch, m.input_size, generator=g)
    if isinstance(m, nn.MultiheadAttention):
        shape = (BATCH, 12, m.embed_dim) if m.batch_first else (12, BATCH, m.embed_dim)
        return torch.randn(*shape, generator=g)
    raise NoDefaultBatch(
        f"Cannot build a default input for {type(model).__name__} (its first parameterized "
        f"module is {type(m).__name__})."
    )


def default_batches(model: Any, seed: int) -> list[Any]:
    """The candidate default batches, in the order to try them (never empty: a model
    none can be built for raises :class:`~initcheck.errors.NoDefaultBatch`)."""
    if getattr(model, "config", None) is not None:
        found = config_batches(model, seed)
        if found:
            return found
    return [module_batch(model, seed)]


def describe(batch: Any) -> str:
    """``"a default batch of shape (8, 16)"`` or ``"a default batch {input_ids: (8, 16),
    …}"``."""
    if isinstance(batch, dict):
        inner = ", ".join(f"{k}: {tuple(v.shape)}" for k, v in batch.items())
        return f"a default batch {{{inner}}}"
    return f"a default batch of shape {tuple(batch.shape)}"
