"""Hostile files, built in memory for the hostile-input suite: nothing big is committed, nothing random is unseeded.

Each builder returns the file's bytes; ``HOSTILE_IMAGES`` names the unusable ones that every consumer (the
recognizer, the demo, ``fer-analyze``) must refuse with a reason, with the start of the reason it must give.
"""

from __future__ import annotations

import functools
import io
import struct
import zlib

import cv2
import numpy as np
from PIL import Image

from tests.images import astronaut

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
NOT_DECODABLE = "not an image that can be decoded"
EMPTY = "empty"
TOO_LARGE = "too large to decode safely|more than the 100 megapixels"


def png_chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data and CRC."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_header(width: int, height: int, bit_depth: int = 8, colour_type: int = 0) -> bytes:
    """A PNG signature and IHDR chunk (gray by default)."""
    return PNG_SIGNATURE + png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0))


@functools.cache
def bomb_png(width: int = 30000, height: int = 30000) -> bytes:
    """A valid 1-bit black PNG of ``width`` x ``height`` (900 megapixels by default) that zlib makes about 100 KB:
    a decompression bomb (decoded naively, 900 MB in gray, 2.7 GB in RGB)."""
    row = b"\x00" + bytes(-(-width // 8))  # filter byte "none", then the packed bits
    compressor = zlib.compressobj(9)
    chunks, rows_at_once = [], 256
    for start in range(0, height, rows_at_once):
        chunks.append(compressor.compress(row * min(rows_at_once, height - start)))
    chunks.append(compressor.flush())
    return png_header(width, height, bit_depth=1) + png_chunk(b"IDAT", b"".join(chunks)) + png_chunk(b"IEND", b"")


def header_only_png(width: int = 8000, height: int = 8000) -> bytes:
    """A PNG whose header promises ``width`` x ``height`` pixels and whose data stop at once (a few bytes)."""
    return png_header(width, height) + png_chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + png_chunk(b"IEND", b"")


def text_bomb_png(megabytes: int = 4) -> bytes:
    """A valid 8x8 PNG carrying a compressed text chunk (zTXt) that inflates to ``megabytes`` MB, before its pixels."""
    text = png_chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(bytes(megabytes << 20), 9))
    pixels = zlib.compress(b"".join(b"\x00" + bytes([128] * 8) for _ in range(8)))
    return png_header(8, 8) + text + png_chunk(b"IDAT", pixels) + png_chunk(b"IEND", b"")


def short_header_png() -> bytes:
    """A PNG whose IHDR chunk is 4 bytes instead of 13."""
    return PNG_SIGNATURE + png_chunk(b"IHDR", b"\x00\x00\x00\x08")


def huge_header(fmt: str, width: int, height: int) -> bytes:
    """A valid tiny image of ``fmt`` (GIF, BMP or JPEG) whose header then claims ``width`` x ``height`` pixels."""
    data = bytearray(encoded(np.zeros((8, 8, 3), np.uint8), fmt))
    if fmt == "GIF":
        data[6:10] = struct.pack("<HH", width, height)  # the logical screen
    elif fmt == "BMP":
        data[18:26] = struct.pack("<ii", width, height)  # the info header
    else:
        at = data.find(b"\xff\xc0") + 5  # the baseline frame header: height, then width
        data[at : at + 4] = struct.pack(">HH", height, width)
    return bytes(data)


def encoded(image: np.ndarray | Image.Image, fmt: str, **kwargs) -> bytes:
    """``image`` (an RGB array or a PIL image) encoded by Pillow as ``fmt``."""
    buffer = io.BytesIO()
    (image if isinstance(image, Image.Image) else Image.fromarray(image)).save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


@functools.cache
def photo_jpeg() -> bytes:
    """The astronaut (one frontal face) as a JPEG: the normal input."""
    return encoded(astronaut(), "JPEG", quality=90)


def truncated_jpeg() -> bytes:
    """The astronaut's JPEG cut off after 2000 bytes."""
    return photo_jpeg()[:2000]


def small_mp4() -> bytes:
    """A valid 10-frame 64x48 mp4 (mp4v): a video where a photo is expected."""
    import tempfile
    from pathlib import Path

    from tests.serving_demo.analysis.helpers import write_small_video

    with tempfile.TemporaryDirectory() as folder:
        return write_small_video(Path(folder) / "clip.mp4").read_bytes()


def mutated(data: bytes, count: int, seed: int) -> list[bytes]:
    """``count`` copies of ``data``, each with a few bytes overwritten at seeded places, or cut short."""
    rng = np.random.default_rng(seed)
    copies = []
    for i in range(count):
        copy = bytearray(data)
        if i % 4 == 3:
            copy = copy[: int(rng.integers(8, len(copy)))]
        else:
            for at in rng.integers(0, len(copy), size=int(rng.integers(1, 8))):
                copy[int(at)] = int(rng.integers(0, 256))
        copies.append(bytes(copy))
    return copies


@functools.cache
def hostile_images() -> dict[str, tuple[bytes, str]]:
    """Unusable image files: name -> (bytes, regular expression the refusal's message must match)."""
    return {
        "empty.jpg": (b"", EMPTY),
        "text_as_image.png": (b"this is text, not a PNG\n", NOT_DECODABLE),
        "html_as_image.jpg": (b"<html><script>alert(1)</script></html>", NOT_DECODABLE),
        "png_signature_only.png": (PNG_SIGNATURE, NOT_DECODABLE),
        "jpeg_marker_only.jpg": (b"\xff\xd8\xff", NOT_DECODABLE),
        "truncated.jpg": (truncated_jpeg(), NOT_DECODABLE),
        "header_8000x8000_no_data.png": (header_only_png(), NOT_DECODABLE),
        "short_ihdr.png": (short_header_png(), NOT_DECODABLE),
        "text_bomb.png": (text_bomb_png(), NOT_DECODABLE + "|too large to decode safely"),
        "bomb_30000x30000.png": (bomb_png(), TOO_LARGE),
        "header_65535x65535.gif": (huge_header("GIF", 65535, 65535), TOO_LARGE),
        "header_50000x50000.bmp": (huge_header("BMP", 50000, 50000), TOO_LARGE),
        "header_65000x65000.jpg": (huge_header("JPEG", 65000, 65000), TOO_LARGE),
        "zero_by_zero.png": (
            png_header(0, 0) + png_chunk(b"IDAT", zlib.compress(b"")) + png_chunk(b"IEND", b""),
            NOT_DECODABLE,
        ),
        "video_as_photo.jpg": (small_mp4(), NOT_DECODABLE),
        "zeros.bmp": (bytes(4096), NOT_DECODABLE),
    }


def wide_png(width: int, height: int) -> bytes:
    """A flat gray PNG of an extreme aspect ratio (e.g. 5000 x 1)."""
    return encoded(np.full((height, width, 3), 128, np.uint8), "PNG")


def float_tiff() -> bytes:
    """A 32-bit float gray TIFF (Pillow mode F) of the astronaut, values 0 to 1."""
    gray = cv2.cvtColor(astronaut(), cv2.COLOR_RGB2GRAY).astype(np.float32) / 255
    return encoded(Image.fromarray(gray, "F"), "TIFF")
