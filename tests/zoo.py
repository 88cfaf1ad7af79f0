"""A zoo of small real-world architectures for auditing whole models (issue 15, item 5).

Every factory takes only keyword arguments with defaults and returns a fresh model, so it
can be passed to ``initcheck.audit`` as a zero-arg factory. ``<name>_inputs()`` returns a
batch the model accepts where the model needs a specific input (token ids, an image at a
resolution that keeps every stage's feature map larger than 1×1, a sequence).

Sizes are tiny (a forward/backward takes milliseconds on 2 CPU cores) but each keeps its
architecture's real structure and its authors' own initialization:

torch (written here, no torchvision)
    ``resnet18`` (torchvision's ResNet-18: BasicBlock, [2, 2, 2, 2], kaiming fan_out +
    BN, optional ``zero_init_residual``; ``norm=False`` is the unnormalized residual net
    without branch scaling, Fixup's motivating defect), ``plain_cnn_default`` (defect:
    deep plain ReLU CNN with PyTorch's default init), ``vgg_glorot`` (defect: VGG-11
    without BN, Glorot under ReLU), ``transformer_encoder`` (``nn.TransformerEncoder``).
Hugging Face ``transformers`` (built from tiny configs, never downloaded)
    ``bert`` (BertModel with its pooler), ``gpt2`` (GPT2LMHeadModel: Conv1D layers,
    tied LM head, scaled ``c_proj``), ``vit`` (ViTForImageClassification, 32×32 images,
    8×8 patches), ``llama`` (LlamaForCausalLM: RMSNorm, rotary embeddings, SwiGLU).
Keras (``keras.applications`` with ``weights=None``; their top Dense carries a softmax
unless ``classifier_activation=None``)
    ``keras_resnet50``, ``keras_mobilenet_v2``, ``keras_convnext_tiny`` (nested
    sub-models, LayerScale 1e-6), ``keras_plain_cnn_glorot`` (defect: deep plain ReLU CNN
    with the default glorot_uniform and no BN).

``TORCH``, ``HF`` and ``KERAS`` list the factory names per family; ``DEFECTS`` the ones
built to be unsound. Heavy imports (torch, transformers, keras) happen inside the
factories, so importing this module is cheap.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "DEFECTS",
    "HF",
    "KERAS",
    "KERAS_MICRO",
    "TORCH",
    "bert",
    "bert_inputs",
    "gpt2",
    "gpt2_inputs",
    "hf_rule",
    "keras_convnext_micro",
    "keras_convnext_micro_inputs",
    "keras_convnext_tiny",
    "keras_convnext_tiny_inputs",
    "keras_mobilenet_v2",
    "keras_mobilenet_v2_inputs",
    "keras_plain_cnn_glorot",
    "keras_plain_cnn_glorot_inputs",
    "keras_resnet50",
    "keras_resnet50_inputs",
    "keras_resnet_micro",
    "keras_resnet_micro_inputs",
    "llama",
    "llama_inputs",
    "n_params",
    "plain_cnn_default",
    "plain_cnn_default_inputs",
    "resnet18",
    "resnet18_inputs",
    "transformer_encoder",
    "transformer_encoder_inputs",
    "vgg_glorot",
    "vgg_glorot_inputs",
    "vit",
    "vit_inputs",
]

TORCH = ("resnet18", "plain_cnn_default", "vgg_glorot", "transformer_encoder")
HF = ("bert", "gpt2", "vit", "llama")
KERAS = ("keras_resnet50", "keras_mobilenet_v2", "keras_convnext_tiny", "keras_plain_cnn_glorot")
#: The same applications' own builders at tiny sizes (faster to audit).
KERAS_MICRO = ("keras_resnet_micro", "keras_convnext_micro")
#: Factories (with the keyword arguments) built to be unsound.
DEFECTS = {
    "resnet18(norm=False)": "unnormalized residual net without branch scaling (Fixup)",
    "plain_cnn_default": "deep plain ReLU CNN with PyTorch's default init (Var = 1/(3·fan_in))",
    "vgg_glorot": "VGG without BN, Glorot under ReLU (half of He per layer)",
    "keras_plain_cnn_glorot": "deep plain ReLU CNN, Keras's default glorot_uniform, no BN",
}

#: Tiny transformer sizes shared by the Hugging Face configs.
HIDDEN, LAYERS, HEADS, INTERMEDIATE, VOCAB, SEQ = 32, 4, 4, 64, 128, 16
INITIALIZER_RANGE = 0.02  # transformers' default initializer_range


def _torch_generator(seed: int) -> Any:
    import torch

    return torch.Generator().manual_seed(seed)


# --------------------------------------------------------------------------- torch


def _resnet_classes() -> tuple[type, type]:
    from torch import nn

    class BasicBlock(nn.Module):
        """torchvision's BasicBlock: conv3x3-BN-ReLU-conv3x3-BN, + identity/downsample, ReLU."""

        expansion = 1

        def __init__(
            self,
            inplanes: int,
            planes: int,
            stride: int = 1,
            downsample: nn.Module | None = None,
            norm: bool = True,
        ) -> None:
            super().__init__()
            bn = nn.BatchNorm2d if norm else (lambda _c: nn.Identity())
            self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=not norm)
            self.bn1 = bn(planes)
            self.relu = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=not norm)
            self.bn2 = bn(planes)
            self.downsample = downsample
            self.stride = stride

        def forward(self, x: Any) -> Any:
            identity = x
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            if self.downsample is not None:
                identity = self.downsample(x)
            return self.relu(out + identity)

    class ResNet(nn.Module):
        """torchvision's ResNet (BasicBlock only), channels scaled by ``width / 64``."""

        def __init__(
            self,
            layers: tuple[int, ...] = (2, 2, 2, 2),
            num_classes: int = 10,
            zero_init_residual: bool = False,
            norm: bool = True,
            width: int = 64,
            mode: str = "fan_out",
        ) -> None:
            super().__init__()
            self._norm = norm
            self.inplanes = width
            self.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=not norm)
            self.bn1 = nn.BatchNorm2d(width) if norm else nn.Identity()
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
            self.layer1 = self._make_layer(width, layers[0])
            self.layer2 = self._make_layer(2 * width, layers[1], stride=2)
            self.layer3 = self._make_layer(4 * width, layers[2], stride=2)
            self.layer4 = self._make_layer(8 * width, layers[3], stride=2)
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(8 * width * BasicBlock.expansion, num_classes)

            # torchvision's init, verbatim (mode="fan_out"; biases exist only without BN)
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode=mode, nonlinearity="relu")
                    if m.bias is not None:
                        nn.init.zeros_(m.bias)
                elif isinstance(m, nn.BatchNorm2d | nn.GroupNorm):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)
            if zero_init_residual and norm:
                for m in self.modules():
                    if isinstance(m, BasicBlock) and m.bn2.weight is not None:
                        nn.init.constant_(m.bn2.weight, 0)

        def _make_layer(self, planes: int, blocks: int, stride: int = 1) -> nn.Sequential:
            downsample = None
            if stride != 1 or self.inplanes != planes * BasicBlock.expansion:
                downsample = nn.Sequential(
                    nn.Conv2d(self.inplanes, planes, 1, stride, bias=not self._norm),
                    nn.BatchNorm2d(planes) if self._norm else nn.Identity(),
                )
            layers = [BasicBlock(self.inplanes, planes, stride, downsample, self._norm)]
            self.inplanes = planes * BasicBlock.expansion
            layers += [BasicBlock(self.inplanes, planes, norm=self._norm) for _ in range(1, blocks)]
            return nn.Sequential(*layers)

        def forward(self, x: Any) -> Any:
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(self.avgpool(x).flatten(1))

    return BasicBlock, ResNet


