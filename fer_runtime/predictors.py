"""One interface for running any artifact of the project on uint8 images.

``load_backend(artifacts_dir, backend)`` runs one entry of the artifact table
(``model_zoo.artifacts``); ``load_predictor(path)`` picks the kind from the path: a
``.keras`` file, a SavedModel directory or a ``.tflite`` file. Every predictor maps a
uint8 batch (N, H, W, C) to (N, classes) probabilities, and its ``name`` is the backend
name of the table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from model_zoo.artifacts import SERVING_SIGNATURE, TFLITE_ARTIFACTS, artifact, artifact_path


class Predictor(Protocol):
    """Something that turns uint8 images (N, H, W, C) into class probabilities (N, K); K is ``num_classes``."""

    name: str
    num_classes: int

    def predict(self, images: np.ndarray) -> np.ndarray: ...


class KerasPredictor:
    """A ``.keras`` model run with ``predict_on_batch`` (a compiled graph), or called eagerly.

    Args:
        path_or_model: A ``.keras`` file or a loaded Keras model.
        eager: Call the model directly (``model(x, training=False)``), as tutorials do: the
            ``keras-eager`` backend, slower; else ``predict_on_batch``: the ``keras`` backend.
    """

    def __init__(self, path_or_model, eager: bool = False):
        import keras

        from model_zoo.loading import load_model

        self.model = path_or_model if isinstance(path_or_model, keras.Model) else load_model(path_or_model)
        self.eager = eager
        self.name = "keras-eager" if eager else "keras"
        self.num_classes = int(self.model.output_shape[-1])

    def predict(self, images: np.ndarray) -> np.ndarray:
        batch = _as_uint8_batch(images)
        if self.eager:
            return np.asarray(self.model(batch, training=False))
        return np.asarray(self.model.predict_on_batch(batch))


class SavedModelPredictor:
    """A SavedModel's ``serving_default`` signature (uint8 images of any size, 1 or 3 channels)."""

    def __init__(self, path: str | Path, signature: str = SERVING_SIGNATURE):
        import tensorflow as tf

        self._tf = tf
        self.loaded = tf.saved_model.load(str(path))
        if signature not in self.loaded.signatures:
            raise ValueError(f"{path} has no {signature!r} signature (it has {list(self.loaded.signatures)})")
        self.fn = self.loaded.signatures[signature]
        self.input_name = next(iter(self.fn.structured_input_signature[1]))
        self.name = "saved_model"
        self.num_classes = int(next(iter(self.fn.structured_outputs.values())).shape[-1])

    def predict(self, images: np.ndarray) -> np.ndarray:
        outputs = self.fn(**{self.input_name: self._tf.constant(_as_uint8_batch(images))})
        return next(iter(outputs.values())).numpy()


class TFLitePredictor:
    """A ``.tflite`` model run through the project's TFLite loader (LiteRT first).

    The TFLite models take (N, 48, 48, 1) uint8 faces; other sizes and RGB are
    converted to that here (gray, area resize) so every predictor takes the same input.
    """

    def __init__(self, path: str | Path, num_threads: int | None = None, name: str | None = None):
        from fer_runtime.tflite_runtime import load_tflite_interpreter

        self.interpreter, self.runtime = load_tflite_interpreter(path, num_threads=num_threads)
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]
        self.face_shape = tuple(int(d) for d in self.input["shape"][1:])
        self.name = name or _tflite_backend_name(Path(path))
        self.num_classes = int(self.output["shape"][-1])
        self._batch = int(self.input["shape"][0])

    def predict(self, images: np.ndarray) -> np.ndarray:
        faces = _to_faces(_as_uint8_batch(images), self.face_shape)
        if len(faces) != self._batch:
            self.interpreter.resize_tensor_input(self.input["index"], [len(faces), *self.face_shape])
            self.interpreter.allocate_tensors()
            self.input = self.interpreter.get_input_details()[0]
            self.output = self.interpreter.get_output_details()[0]
            self._batch = len(faces)
        self.interpreter.set_tensor(self.input["index"], _quantize(faces, self.input))
        self.interpreter.invoke()
        return _dequantize(self.interpreter.get_tensor(self.output["index"]), self.output)


