"""``EmotionRecognizer``: every face in an image, its box, its emotion and all seven probabilities."""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from fer_runtime.predictors import Predictor, load_backend
from model_zoo.artifacts import BACKENDS, DEFAULT_BACKEND, artifact_path, available_backends, canonical_backend
from model_zoo.constants import FACE_SIZE, LABELS_FILE, read_labels
from model_zoo.pretrained import pretrained_artifacts_dir
from serving_demo.face_detector import FaceDetector
from serving_demo.image_io import load_image

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

    Class names come from the export's ``labels.txt``. Only the backend in use is loaded,
    so a TFLite backend never imports TensorFlow.

    Args:
        artifacts_dir: A ``fer-export`` output directory (default: the shipped pretrained model).
        backend: The initial backend, a name of ``model_zoo.artifacts.BACKENDS``.
        detector: The face detector (default: ``FaceDetector()``).
        num_threads: CPU threads for TFLite backends.

    Raises:
        FileNotFoundError: if there is no artifacts directory (the message says how to make one).
        ValueError: if ``backend`` is unknown or its artifact is missing, or ``labels.txt`` is malformed.
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
        self.class_names = read_labels(self.artifacts_dir)
        self.detector = detector or FaceDetector()
        self.num_threads = num_threads
        self._predictors: dict[str, Predictor] = {}
        # TFLite interpreters are not thread-safe and Gradio serves requests on
        # several threads: one lock per backend serialises calls to it.
        self._locks = {name: threading.Lock() for name in BACKENDS}
        self._loading = threading.Lock()
        self.backend = self._check_backend(backend)

    def available_backends(self) -> list[str]:
        """The backends whose artifact exists in ``artifacts_dir``, in the artifact table's order."""
        return available_backends(self.artifacts_dir)

    def _check_backend(self, name: str) -> str:
        name = canonical_backend(name)
        path = artifact_path(self.artifacts_dir, name)
        if not path.exists():
            raise ValueError(f"Backend {name!r} needs {path}, which is missing")
        return name

    def predictor(self, name: str | None = None) -> Predictor:
        """The (lazily loaded, cached) predictor of backend ``name`` (default: the current backend)."""
        name = self._check_backend(name or self.backend)
        with self._loading:
            if name not in self._predictors:
                self._predictors[name] = load_backend(self.artifacts_dir, name, num_threads=self.num_threads)
            return self._predictors[name]

    def classify_faces(self, faces: np.ndarray, backend: str | None = None) -> np.ndarray:
        """Class probabilities (N, classes) for uint8 gray faces (N, 48, 48, 1), in one batch.

        Raises:
            ValueError: on an unknown or missing backend, or if the model's outputs do not match ``labels.txt``.
        """
        name = self._check_backend(backend or self.backend)
        predictor = self.predictor(name)
        with self._locks[name]:
            probs = predictor.predict(faces)
        if probs.shape[-1] != len(self.class_names):
            raise ValueError(
                f"The {name} model gives {probs.shape[-1]} probabilities but {self.artifacts_dir / LABELS_FILE} "
                f"names {len(self.class_names)} classes; re-export the model with fer-export."
            )
        return probs

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
                        emotion=self.class_names[top],
                        confidence=float(p[top]),
                        probabilities={c: float(v) for c, v in zip(self.class_names, p)},
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