def resnet18(
    zero_init_residual: bool = False,
    norm: bool = True,
    width: int = 16,
    blocks: tuple[int, ...] = (2, 2, 2, 2),
    he_mode: str | None = None,
) -> Any:
    """torchvision's ResNet-18 at channels (w, 2w, 4w, 8w), 10 classes, torchvision's init
    (``kaiming_normal_(mode="fan_out", nonlinearity="relu")``, BN γ=1, β=0, fc default).

    ``norm=False``: every BN is ``nn.Identity`` and convs get a (zero) bias; He init
    without any residual scaling, so the stream's second moment grows geometrically with
    the blocks (Fixup's motivating defect, Zhang et al. 2019). Its He is ``fan_in`` (the
    variance-preserving branch Fixup's analysis assumes: the stream at layer4.1 is ×60 the
    stem's at 128×128, ~×1.7 per block; torchvision's fan_out gives ~×1.4 per block).
    ``he_mode`` overrides the kaiming mode; ``blocks=(3, 4, 6, 3)`` is ResNet-34's layout.
    """
    _, ResNet = _resnet_classes()
    mode = he_mode or ("fan_out" if norm else "fan_in")
    return ResNet(
        layers=tuple(blocks),
        zero_init_residual=zero_init_residual,
        norm=norm,
        width=width,
        mode=mode,
    )


