"""How a pixel byte becomes the float the models read, written once: ``float32(v) / 255``, a true division
(MNIST's loader, a pair's uint8 files, ``predict`` given bytes; the ``halide`` path takes bytes itself and gives
their floats' probabilities to within 1e-6: it divides the same way for one image, and folds the 1/255 into
the first layer's weights for blocks of 16), and the way back for images that are bytes."""

from __future__ import annotations

import numpy as np


def scale_pixels(images: np.ndarray) -> np.ndarray:
    """uint8 pixels 0..255 as float32 in [0, 1]: ``float32(v) / 255``, a new array of the same shape."""
    return images.astype(np.float32) / np.float32(255.0)


def as_pixel_bytes(images: np.ndarray) -> np.ndarray | None:
    """The uint8 images whose float32 ``/ 255`` is exactly ``images`` (float32, as :func:`scale_pixels` makes them from
    bytes), C-contiguous and writable, for a path that reads bytes and scales them itself (a quarter
    of the input traffic, and the same probabilities to within 1e-6); ``None`` where any value is not such a byte."""
    if not isinstance(images, np.ndarray) or images.dtype != np.float32:
        return None
    with np.errstate(invalid="ignore"):
        scaled = np.rint(images * np.float32(255.0))
        if not np.all((scaled >= 0) & (scaled <= 255)):  # NaN fails both
            return None
    out = scaled.astype(np.uint8, order="C")
    return out if np.array_equal(scale_pixels(out), images) else None
