"""``EmotionRecognizer``: every face in an image, its box, its emotion and the probability of every class.

The classes are the export's (its ``labels.txt``): FER2013's seven emotions, or eight with FER+'s contempt.
``EmotionRecognizer.stream`` gives a ``FaceStream`` (``serving_demo.face_stream``) for the frames of one video or
webcam: with tracking, each face keeps an id from frame to frame and is followed by a cheap pass between full
detections (``serving_demo.tracking``). The results' classes are in ``serving_demo.results``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from fer_runtime.predictors import Predictor, load_backend
from model_zoo.artifacts import BACKENDS, DEFAULT_BACKEND, artifact_path, available_backends, check_backend
from model_zoo.constants import FACE_SHAPE, LABELS_FILE, read_labels
from model_zoo.pretrained import resolve_artifacts
from serving_demo.detectors import DEFAULT_DETECTOR, Detection, FaceDetector, check_detector, make_detector
from serving_demo.face_crops import face_crops, framing_for
from serving_demo.face_stream import FaceStream
from serving_demo.image_io import load_image
from serving_demo.results import Analysis, FaceResult, FoundFaces, face_results, with_reused
from serving_demo.tracking import CLASSIFY_EVERY, FULL_EVERY


class EmotionRecognizer:
    """Finds faces and classifies their emotion with a selectable backend and face detector.

    Class names come from the export's ``labels.txt`` (7 or 8 classes; FER2013's seven if it has none), checked
    against the width of the model's output when it classifies. Only the backend in use is loaded,
    so a TFLite backend never imports TensorFlow. Each face is cut out framed as FER2013's faces
    are (the detector's calibrated framing, ``serving_demo.face_crops``) and, with ``align``, turned
    upright by its eyes.

    Args:
        artifacts_dir: A ``fer-export`` output directory or a shipped model's name (default: the shipped default).
        backend: The initial backend, a name of ``model_zoo.artifacts.BACKENDS``.
        detector: The initial face detector: a name of ``serving_demo.detectors.DETECTORS`` or a detector object.
        num_threads: CPU threads for TFLite backends (default: the runtime's) and the detectors made by name
            (default: 1; the webcam stream measured 25 fps with one and 24 with two, the browser sharing the CPU).
        align: Turn faces upright by their eye keypoints before classifying them (measured better end to end on
            the faces-in-frames benchmark; no effect with detectors that give no eyes).

    Raises:
        FileNotFoundError: if there is no artifacts directory (the message says how to make one).
        ValueError: if ``backend`` or ``detector`` is unknown or the backend's artifact is missing, or
            ``labels.txt`` is malformed.
    """

    def __init__(
        self,
        artifacts_dir: str | Path | None = None,
        backend: str = DEFAULT_BACKEND,
        detector: str | FaceDetector = DEFAULT_DETECTOR,
        num_threads: int | None = None,
        align: bool = True,
    ):
        self.artifacts_dir = resolve_artifacts(artifacts_dir or None)
        if not self.artifacts_dir.is_dir():
            raise FileNotFoundError(f"No artifacts directory at {self.artifacts_dir}; run fer-export first")
        self.class_names = read_labels(self.artifacts_dir)
        self.num_threads = num_threads
        self.align = align
        self._detectors: dict[str, FaceDetector] = {}
        self._predictors: dict[str, Predictor] = {}
        # TFLite interpreters are not thread-safe and Gradio serves requests on
        # several threads: one lock per backend serialises calls to it.
        self._locks = {name: threading.Lock() for name in BACKENDS}
        self._loading = threading.Lock()
        self.backend = self._check_backend(backend)
        self.detector = self.face_detector(detector)

    def available_backends(self) -> list[str]:
        """The backends whose artifact exists in ``artifacts_dir``, in the artifact table's order."""
        return available_backends(self.artifacts_dir)

    def _check_backend(self, name: str) -> str:
        name = check_backend(name)
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

    @property
    def detector_name(self) -> str:
        """The name of the current face detector (its class name for a detector without one)."""
        return self.detector.name

    def face_detector(self, detector: str | FaceDetector | None = None) -> FaceDetector:
        """The detector of that name (created once, then cached), the given detector object, or the current one.

        Raises:
            ValueError: on an unknown detector name.
            FileNotFoundError: if a DNN detector's model file is not installed.
        """
        if detector is None:
            return self.detector
        if not isinstance(detector, str):
            return detector
        name = check_detector(detector)
        with self._loading:
            if name not in self._detectors:
                # One thread by default: a server runs requests side by side, and the browser shares the CPU.
                self._detectors[name] = make_detector(name, num_threads=self.num_threads or 1)
            return self._detectors[name]

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
        self,
        image,
        backend: str | None = None,
        channel_order: str = "rgb",
        detector: str | FaceDetector | None = None,
    ) -> Analysis:
        """Find every face in ``image`` and classify all of them in one batch.

        Args:
            image: A file path, encoded bytes, a PIL image or a NumPy array (RGB, BGR or gray; see ``load_image``).
            backend: Use this backend instead of the current one.
            channel_order: ``"rgb"`` or ``"bgr"`` for 3-channel NumPy arrays.
            detector: Use this face detector (a name or a detector object) instead of the current one.

        Returns:
            An ``Analysis``; with no face, ``faces`` is empty and ``message`` says so.

        Raises:
            ImageInputError: if ``image`` cannot be used (the message says why).
            ValueError: on an unknown or missing backend, or an unknown detector.
        """
        self._check_backend(backend or self.backend)  # before the detector runs
        return self.classify_found([self.find_faces(image, channel_order, detector)], backend)[0]

    def classify_found(
        self, found: list[FoundFaces], backend: str | None = None, latest: dict[int, np.ndarray] | None = None
    ) -> list[Analysis]:
        """Classify the faces of several images (``find_faces``) in one batch.

        Each analysis's ``classify_ms`` is its share of the batch's time, by its number of faces classified.

        Args:
            found: The faces of each image, in frame order for a tracked stream.
            backend: Use this backend instead of the current one.
            latest: A tracked stream's latest probabilities per track id: a face marked ``reused`` takes them,
                and each face classified updates them (in order, so a face may reuse one of an earlier image).

        Returns:
            One ``Analysis`` per image, in order.

        Raises:
            ValueError: on an unknown or missing backend.
            KeyError: for a reused face whose track has no probabilities in ``latest``.
        """
        name = self._check_backend(backend or self.backend)
        start = time.perf_counter()
        crops = [faces for faces in found if len(faces.crops)]
        all_crops = np.concatenate([f.crops for f in crops]) if crops else np.zeros((0, *FACE_SHAPE), np.uint8)
        probs = self.classify_faces(all_crops, name) if len(all_crops) else np.zeros((0, len(self.class_names)))
        classify_ms = (time.perf_counter() - start) * 1000 + sum(f.crop_ms for f in found)
        analyses, offset = [], 0
        for faces in found:
            count = len(faces.crops)
            mine = probs[offset : offset + count]
            if faces.reused or latest is not None:
                mine = with_reused(faces, mine, latest if latest is not None else {})
            analyses.append(
                faces.analysis(
                    self.face_results(faces.detections, mine), name, classify_ms * count / max(len(all_crops), 1)
                )
            )
            offset += count
        return analyses

    def find_faces(self, image, channel_order: str = "rgb", detector: str | FaceDetector | None = None) -> FoundFaces:
        """The faces of one image, found and cut out (framed as FER2013, aligned) but not yet classified.

        Raises:
            ImageInputError: if ``image`` cannot be used.
            ValueError: on an unknown detector.
        """
        finder = self.face_detector(detector)
        return self.cut_out_faces(load_image(image, channel_order), finder.name, finder.detect)

    def cut_out_faces(
        self,
        rgb: np.ndarray,
        detector_name: str,
        detect: Callable[[np.ndarray], list[Detection]],
        select: Callable[[list[Detection]], list[bool]] | None = None,
    ) -> FoundFaces:
        """The faces ``detect`` finds in ``rgb``, cut out framed as ``detector_name``'s faces are (and aligned).

        Args:
            rgb: The decoded (H, W, 3) RGB image.
            detector_name: The detector whose calibrated framing applies (``face_crops.framing_for``).
            detect: Takes the image, returns its ``Detection``s (a detector's ``detect``, a tracker's ``update``).
            select: Takes the detections, says which to cut out and classify (the others are ``reused``);
                default: all.

        Returns:
            The ``FoundFaces``, not yet classified.
        """
        name = detector_name
        start = time.perf_counter()
        detections = detect(rgb)
        detected = time.perf_counter()
        chosen = select(detections) if select is not None else [True] * len(detections)
        to_cut = [d for d, cut in zip(detections, chosen) if cut]
        crops = (
            face_crops(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), to_cut, framing_for(name), self.align)
            if to_cut
            else np.zeros((0, *FACE_SHAPE), np.uint8)
        )
        reused = [not cut for cut in chosen] if select is not None else []
        return FoundFaces(
            rgb, name, detections, crops, (detected - start) * 1000, (time.perf_counter() - detected) * 1000, reused
        )

    def face_results(self, detections: list[Detection], probs: np.ndarray) -> list[FaceResult]:
        """``FaceResult``s of detections and their class probabilities (N, classes), in the same order; a tracked
        detection's ``track_id`` goes with it."""
        track_ids = [getattr(d, "track_id", None) for d in detections]
        return face_results([d.box.as_tuple() for d in detections], probs, self.class_names, track_ids)

    def stream(
        self,
        tracking: bool = True,
        detector: str | FaceDetector | None = None,
        full_every: int = FULL_EVERY,
        first_frame: int = 0,
        classify_every: int = CLASSIFY_EVERY,
    ) -> FaceStream:
        """A ``FaceStream`` for the frames of one video or webcam, in order.

        Args:
            tracking: Follow each face from frame to frame with an id, the full detector running every
                ``full_every`` frames and whenever a face is lost; False detects every frame, as ``analyze`` does.
            detector: The stream's face detector (a name or object; default: the current one).
            full_every: Frames between scheduled full detections (with tracking).
            first_frame: The number of the stream's first frame, for a part of a longer stream (see ``FaceTracker``).
            classify_every: With tracking, a face that barely moved is classified again every this many frames, and
                keeps its latest probabilities in between (1: every frame; ``tracking.ClassifySchedule``).

        Returns:
            The stream; give it frames with ``analyze`` or ``analyze_many``.

        Raises:
            ValueError: on an unknown detector, or ``full_every`` or ``classify_every`` below 1.
        """
        return FaceStream(self, tracking, detector, full_every, first_frame, classify_every)