def resnet18_inputs(batch: int = 8, size: int = 64, seed: int = 0) -> Any:
    """(batch, 3, 64, 64): layer4's feature map stays 2×2 (at 32×32 it is 1×1)."""
    import torch

    return torch.randn(batch, 3, size, size, generator=_torch_generator(seed))


def plain_cnn_default(depth: int = 8, width: int = 32, num_classes: int = 10) -> Any:
    """Defect: ``depth`` Conv2d 3×3 + ReLU, no BN, PyTorch's default init (Var =
    1/(3·fan_in), a sixth of He), max-pooling after every second conv, avg pool, Linear."""
    from torch import nn

    layers: list[nn.Module] = []
    c = 3
    for i in range(depth):
        layers += [nn.Conv2d(c, width, 3, padding=1), nn.ReLU()]
        c = width
        if i % 2 == 1 and i < 6:
            layers.append(nn.MaxPool2d(2))
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, num_classes)]
    return nn.Sequential(*layers)


def plain_cnn_default_inputs(batch: int = 8, size: int = 32, seed: int = 0) -> Any:
    import torch

    return torch.randn(batch, 3, size, size, generator=_torch_generator(seed))


#: VGG-11 ("A") layout in units of width/64; "M" is a 2×2 max-pool.
VGG11 = (1, "M", 2, "M", 4, 4, "M", 8, 8, "M", 8, 8, "M")


