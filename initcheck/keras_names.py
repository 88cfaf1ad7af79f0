"""The names ``keras.initializers.get`` accepts, as static data (Keras 3).

The command line and the CI gate check a bare SPEC against this list before importing
Keras, so a typo (``he_normall``) is answered in a fraction of a second, without
TensorFlow; :func:`did_you_mean` is the one source of the suggestions, for them and for
:func:`initcheck.initializers.resolve`. ``tests/test_cli.py`` compares the list with the
installed Keras's live names.
"""

from __future__ import annotations

import difflib

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


def did_you_mean(name: str) -> str:
    """The suggestion for an unknown Keras initializer name.

    Args:
        name: the unknown name.

    Returns:
        ``"did you mean 'a' or 'b'? "`` naming up to three closest known names, or ``""``
        when none is close.
    """
    close = difflib.get_close_matches(name, sorted(KERAS_INITIALIZER_NAMES), n=3, cutoff=0.6)
    return f"did you mean {' or '.join(map(repr, close))}? " if close else ""
