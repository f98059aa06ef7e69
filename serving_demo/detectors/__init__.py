"""Face detectors, selectable by name: ``make_detector("blazeface-full")``.

Every detector returns ``Detection`` objects (box in the original image's pixels, score, keypoints where the
model gives them), largest face first. The names here are the one list the Python API, the CLIs'
``--detector`` and the demo's selector offer. Modules load lazily: importing this package imports neither
OpenCV nor a runtime.
"""

from __future__ import annotations

from serving_demo.detectors.base import Box, Detection, FaceDetector

DETECTORS: dict[str, str] = {
    "blazeface": "BlazeFace short range (LiteRT): a 224 px search, then close-ups of uncertain candidates",
    "blazeface-full": "BlazeFace full range (LiteRT, 192x192): photos and small or distant faces",
    "blazeface-short": "BlazeFace short range (LiteRT, 128 px): faces within about 2 m of a webcam",
    "haar": "OpenCV Haar cascade, webcam settings (the seed's detector)",
    "haar-photo": "OpenCV Haar cascade, photo settings (finer search, smaller faces, slower)",
}
DEFAULT_DETECTOR = "blazeface"

__all__ = ["DEFAULT_DETECTOR", "DETECTORS", "Box", "Detection", "FaceDetector", "check_detector", "make_detector"]


def check_detector(name: str) -> str:
    """``name`` if it is a known detector.

    Raises:
        ValueError: naming the detectors there are.
    """
    if name not in DETECTORS:
        raise ValueError(f"Unknown face detector {name!r}; choose from {', '.join(DETECTORS)}")
    return name


def make_detector(name: str = DEFAULT_DETECTOR, num_threads: int | None = 2) -> FaceDetector:
    """A new detector of the given name (see ``DETECTORS``).

    Args:
        name: A key of ``DETECTORS``.
        num_threads: CPU threads for the DNN detectors.

    Raises:
        ValueError: on an unknown name.
        FileNotFoundError: if a DNN detector's model file is not installed (the message says what to install).
    """
    check_detector(name)
    if name.startswith("blazeface"):
        from serving_demo.detectors.blazeface import BlazeFaceDetector, two_pass_detector

        if name == "blazeface":
            return two_pass_detector(num_threads=num_threads)
        return BlazeFaceDetector(name.removeprefix("blazeface-"), num_threads=num_threads)
    from serving_demo.detectors.haar import HaarDetector

    if name == "haar-photo":
        return HaarDetector(min_neighbors=6, min_size=40, detect_width=640, name=name)
    return HaarDetector(name=name)
