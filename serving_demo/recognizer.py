"""``EmotionRecognizer``: every face in an image, its box, its emotion and all seven probabilities."""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from export.layout import tflite_filename
from model_zoo.pretrained import pretrained_artifacts_dir
from serving_demo.face_detector import FaceDetector
from serving_demo.image_io import load_image

CLASS_NAMES = ("Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral")
FACE_SIZE = 48

# Backend name -> artifact inside a fer-export directory.
BACKEND_FILES = {
    "keras": "model.keras",
    "saved_model": "saved_model",
    "tflite-fp32": tflite_filename("float32"),
    "tflite-fp16": tflite_filename("float16"),
    "tflite-dynamic": tflite_filename("dynamic"),
    "tflite-int8": tflite_filename("int8"),
}
DEFAULT_BACKEND = "tflite-int8"
NO_FACE_MESSAGE = "No face found. Try a well-lit, frontal face that fills more of the picture."


@dataclass
class FaceResult:
    """One face: ``box`` (x, y, w, h) in image pixels, the top ``emotion``, its ``confidence`` and all probabilities."""

    box: tuple[int, int, int, int]
    emotion: str
    confidence: float
    probabilities: dict[str, float]


@dataclass
class Analysis:
    """The faces found in one image and what finding and classifying them cost."""

    faces: list[FaceResult]
    backend: str
    image_size: tuple[int, int]  # width, height
    detect_ms: float
    classify_ms: float
    message: str = ""
    image: np.ndarray | None = field(default=None, repr=False)  # the decoded RGB image, for drawing

    @property
    def total_ms(self) -> float:
        return self.detect_ms + self.classify_ms

    def to_dict(self) -> dict:
        """JSON-ready form (what the HTTP API returns), without the image."""
        return {
            "faces": [asdict(f) for f in self.faces],
            "backend": self.backend,
            "image_size": list(self.image_size),
            "detect_ms": round(self.detect_ms, 3),
            "classify_ms": round(self.classify_ms, 3),
            "total_ms": round(self.total_ms, 3),
            "message": self.message,
        }


class EmotionRecognizer:
    """Finds faces and classifies their emotion with a selectable backend.

    Args:
        artifacts_dir: A ``fer-export`` output directory (default: the shipped pretrained model).
        backend: The initial backend (see ``BACKEND_FILES``).
        detector: The face detector (default: ``FaceDetector()``).
        num_threads: CPU threads for TFLite backends.

    Raises:
        FileNotFoundError: if there is no artifacts directory (the message says how to make one).
        ValueError: if ``backend`` is unknown or its artifact is missing.
    """

    def __init__(
        self,
        artifacts_dir: str | Path | None = None,
        backend: str = DEFAULT_BACKEND,
        detector: FaceDetector | None = None,
        num_threads: int | None = None,
    ):
        self.artifacts_dir = Path(artifacts_dir) if artifacts_dir else pretrained_artifacts_dir()
        if not self.artifacts_dir.is_dir():
            raise FileNotFoundError(f"No artifacts directory at {self.artifacts_dir}; run fer-export first")
        self.detector = detector or FaceDetector()
        self.num_threads = num_threads
        self._predictors: dict[str, object] = {}
        # TFLite interpreters are not thread-safe and Gradio serves requests on
        # several threads: one lock per backend serialises calls to it.
        self._locks = {name: threading.Lock() for name in BACKEND_FILES}
        self._loading = threading.Lock()
        self.backend = self._check_backend(backend)

    def available_backends(self) -> list[str]:
        """The backends whose artifact exists in ``artifacts_dir``, in ``BACKEND_FILES`` order."""
        return [name for name, file in BACKEND_FILES.items() if (self.artifacts_dir / file).exists()]

    def _check_backend(self, name: str) -> str:
        if name not in BACKEND_FILES:
            raise ValueError(f"Unknown backend {name!r}; choose from {', '.join(BACKEND_FILES)}")
        if not (self.artifacts_dir / BACKEND_FILES[name]).exists():
            raise ValueError(f"Backend {name!r} needs {self.artifacts_dir / BACKEND_FILES[name]}, which is missing")
        return name

    def predictor(self, name: str | None = None):
        """The (lazily loaded, cached) predictor of backend ``name`` (default: the current backend)."""
        from export.predictors import KerasPredictor, SavedModelPredictor, TFLitePredictor

        name = self._check_backend(name or self.backend)
        with self._loading:
            if name not in self._predictors:
                path = self.artifacts_dir / BACKEND_FILES[name]
                if name == "keras":
                    self._predictors[name] = KerasPredictor(path)
                elif name == "saved_model":
                    self._predictors[name] = SavedModelPredictor(path)
                else:
                    self._predictors[name] = TFLitePredictor(path, num_threads=self.num_threads, name=name)
            return self._predictors[name]

    def classify_faces(self, faces: np.ndarray, backend: str | None = None) -> np.ndarray:
        """Class probabilities (N, 7) for uint8 gray faces (N, 48, 48, 1), in one batch."""
        name = self._check_backend(backend or self.backend)
        predictor = self.predictor(name)
        with self._locks[name]:
            return predictor.predict(faces)

    def analyze(
        self, image, backend: str | None = None, channel_order: str = "rgb", detector: FaceDetector | None = None
    ) -> Analysis:
        """Find every face in ``image`` and classify all of them in one batch.

        Args:
            image: A file path, encoded bytes, a PIL image or a NumPy array (RGB, BGR or gray; see ``load_image``).
            backend: Use this backend instead of the current one.
            channel_order: ``"rgb"`` or ``"bgr"`` for 3-channel NumPy arrays.
            detector: Use this face detector instead of the recognizer's own (e.g. a finer one for photos).

        Returns:
            An ``Analysis``; with no face, ``faces`` is empty and ``message`` says so.

        Raises:
            ImageInputError: if ``image`` cannot be used (the message says why).
            ValueError: on an unknown or missing backend.
        """
        name = self._check_backend(backend or self.backend)
        rgb = load_image(image, channel_order)
        start = time.perf_counter()
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        boxes = (detector or self.detector).detect(gray)
        detected = time.perf_counter()
        faces: list[FaceResult] = []
        if boxes:
            crops = np.stack(
                [
                    cv2.resize(
                        gray[b.y : b.y + b.h, b.x : b.x + b.w], (FACE_SIZE, FACE_SIZE), interpolation=cv2.INTER_AREA
                    )
                    for b in boxes
                ]
            )[..., None]
            probs = self.classify_faces(crops, name)
            for box, p in zip(boxes, probs):
                top = int(np.argmax(p))
                faces.append(
                    FaceResult(
                        box=box.as_tuple(),
                        emotion=CLASS_NAMES[top],
                        confidence=float(p[top]),
                        probabilities={c: float(v) for c, v in zip(CLASS_NAMES, p)},
                    )
                )
        classified = time.perf_counter()
        return Analysis(
            faces=faces,
            backend=name,
            image_size=(rgb.shape[1], rgb.shape[0]),
            detect_ms=(detected - start) * 1000,
            classify_ms=(classified - detected) * 1000,
            message="" if faces else NO_FACE_MESSAGE,
            image=rgb,
        )
