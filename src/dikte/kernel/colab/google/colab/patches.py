"""``google.colab.patches``: ``cv2_imshow``, Colab's stand-in for OpenCV's ``cv2.imshow`` (which
needs a desktop window a runtime does not have).

The image is shown as a PNG output. It is encoded here (zlib, standard library) rather than with
OpenCV or PIL, so it works in any image that has numpy, which the array came from.
"""

from __future__ import annotations

import struct
import zlib
from typing import Any

__all__ = ["cv2_imshow"]


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def _png(pixels: Any) -> bytes:
    """An 8-bit PNG of an (h, w), (h, w, 3) RGB or (h, w, 4) RGBA uint8 array."""
    height, width = pixels.shape[:2]
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    colour = {1: 0, 3: 2, 4: 6}[channels]
    rows = pixels.reshape(height, width * channels)
    raw = b"".join(b"\x00" + rows[y].tobytes() for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(raw, 6)) + _chunk(b"IEND", b""))


def cv2_imshow(a: Any) -> None:
    """Show an OpenCV image: ``a`` is a numpy array of shape (h, w) (grey), (h, w, 3) (BGR) or
    (h, w, 4) (BGRA), as ``cv2.imread`` gives; values are clipped to 0..255, as Colab does."""
    import numpy as np
    from IPython.display import Image, display

    pixels = np.asarray(a)
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    if pixels.ndim not in (2, 3) or (pixels.ndim == 3 and pixels.shape[2] not in (3, 4)) \
            or 0 in pixels.shape:
        raise ValueError(f"cv2_imshow() shows an image of shape (height, width), (height, width, "
                         f"3) or (height, width, 4); this array's shape is {pixels.shape}.")
    pixels = pixels.clip(0, 255).astype(np.uint8)
    if pixels.ndim == 3:  # OpenCV's BGR(A) to RGB(A)
        order = [2, 1, 0] if pixels.shape[2] == 3 else [2, 1, 0, 3]
        pixels = pixels[:, :, order]
    png = _png(np.ascontiguousarray(pixels))
    display(Image(data=png, format="png"))  # type: ignore[no-untyped-call]
