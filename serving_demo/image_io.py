"""Turning whatever a user hands over into an RGB uint8 array, or a clear refusal.

Handles file paths and bytes in any format Pillow reads, EXIF orientation,
gray, RGBA, palette, CMYK and 16-bit images, and NumPy arrays; very large
images are scaled down, decompression bombs and non-images are refused.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_PIXELS = 100_000_000  # refuse anything bigger before decoding it (10000 x 10000)
MAX_SIDE = 2048  # larger images are scaled down: faces stay findable, memory stays bounded

# Pillow's decompression-bomb limit is a process-wide setting. Set once here, not around each
# decode: Gradio decodes on several threads, and a per-call set-and-restore races between them.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

# What Pillow's decoders raise on corrupt data besides OSError: a malformed header chunk (ValueError, struct.error),
# a broken stream (EOFError, zlib.error), tables that index out of range (IndexError, KeyError, TypeError).
_DECODE_ERRORS = (
    UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error, IndexError,
    KeyError, TypeError,
)  # fmt: skip


class ImageInputError(ValueError):
    """The input is not an image this service can use; the message says why and what to do."""


def load_image(source: str | Path | bytes | np.ndarray | Image.Image, channel_order: str = "rgb") -> np.ndarray:
    """Decode ``source`` into an (H, W, 3) RGB uint8 array of at most ``MAX_SIDE`` pixels a side.

    Args:
        source: A file path, encoded image bytes, a PIL image, or a NumPy array
            (H, W) gray, (H, W, 1), (H, W, 3) or (H, W, 4), uint8 or uint16, or float in [0, 1].
        channel_order: ``"rgb"`` or ``"bgr"``: the order of a 3- or 4-channel NumPy array (OpenCV gives BGR).

    Returns:
        The RGB image, EXIF-rotated, alpha dropped (composited on white), scaled down if larger than ``MAX_SIDE``.

    Raises:
        ImageInputError: for an empty or missing file, data that are not an image, an image too
            large to decode safely, or an array of unusable shape or type.
    """
    if isinstance(source, np.ndarray):
        return _limit_size(_array_to_rgb(source, channel_order))
    if isinstance(source, Image.Image):
        return _decoded("the image", lambda: _limit_size(_pil_to_rgb(source)))
    if isinstance(source, str | Path):
        path = Path(source)
        if not path.is_file():
            raise ImageInputError(f"No file at {path}.")
        if path.stat().st_size == 0:
            raise ImageInputError(f"{path.name} is empty (0 bytes). Choose a photo (JPEG, PNG, WebP, ...).")
        data = path.read_bytes()
        name = path.name
    elif isinstance(source, bytes):
        if not source:
            raise ImageInputError("The file is empty (0 bytes). Choose a photo (JPEG, PNG, WebP, ...).")
        data, name = source, "the upload"
    else:
        raise ImageInputError(f"Cannot read an image from a {type(source).__name__}.")

    def decode() -> np.ndarray:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise ImageInputError(_too_large(name, width, height))
            image.load()
            return _limit_size(_pil_to_rgb(image))

    return _decoded(name, decode)


def _decoded(name: str, decode) -> np.ndarray:
    """``decode()``, with whatever a corrupt or hostile image makes Pillow raise turned into an ``ImageInputError``."""
    try:
        return decode()
    except ImageInputError:
        raise
    except Image.DecompressionBombError as e:
        raise ImageInputError(f"{name} is too large to decode safely ({e}).") from e
    except _DECODE_ERRORS as e:
        raise ImageInputError(
            f"{name} is not an image that can be decoded ({type(e).__name__}). Use a JPEG, PNG, WebP or BMP photo."
        ) from e


def _too_large(name: str, width: int, height: int) -> str:
    return (
        f"{name} is {width}x{height} pixels, more than the {MAX_PIXELS // 1_000_000} megapixels accepted; "
        "scale it down first."
    )


def _pil_to_rgb(image: Image.Image) -> np.ndarray:
    image = ImageOps.exif_transpose(image) or image  # phones store portrait photos rotated
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.uint32)
        return _array_to_rgb((array >> 8 if array.max() > 255 else array).astype(np.uint8), "rgb")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def _array_to_rgb(array: np.ndarray, channel_order: str) -> np.ndarray:
    if array.size == 0:
        raise ImageInputError("The image is empty (0 pixels).")
    if array.dtype == np.uint16:
        array = (array >> 8).astype(np.uint8)
    elif np.issubdtype(array.dtype, np.floating):
        if np.isnan(array).any():  # NaN has no uint8 value: the cast's result would depend on the CPU
            raise ImageInputError("The image has NaN pixels; give finite values in [0, 1].")
        array = (np.clip(array, 0.0, 1.0) * 255).round().astype(np.uint8)
    elif array.dtype != np.uint8:
        raise ImageInputError(f"Unsupported pixel type {array.dtype}; give uint8, uint16 or float in [0, 1].")
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim == 2:
        return np.repeat(array[..., None], 3, axis=-1)
    if array.ndim != 3 or array.shape[-1] not in (3, 4):
        raise ImageInputError(f"Unsupported image shape {array.shape}; give (H, W), (H, W, 1), (H, W, 3) or (H, W, 4).")
    if channel_order == "bgr":
        array = array[..., [2, 1, 0, 3][: array.shape[-1]]]
    if array.shape[-1] == 4:
        alpha = array[..., 3:4].astype(np.float32) / 255.0
        array = (array[..., :3] * alpha + 255.0 * (1.0 - alpha)).round().astype(np.uint8)
    return np.ascontiguousarray(array)


def _limit_size(rgb: np.ndarray) -> np.ndarray:
    height, width = rgb.shape[:2]
    if max(height, width) <= MAX_SIDE:
        return rgb
    import cv2

    scale = MAX_SIDE / max(height, width)
    # At least a pixel a side: a 5000x1 strip scales to 2048x0 otherwise, which OpenCV refuses.
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