def vgg_glorot(width: int = 32, num_classes: int = 10) -> Any:
    """Defect: VGG-11 without BN (channels ``width``·(1, 2, 4, 4, 8, 8, 8, 8)) and a
    3-layer classifier, ``xavier_uniform_`` on every conv and linear (zero biases) under
    ReLU: half of He's variance per layer."""
    from torch import nn

    layers: list[nn.Module] = []
    c = 3
    for v in VGG11:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            out = int(v) * width
            layers += [nn.Conv2d(c, out, 3, padding=1), nn.ReLU(inplace=True)]
            c = out
    hidden = 16 * width
    model = nn.Sequential(
        nn.Sequential(*layers),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Sequential(
            nn.Linear(c, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(),
            nn.Linear(hidden, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(),
            nn.Linear(hidden, num_classes),
        ),
    )
    for m in model.modules():
        if isinstance(m, nn.Conv2d | nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
    return model


def vgg_glorot_inputs(batch: int = 8, size: int = 32, seed: int = 0) -> Any:
    """(batch, 3, 32, 32): five pools leave 1×1 before the classifier, as VGG at 224 → 7."""
    import torch

    return torch.randn(batch, 3, size, size, generator=_torch_generator(seed))


def transformer_encoder(
    d_model: int = 32, nhead: int = 4, dim_feedforward: int = 64, num_layers: int = 4
) -> Any:
    """torch's own post-LN ``nn.TransformerEncoder`` (ReLU FFN, dropout 0.1)."""
    from torch import nn

    layer = nn.TransformerEncoderLayer(
        d_model=d_model,
        nhead=nhead,
        dim_feedforward=dim_feedforward,
        batch_first=True,
        dropout=0.1,
    )
    return nn.TransformerEncoder(layer, num_layers=num_layers, enable_nested_tensor=False)


def transformer_encoder_inputs(batch: int = 4, seq: int = 12, d_model: int = 32, seed: int = 0):
    """(4, 12, 32) float sequences (batch_first)."""
    import torch

    return torch.randn(batch, seq, d_model, generator=_torch_generator(seed))


# ------------------------------------------------------------------ Hugging Face


def _token_ids(batch: int, seq: int, seed: int, vocab: int = VOCAB) -> Any:
    import torch

    return torch.randint(0, vocab, (batch, seq), generator=_torch_generator(seed))


def bert(pooler: bool = True) -> Any:
    """``BertModel`` (GELU FFN, post-LN, N(0, 0.02) linears and embeddings, pooler)."""
    from transformers import BertConfig, BertModel

    config = BertConfig(
        vocab_size=VOCAB,
        hidden_size=HIDDEN,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        intermediate_size=INTERMEDIATE,
        max_position_embeddings=64,
        type_vocab_size=2,
        attn_implementation="eager",
    )
    return BertModel(config, add_pooling_layer=pooler)


def bert_inputs(batch: int = 4, seq: int = SEQ, seed: int = 0) -> Any:
    return _token_ids(batch, seq, seed)


def gpt2(lm_head: bool = True) -> Any:
    """``GPT2LMHeadModel`` (or ``GPT2Model``): HF ``Conv1D`` layers (weight stored (in,
    out)), pre-LN, NewGELU, N(0, 0.02) with ``c_proj`` at 0.02/√(2·n_layer), LM head tied
    to the token embedding."""
    from transformers import GPT2Config, GPT2LMHeadModel, GPT2Model

    config = GPT2Config(
        vocab_size=VOCAB,
        n_positions=64,
        n_embd=HIDDEN,
        n_layer=LAYERS,
        n_head=HEADS,
        n_inner=INTERMEDIATE,
        bos_token_id=VOCAB - 1,
        eos_token_id=VOCAB - 1,
        attn_implementation="eager",
    )
    return (GPT2LMHeadModel if lm_head else GPT2Model)(config)


def gpt2_inputs(batch: int = 4, seq: int = SEQ, seed: int = 0) -> Any:
    return _token_ids(batch, seq, seed)


def vit(classifier: bool = True, num_labels: int = 10) -> Any:
    """``ViTForImageClassification`` (or ``ViTModel``): 32×32 images, 8×8 patches (16
    tokens + CLS), pre-LN, GELU, truncated N(0, 0.02) linears, patch conv, CLS token and
    position embeddings."""
    from transformers import ViTConfig, ViTForImageClassification, ViTModel

    config = ViTConfig(
        image_size=32,
        patch_size=8,
        num_channels=3,
        hidden_size=HIDDEN,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        intermediate_size=INTERMEDIATE,
        num_labels=num_labels,
        attn_implementation="eager",
    )
    return ViTForImageClassification(config) if classifier else ViTModel(config)


def vit_inputs(batch: int = 4, seed: int = 0) -> Any:
    import torch

    return torch.randn(batch, 3, 32, 32, generator=_torch_generator(seed))


def llama(lm_head: bool = True) -> Any:
    """``LlamaForCausalLM`` (or ``LlamaModel``): pre-RMSNorm decoder, rotary position
    embeddings (no position table), SwiGLU MLP, grouped-query attention (4 query heads,
    2 key/value heads), untied LM head, N(0, 0.02) everywhere."""
    from transformers import LlamaConfig, LlamaForCausalLM, LlamaModel

    config = LlamaConfig(
        vocab_size=VOCAB,
        hidden_size=HIDDEN,
        intermediate_size=INTERMEDIATE * 2 - 8,  # 120: Llama's ~8/3·hidden, ≠ 2·hidden
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        num_key_value_heads=2,
        max_position_embeddings=64,
        tie_word_embeddings=False,
        attn_implementation="eager",
    )
    return LlamaForCausalLM(config) if lm_head else LlamaModel(config)


def llama_inputs(batch: int = 4, seq: int = SEQ, seed: int = 0) -> Any:
    return _token_ids(batch, seq, seed)


def hf_rule(name: str, n_layer: int = LAYERS) -> Any:
    """The authors' own variance rule of a Hugging Face zoo model, as ``variance=``.

    Every linear, conv and embedding is N(0, initializer_range²) = N(0, 0.02²) (ViT's
    position embeddings and CLS token by ``trunc_normal_`` with absolute bounds ±2, i.e.
    100σ: a plain normal); GPT-2's residual projections ``c_proj`` are drawn at
    0.02/√(2·n_layer).
    """
    fixed = INITIALIZER_RANGE**2
    if name == "gpt2":
        return {"*c_proj": fixed / (2 * n_layer), "*": fixed}
    return {"*": fixed}


# ------------------------------------------------------------------------- Keras


def _keras_images(batch: int, size: int, seed: int, scale: float = 1.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((batch, size, size, 3)) * scale).astype("float32")


def keras_resnet50(
    input_shape: tuple[int, int, int] = (64, 64, 3),
    classes: int = 10,
    classifier_activation: str | None = "softmax",
) -> Any:
    """``keras.applications.ResNet50`` (v1, BN after every conv; 23.6 M parameters at any
    resolution: its size is in its channels). At 64×64 the last stage is 2×2."""
    import keras

    return keras.applications.ResNet50(
        weights=None,
        include_top=True,
        input_shape=input_shape,
        classes=classes,
        classifier_activation=classifier_activation,
    )


def keras_resnet50_inputs(batch: int = 4, size: int = 64, seed: int = 0) -> np.ndarray:
    """Caffe-style centered pixels (its preprocess_input subtracts the mean): σ ≈ 60."""
    return _keras_images(batch, size, seed, scale=60.0)


def keras_mobilenet_v2(
    alpha: float = 0.35,
    input_shape: tuple[int, int, int] = (96, 96, 3),
    classes: int = 10,
    classifier_activation: str | None = "softmax",
) -> Any:
    """``keras.applications.MobileNetV2`` (inverted residuals, depthwise convs, ReLU6, BN)."""
    import keras

    return keras.applications.MobileNetV2(
        weights=None,
        include_top=True,
        input_shape=input_shape,
        alpha=alpha,
        classes=classes,
        classifier_activation=classifier_activation,
    )


def keras_mobilenet_v2_inputs(batch: int = 4, size: int = 96, seed: int = 0) -> np.ndarray:
    """Pixels in [-1, 1] (its preprocess_input's range)."""
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, (batch, size, size, 3)).astype("float32")


def keras_convnext_tiny(
    input_shape: tuple[int, int, int] = (64, 64, 3),
    classes: int = 10,
    classifier_activation: str | None = "softmax",
) -> Any:
    """``keras.applications.ConvNeXtTiny``: nested sub-models (stem, downsampling), 7×7
    depthwise convs, LayerNorm, GELU, LayerScale γ = 1e-6, its own preprocessing
    (a Normalization layer taking [0, 255] pixels)."""
    import keras

    return keras.applications.ConvNeXtTiny(
        weights=None,
        include_top=True,
        input_shape=input_shape,
        classes=classes,
        classifier_activation=classifier_activation,
    )


def keras_convnext_tiny_inputs(batch: int = 4, size: int = 64, seed: int = 0) -> np.ndarray:
    """Pixels in [0, 255] (the model normalizes them itself)."""
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 255, (batch, size, size, 3)).astype("float32")


def keras_resnet_micro(
    filters: tuple[int, ...] = (8, 16, 32, 64),
    blocks: tuple[int, ...] = (1, 1, 1, 1),
    input_shape: tuple[int, int, int] = (64, 64, 3),
    classes: int = 10,
    classifier_activation: str | None = "softmax",
) -> Any:
    """ResNet50's own code (``keras.applications``' ResNet builder and bottleneck blocks
    v1: conv1x1-BN-ReLU, conv3x3-BN-ReLU, conv1x1(4·filters)-BN, + shortcut, ReLU) with
    small stages, for when the real ResNet50 is too slow to audit. Stem as ResNet50's
    (7×7/2, 64 channels, BN, max-pool)."""
    from keras.src.applications import resnet

    def stack_fn(x: Any) -> Any:
        for i, (f, b) in enumerate(zip(filters, blocks, strict=True)):
            x = resnet.stack_residual_blocks_v1(
                x, f, b, stride1=1 if i == 0 else 2, name=f"conv{i + 2}"
            )
        return x

    return resnet.ResNet(
        stack_fn,
        False,
        True,
        include_top=True,
        weights=None,
        input_shape=input_shape,
        classes=classes,
        classifier_activation=classifier_activation,
        name="resnet_micro",
    )


def keras_resnet_micro_inputs(batch: int = 4, size: int = 64, seed: int = 0) -> np.ndarray:
    return keras_resnet50_inputs(batch, size, seed)


def keras_convnext_micro(
    depths: tuple[int, ...] = (1, 1, 2, 1),
    projection_dims: tuple[int, ...] = (16, 32, 64, 128),
    input_shape: tuple[int, int, int] = (64, 64, 3),
    classes: int = 10,
    classifier_activation: str | None = "softmax",
) -> Any:
    """ConvNeXt's own code (``keras.applications``' ConvNeXt builder: nested stem and
    downsampling Sequentials, 7×7 grouped convs, LayerNorm, Dense pointwise layers, GELU,
    LayerScale 1e-6, its Normalization preprocessing) at tiny depths and widths, for when
    ConvNeXtTiny (28 M parameters) is too slow to audit."""
    from keras.src.applications import convnext

    return convnext.ConvNeXt(
        depths=list(depths),
        projection_dims=list(projection_dims),
        default_size=input_shape[0],
        name="convnext_micro",
        weights=None,
        input_shape=input_shape,
        classes=classes,
        classifier_activation=classifier_activation,
    )


def keras_convnext_micro_inputs(batch: int = 4, size: int = 64, seed: int = 0) -> np.ndarray:
    return keras_convnext_tiny_inputs(batch, size, seed)


def keras_plain_cnn_glorot(
    depth: int = 8, width: int = 32, input_shape: tuple[int, int, int] = (32, 32, 3)
) -> Any:
    """Defect: ``depth`` Conv2D 3×3 ReLU with Keras's default glorot_uniform, no BN (half
    of He's variance per layer), global average pooling, Dense(10)."""
    import keras

    L = keras.layers
    layers: list[Any] = [keras.Input(input_shape)]
    for i in range(depth):
        layers.append(L.Conv2D(width, 3, padding="same", activation="relu", name=f"conv{i}"))
        if i % 2 == 1 and i < 6:
            layers.append(L.MaxPooling2D(2, name=f"pool{i // 2}"))
    layers += [L.GlobalAveragePooling2D(name="avgpool"), L.Dense(10, name="head")]
    # explicit names: Keras's automatic ones (conv2d_288, …) count every layer built so
    # far in the process, so they differ between audits
    return keras.Sequential(layers, name="plain_cnn_glorot")


def keras_plain_cnn_glorot_inputs(batch: int = 8, size: int = 32, seed: int = 0) -> np.ndarray:
    return _keras_images(batch, size, seed)


def n_params(model: Any) -> int:
    """The number of trainable values of a torch or Keras model (shared weights once)."""
    if hasattr(model, "count_params"):  # Keras: every weight, BN moving statistics too
        return int(model.count_params())
    return sum(p.numel() for p in model.parameters())
