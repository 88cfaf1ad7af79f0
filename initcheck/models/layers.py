"""What each layer type *is* to an audit, for every framework in one table.

A layer's category decides how the signal and the variance rules look through it:

- ``"norm"``: a normalization layer (BatchNorm, LayerNorm, GroupNorm, RMSNorm,
  InstanceNorm). A kernel whose output reaches one through pass-through layers only is
  scale-invariant in the forward pass (Ioffe & Szegedy 2015; Ba et al. 2016; Wu & He 2018;
  Zhang & Sennrich 2019).
- ``"pass"``: no weights and no change of scale worth a rule (dropout, pooling, reshape,
  padding, identity).
- ``"activation"``: a nonlinearity, with its canonical name (for ``variance="auto"``).
- ``"merge"``: joins branches (Keras ``Add``): the residual stream's points.

The framework adapters (``torch_model``, ``keras_model``) hold the per-type piece
builders; this module holds only the categories, so a new layer type is one entry here
(and one builder there if it carries weights).
"""

from __future__ import annotations

#: Layer class names (torch, Keras, Hugging Face) of normalization layers.
NORMS = frozenset(
    {
        "BatchNorm1d",
        "BatchNorm2d",
        "BatchNorm3d",
        "SyncBatchNorm",
        "LayerNorm",
        "GroupNorm",
        "InstanceNorm1d",
        "InstanceNorm2d",
        "InstanceNorm3d",
        "RMSNorm",
        "LocalResponseNorm",
        "BatchNormalization",
        "LayerNormalization",
        "GroupNormalization",
        "RMSNormalization",
        "UnitNormalization",
        # Hugging Face's own norms
        "LlamaRMSNorm",
        "MistralRMSNorm",
        "Qwen2RMSNorm",
        "T5LayerNorm",
        "GemmaRMSNorm",
        "ConvNextLayerNorm",
    }
)

#: Layers that carry the signal through without a rule of their own.
PASS = frozenset(
    {
        "Dropout",
        "Dropout1d",
        "Dropout2d",
        "Dropout3d",
        "AlphaDropout",
        "SpatialDropout1D",
        "SpatialDropout2D",
        "SpatialDropout3D",
        "GaussianDropout",
        "GaussianNoise",
        "Identity",
        "Flatten",
        "Unflatten",
        "Reshape",
        "Permute",
        "ZeroPadding1D",
        "ZeroPadding2D",
        "ZeroPadding3D",
        "ZeroPad2d",
        "ConstantPad2d",
        "Cropping2D",
        "MaxPool1d",
        "MaxPool2d",
        "MaxPool3d",
        "AvgPool1d",
        "AvgPool2d",
        "AvgPool3d",
        "AdaptiveAvgPool1d",
        "AdaptiveAvgPool2d",
        "AdaptiveAvgPool3d",
        "AdaptiveMaxPool2d",
        "MaxPooling1D",
        "MaxPooling2D",
        "MaxPooling3D",
        "AveragePooling1D",
        "AveragePooling2D",
        "AveragePooling3D",
        "GlobalAveragePooling1D",
        "GlobalAveragePooling2D",
        "GlobalAveragePooling3D",
        "GlobalMaxPooling1D",
        "GlobalMaxPooling2D",
        "Rescaling",
        "InputLayer",
        "LayerScale",
        "StochasticDepth",
    }
)

#: Activation class names → canonical name (``variance="auto"`` reads these).
ACTIVATIONS = {
    "ReLU": "relu",
    "ReLU6": "relu6",
    "LeakyReLU": "leaky_relu",
    "ELU": "elu",
    "SELU": "selu",
    "GELU": "gelu",
    "SiLU": "silu",
    "Mish": "mish",
    "PReLU": "prelu",
    "RReLU": "rrelu",
    "CELU": "celu",
    "Hardswish": "hardswish",
    "Softplus": "softplus",
    "Tanh": "tanh",
    "Sigmoid": "sigmoid",
    "Softmax": "softmax",
    "Hardtanh": "hardtanh",
    "Softsign": "softsign",
    "Hardsigmoid": "hard_sigmoid",
    # Hugging Face's activation modules (transformers.activations)
    "GELUActivation": "gelu",
    "NewGELUActivation": "gelu",
    "FastGELUActivation": "gelu",
    "QuickGELUActivation": "gelu",
    "GELUTanh": "gelu",
    "PytorchGELUTanh": "gelu",
    "SiLUActivation": "silu",
    "ClippedGELUActivation": "gelu",
    # functions (jax.nn / flax.nnx) recorded by their name
    **{
        f: f for f in ("relu", "relu6", "leaky_relu", "elu", "selu", "celu", "gelu", "silu", "tanh")
    },
    **{f: f for f in ("sigmoid", "softmax", "softplus", "mish", "hard_sigmoid")},
    "swish": "silu",
}

#: Positively homogeneous activations: f(αx) = αf(x) for α > 0, so a kernel before one
#: and a norm after it is still scale-invariant.
HOMOGENEOUS = frozenset({"relu", "leaky_relu", "prelu", "rrelu", "identity", "linear"})


def category(kind: str, activation: str | None = None) -> str:
    """The category of a layer class name: ``"norm"``, ``"pass"``, ``"activation"``,
    ``"merge"`` or ``"other"``.

    Args:
        kind: the layer's class name.
        activation: a Keras ``Activation`` layer's function name, if any.

    Returns:
        The category.
    """
    if kind in NORMS or kind.endswith(("RMSNorm", "LayerNorm")):
        return "norm"
    if kind in PASS:
        return "pass"
    if kind in ACTIVATIONS or kind == "Activation":
        return "activation"
    if kind in ("Add", "Average"):
        return "merge"
    return "other"
