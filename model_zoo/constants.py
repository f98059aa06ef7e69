"""Facts every part of the project shares: the seven classes and the face size. No TensorFlow here.

FER2013's labels are 0-6 in this order; every model of the zoo outputs the probabilities of these
classes in this order, and every export writes them, one per line, to ``labels.txt``.
"""

from __future__ import annotations

from pathlib import Path

CLASS_NAMES: tuple[str, ...] = ("Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral")
NUM_CLASSES = len(CLASS_NAMES)
FACE_SIZE = 48  # FER2013 faces are 48x48 gray pixels
FACE_SHAPE = (FACE_SIZE, FACE_SIZE, 1)  # (height, width, channels) of one face
LABELS_FILE = "labels.txt"


def write_labels(directory: str | Path, class_names: tuple[str, ...] = CLASS_NAMES) -> Path:
    """Write ``labels.txt`` (one class name per line, in output order) into ``directory``; return its path."""
    path = Path(directory) / LABELS_FILE
    path.write_text("\n".join(class_names) + "\n")
    return path


def read_labels(directory: str | Path) -> tuple[str, ...]:
    """The class names of an export, from its ``labels.txt``.

    Args:
        directory: A ``fer-export`` output directory.

    Returns:
        The names in output order; ``CLASS_NAMES`` when the directory has no ``labels.txt``
        (an export made by hand, say).

    Raises:
        ValueError: if ``labels.txt`` is empty or repeats a name.
    """
    path = Path(directory) / LABELS_FILE
    if not path.is_file():
        return CLASS_NAMES
    names = tuple(line.strip() for line in path.read_text().splitlines() if line.strip())
    if not names or len(set(names)) != len(names):
        raise ValueError(f"{path} must hold one distinct class name per line; it holds {list(names)}")
    return names
