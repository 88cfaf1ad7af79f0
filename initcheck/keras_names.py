"""The names ``keras.initializers.get`` accepts, as static data (Keras 3).

The command line checks a bare SPEC against this list before importing Keras, so a typo
(``he_normall``) is answered in a fraction of a second, without TensorFlow.
``tests/test_cli.py`` compares the list with the installed Keras's live names.
"""

from __future__ import annotations

__all__ = ["KERAS_INITIALIZER_NAMES"]

#: Class names and snake_case aliases of Keras 3's built-in initializers.
KERAS_INITIALIZER_NAMES: frozenset[str] = frozenset(
    {
        "Constant",
        "GlorotNormal",
        "GlorotUniform",
        "HeNormal",
        "HeUniform",
        "Identity",
        "IdentityInitializer",
        "LecunNormal",
        "LecunUniform",
        "Ones",
        "Orthogonal",
        "OrthogonalInitializer",
        "RandomNormal",
        "RandomUniform",
        "STFT",
        "STFTInitializer",
        "TruncatedNormal",
        "VarianceScaling",
        "Zeros",
        "constant",
        "glorot_normal",
        "glorot_uniform",
        "he_normal",
        "he_uniform",
        "identity",
        "lecun_normal",
        "lecun_uniform",
        "normal",
        "one",
        "ones",
        "orthogonal",
        "random_normal",
        "random_uniform",
        "stft",
        "truncated_normal",
        "uniform",
        "variance_scaling",
        "zero",
        "zeros",
    }
)