def load_backend(artifacts_dir: str | Path, backend: str, num_threads: int | None = None) -> Predictor:
    """A predictor for ``backend`` (a name of ``model_zoo.artifacts.BACKENDS``) of the export in ``artifacts_dir``.

    Args:
        artifacts_dir: A ``fer-export`` output directory.
        backend: The backend to run (older names accepted).
        num_threads: Threads for TFLite interpreters (ignored by the others).

    Raises:
        ValueError: on an unknown backend.
        FileNotFoundError: if the export lacks that backend's file.
    """
    entry = artifact(backend)
    path = artifact_path(artifacts_dir, entry.backend)
    if not path.exists():
        raise FileNotFoundError(f"Backend {entry.backend!r} needs {path}, which is missing; run fer-export first")
    if entry.kind in ("keras", "keras-eager"):
        return KerasPredictor(path, eager=entry.kind == "keras-eager")
    if entry.kind == "saved_model":
        return SavedModelPredictor(path)
    return TFLitePredictor(path, num_threads=num_threads, name=entry.backend)


def load_predictor(path: str | Path, num_threads: int | None = None) -> Predictor:
    """A predictor for the artifact at ``path``: a ``.keras`` file, a SavedModel directory or a ``.tflite`` file.

    Args:
        path: The artifact.
        num_threads: Threads for TFLite interpreters (ignored by the others).

    Raises:
        FileNotFoundError: if nothing is at ``path``.
        ValueError: if ``path`` is none of the supported artifacts.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No model at {path}")
    if path.suffix == ".keras":
        return KerasPredictor(path)
    if path.suffix == ".tflite":
        return TFLitePredictor(path, num_threads=num_threads)
    if path.is_dir() and (path / "saved_model.pb").exists():
        return SavedModelPredictor(path)
    raise ValueError(
        f"{path} is not a model this project can run: expected a .keras file, a SavedModel directory "
        "(holding saved_model.pb) or a .tflite file"
    )


def predict_in_batches(predictor: Predictor, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Run ``predictor`` over ``images`` in chunks of ``batch_size`` and stack the probabilities.

    Args:
        predictor: Any predictor of this module.
        images: uint8 (N, H, W, C) images.
        batch_size: Images per call of the predictor.

    Returns:
        (N, ``predictor.num_classes``) float32 probabilities; (0, ``num_classes``) for no image.
    """
    outputs = [predictor.predict(images[i : i + batch_size]) for i in range(0, len(images), batch_size)]
    return np.concatenate(outputs) if outputs else np.zeros((0, predictor.num_classes), np.float32)


def _tflite_backend_name(path: Path) -> str:
    # A file named as the table names it gets that backend's name; any other .tflite file its stem.
    return next((a.backend for a in TFLITE_ARTIFACTS if a.file == path.name), f"tflite:{path.stem}")


def _as_uint8_batch(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise ValueError(f"Predictors take uint8 images, got {images.dtype}")
    if images.ndim == 3:  # one image, or a batch of gray images without a channel axis
        images = images[..., None] if images.shape[-1] not in (1, 3) else images[None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"Predictors take (N, H, W, 1 or 3) uint8 images, got shape {images.shape}")
    return images


def _to_faces(images: np.ndarray, face_shape: tuple[int, int, int]) -> np.ndarray:
    height, width, channels = face_shape
    if images.shape[1:] == face_shape:
        return images
    import cv2

    faces = []
    for image in images:
        if channels == 1 and image.shape[-1] == 3:
            image = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
        faces.append(image.reshape(height, width, -1))
    return np.stack(faces)


def _quantize(faces: np.ndarray, detail: dict) -> np.ndarray:
    scale, zero_point = detail["quantization"]
    if detail["dtype"] == np.float32:
        return faces.astype(np.float32)
    if scale:  # a quantized input: real value = scale * (q - zero_point)
        q = np.round(faces.astype(np.float32) / scale + zero_point)
        info = np.iinfo(detail["dtype"])
        return np.clip(q, info.min, info.max).astype(detail["dtype"])
    return faces.astype(detail["dtype"])


def _dequantize(values: np.ndarray, detail: dict) -> np.ndarray:
    scale, zero_point = detail["quantization"]
    if scale:
        return (values.astype(np.float32) - zero_point) * scale
    return values.astype(np.float32)
