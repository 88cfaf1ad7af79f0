"""Flush denormal floats to zero in the calling thread, as TensorFlow's and PyTorch's CPU
kernels do.

Arithmetic on denormal float32 values (below 1.2e-38) is 10-100x slower on x86 and ARM
CPUs. A diverging network (a kernel drawn from U[0, 1)) fills its gradients and Adam's
moments with them, and a numpy training step slows down several times. Setting the
flush-to-zero (and denormals-are-zero) bits of the thread's floating-point control register
makes such values exact zeros, as frameworks do in their own threads.

The bits belong to one thread: :func:`flush_denormals` is called only in initcheck's own
worker threads, never in the caller's. Where the platform's ``fenv_t`` layout is not known
here it does nothing (the numbers are the same; only slower on diverging networks).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform
import sys

# (fenv_t as 32-bit words, index of the control word, bits to set), per platform
_LAYOUTS = {
    ("linux", "x86_64"): (8, 7, 0x8040),  # glibc: x87 state (28 bytes), then MXCSR: FTZ|DAZ
    ("linux", "aarch64"): (2, 0, 1 << 24),  # glibc: FPCR, FPSR; FPCR.FZ
    ("darwin", "x86_64"): (4, 1, 0x8040),  # control, status (16-bit each), MXCSR, reserved
    ("darwin", "arm64"): (4, 2, 1 << 24),  # FPSR, FPCR (64-bit each); FPCR.FZ
}


def flush_denormals() -> bool:
    """Set flush-to-zero in the calling thread; ``True`` if it was set.

    Returns:
        Whether the bits are now set (``False`` on a platform not listed, or if the C
        library refused).
    """
    layout = _LAYOUTS.get((sys.platform, platform.machine().lower()))
    name = ctypes.util.find_library("m") or ctypes.util.find_library("c")
    if layout is None or name is None:
        return False
    words, index, bits = layout
    try:
        libm = ctypes.CDLL(name)
        env = (ctypes.c_uint32 * words)()
        if libm.fegetenv(ctypes.byref(env)) != 0:
            return False
        env[index] |= bits
        if libm.fesetenv(ctypes.byref(env)) != 0:
            return False
        check = (ctypes.c_uint32 * words)()
        libm.fegetenv(ctypes.byref(check))
        return bool(check[index] & bits == bits)
    except (OSError, AttributeError):
        return False
