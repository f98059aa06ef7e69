"""Real and deliberately awkward images for the demo's tests."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from skimage import data

# Where the astronaut's (Eileen Collins) face is in skimage.data.astronaut(), found by hand.
ASTRONAUT_FACE_CENTRE = (225, 115)


def astronaut() -> np.ndarray:
    """A real photograph (public domain, NASA): 512x512 RGB with one frontal face."""
    return data.astronaut()


def frame_640x480(image: np.ndarray | None = None) -> np.ndarray:
    """A 640x480 webcam-like RGB frame with the astronaut's face in it."""
    frame = np.full((480, 640, 3), 90, np.uint8)
    frame[:, 64:576] = cv2.resize(astronaut() if image is None else image, (512, 480), interpolation=cv2.INTER_AREA)
    return frame


def two_astronauts() -> np.ndarray:
    """A 1024x512 photo with two faces: the astronaut and her mirror image (the shipped example two_astronauts.jpg)."""
    face = astronaut()
    return np.concatenate([face, face[:, ::-1]], axis=1)


def rotated_astronaut(degrees: float = 15.0) -> np.ndarray:
    """The astronaut turned ``degrees`` counter-clockwise about her face (edges reflected, no black corners)."""
    matrix = cv2.getRotationMatrix2D(ASTRONAUT_FACE_CENTRE, degrees, 1.0)
    return cv2.warpAffine(astronaut(), matrix, (512, 512), borderMode=cv2.BORDER_REFLECT)


ASTRONAUT_FACE_WIDTH = 100  # pixels, in astronaut()


def small_face_frame(face_px: int = 40) -> tuple[np.ndarray, tuple[float, float]]:
    """A 640x480 frame with the astronaut shrunk until her face is ``face_px`` wide; returns it and the face centre."""
    scale = face_px / ASTRONAUT_FACE_WIDTH
    photo = cv2.resize(astronaut(), None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    frame = np.full((480, 640, 3), 90, np.uint8)
    top, left = 100, 200
    frame[top : top + photo.shape[0], left : left + photo.shape[1]] = photo
    return frame, (left + ASTRONAUT_FACE_CENTRE[0] * scale, top + ASTRONAUT_FACE_CENTRE[1] * scale)


def write_bad_inputs(directory: Path) -> dict[str, Path]:
    """One file per awkward input; the key says what it is."""
    directory.mkdir(parents=True, exist_ok=True)
    face = astronaut()
    files = {}

    def save(name: str, image: Image.Image, **kwargs) -> None:
        files[name] = directory / name
        image.save(files[name], **kwargs)

    (directory / "not_an_image.png").write_text("this is text, not a PNG")
    files["not_an_image.png"] = directory / "not_an_image.png"
    (directory / "empty.jpg").write_bytes(b"")
    files["empty.jpg"] = directory / "empty.jpg"
    buffer = io.BytesIO()
    Image.fromarray(face).save(buffer, format="JPEG")
    (directory / "truncated.jpg").write_bytes(buffer.getvalue()[:2000])
    files["truncated.jpg"] = directory / "truncated.jpg"
    save("gray.png", Image.fromarray(cv2.cvtColor(face, cv2.COLOR_RGB2GRAY)))
    rgba = np.dstack([face, np.full(face.shape[:2], 255, np.uint8)])
    rgba[:50, :50, 3] = 0
    save("rgba.png", Image.fromarray(rgba, "RGBA"))
    gray16 = cv2.cvtColor(face, cv2.COLOR_RGB2GRAY).astype(np.uint16) * 257
    save("gray16.png", Image.fromarray(gray16, "I;16"))
    # EXIF orientation 6: the pixels are stored rotated 90 degrees counter-clockwise and
    # viewers turn them back; without the EXIF step the face would lie on its side.
    rotated = Image.fromarray(np.ascontiguousarray(np.rot90(face)))
    exif = Image.Exif()
    exif[0x0112] = 6
    save("exif_rotated.jpg", rotated, exif=exif, quality=95)
    huge = Image.new("L", (8000, 8000), 128)
    save("huge_8000x8000.png", huge)
    save("bomb_12000x12000.png", Image.new("1", (12000, 12000), 1))
    return files
