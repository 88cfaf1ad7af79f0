"""Heat-map pixels: a diverging colour scale and a stdlib PNG encoder (no image library)."""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Sequence


def png_rgb(rows: Sequence[Sequence[tuple[int, int, int]]]) -> bytes:
    """Encode an RGB pixel grid as a PNG (stdlib zlib; no image library)."""
    height, width = len(rows), len(rows[0])
    raw = b"".join(b"\x00" + bytes(c for px in row for c in px) for row in rows)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


_DIVERGING = ((-1.0, (33, 102, 172)), (0.0, (247, 247, 247)), (1.0, (178, 24, 43)))


def diverging_color(v: float | None) -> tuple[int, int, int]:
    """Blue (−1) → white (0) → red (+1); grey for missing values."""
    if v is None or not math.isfinite(v):
        return (170, 170, 170)
    v = max(-1.0, min(1.0, v))
    (x0, c0), (x1, c1) = (_DIVERGING[0], _DIVERGING[1]) if v < 0 else (_DIVERGING[1], _DIVERGING[2])
    t = (v - x0) / (x1 - x0)
    return tuple(round(a + (b - a) * t) for a, b in zip(c0, c1, strict=True))  # type: ignore[return-value]
