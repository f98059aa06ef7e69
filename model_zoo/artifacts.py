"""The one table of exported artifacts: backend name, file inside a ``fer-export`` directory, kind.

Every tool names an artifact by its backend name (``tflite-int8``, ...): the exporter writes the
files this table names, the parity gate reports by backend, the recognizer and the demo offer the
backends whose files exist, the benchmark measures them and ``fer-eval`` reports which one ran.
No TensorFlow here: TFLite-only processes read it too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SERVING_SIGNATURE = "serving_default"  # SavedModel: uint8 images, any size, 1 or 3 channels
FACES_SIGNATURE = "faces_48x48"  # SavedModel: uint8 (N, 48, 48, 1) faces; what TFLite is converted from
OUTPUT_KEY = "probabilities"


@dataclass(frozen=True)
class Artifact:
    """One way of running the exported model.

    Attributes:
        backend: The name every tool uses for it.
        file: Its file (or directory) inside a ``fer-export`` output directory.
        kind: ``keras`` (a ``.keras`` file run with ``predict_on_batch``), ``keras-eager``
            (the same file called eagerly, as tutorials do), ``saved_model`` or ``tflite``.
        parity: What the parity gate holds it to: ``reference`` (the model the others are
            compared with), ``float``, ``float16`` or ``int8`` (see ``export.parity``).
        tflite_variant: For TFLite, the converter setting that makes it
            (``float32``, ``float16``, ``dynamic`` or ``int8``).
        description: What it is, for help texts.
    """

    backend: str
    file: str
    kind: str
    parity: str
    tflite_variant: str | None = None
    description: str = ""


ARTIFACTS: tuple[Artifact, ...] = (
    Artifact("keras", "model.keras", "keras", "reference", description="Keras model, compiled predict_on_batch"),
    Artifact("keras-eager", "model.keras", "keras-eager", "reference", description="Keras model called eagerly"),
    Artifact("saved_model", "saved_model", "saved_model", "float", description="TensorFlow SavedModel"),
    Artifact("tflite-fp32", "model_float32.tflite", "tflite", "float", "float32", "TFLite float32"),
    Artifact("tflite-fp16", "model_float16.tflite", "tflite", "float16", "float16", "TFLite float16 weights"),
    Artifact("tflite-dynamic", "model_dynamic.tflite", "tflite", "int8", "dynamic", "TFLite dynamic-range int8"),
    Artifact("tflite-int8", "model_int8.tflite", "tflite", "int8", "int8", "TFLite full integer, uint8 in and out"),
)
BACKENDS: tuple[str, ...] = tuple(a.backend for a in ARTIFACTS)
DEFAULT_BACKEND = "tflite-int8"
TFLITE_ARTIFACTS: tuple[Artifact, ...] = tuple(a for a in ARTIFACTS if a.kind == "tflite")
TFLITE_VARIANTS: tuple[str, ...] = tuple(a.tflite_variant for a in TFLITE_ARTIFACTS)  # type: ignore[misc]

_BY_BACKEND = {a.backend: a for a in ARTIFACTS}


def check_backend(name: str) -> str:
    """``name`` if it is a backend of the artifact table.

    Raises:
        ValueError: on any other name, listing the backends.
    """
    if name not in _BY_BACKEND:
        raise ValueError(f"Unknown backend {name!r}; choose from {', '.join(BACKENDS)}")
    return name


def artifact(backend: str) -> Artifact:
    """The table entry of ``backend``.

    Raises:
        ValueError: on an unknown backend.
    """
    return _BY_BACKEND[check_backend(backend)]


SAVED_MODEL_PB = "saved_model.pb"
MANIFEST_FILE = "manifest.json"  # fer-export's list of its files (size and sha256), in the export's layout


def artifact_path(artifacts_dir: str | Path, backend: str) -> Path:
    """Where ``backend``'s file lies inside the export directory ``artifacts_dir``.

    A pushed version (TensorFlow Serving's layout: ``<version>/saved_model.pb``) holds its SavedModel at its
    root; there the SavedModel is the directory itself.

    Raises:
        ValueError: on an unknown backend.
    """
    entry = artifact(backend)
    path = Path(artifacts_dir) / entry.file
    if entry.kind == "saved_model" and not path.exists() and (Path(artifacts_dir) / SAVED_MODEL_PB).is_file():
        return Path(artifacts_dir)
    return path


def tflite_artifact(variant: str) -> Artifact:
    """The TFLite artifact made with converter setting ``variant`` (``float32``, ``float16``, ``dynamic``, ``int8``).

    Raises:
        ValueError: on an unknown variant.
    """
    for a in TFLITE_ARTIFACTS:
        if a.tflite_variant == variant:
            return a
    raise ValueError(f"Unknown TFLite variant {variant!r}; choose from {', '.join(TFLITE_VARIANTS)}")


def available_backends(artifacts_dir: str | Path) -> list[str]:
    """The backends whose file exists in ``artifacts_dir``, in table order."""
    return [a.backend for a in ARTIFACTS if artifact_path(artifacts_dir, a.backend).exists()]
