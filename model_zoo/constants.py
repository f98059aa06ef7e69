"""Facts every part of the project shares: the classes, the label modes and the face size. No TensorFlow here.

FER2013's labels are 0-6 in the order of ``CLASS_NAMES``. FER+ (Microsoft's crowd-sourced relabelling of
the same faces) adds an eighth emotion, contempt, after them: ``FERPLUS_CLASS_NAMES``. A model outputs
the probabilities of its label mode's classes in this order, and every run and export writes them, one per
line, to ``labels.txt``.
"""

from __future__ import annotations

from pathlib import Path

CLASS_NAMES: tuple[str, ...] = ("Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral")
NUM_CLASSES = len(CLASS_NAMES)
FERPLUS_CLASS_NAMES: tuple[str, ...] = (*CLASS_NAMES, "Contempt")
# The labels a model can be trained on, and the classes each gives it:
#   fer2013           FER2013's own label of each face (7 classes)
#   ferplus-majority  the FER+ emotion that more than half of the taggers chose (8 classes)
#   ferplus-soft      the FER+ vote distribution over at most 3 emotions, as a soft target (8 classes)
LABEL_MODES: dict[str, tuple[str, ...]] = {
    "fer2013": CLASS_NAMES,
    "ferplus-majority": FERPLUS_CLASS_NAMES,
    "ferplus-soft": FERPLUS_CLASS_NAMES,
}
DEFAULT_LABEL_MODE = "fer2013"
SOFT_LABEL_MODES = frozenset({"ferplus-soft"})  # modes whose training target is a distribution, not a class
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


def label_mode_class_names(label_mode: str) -> tuple[str, ...]:
    """The classes, in output order, of a model trained on ``label_mode`` (a key of ``LABEL_MODES``).

    Raises:
        ValueError: on an unknown label mode; the message lists the known ones.
    """
    try:
        return LABEL_MODES[label_mode]
    except KeyError:
        raise ValueError(f"Unknown label mode {label_mode!r}; choose one of {', '.join(LABEL_MODES)}") from None


def class_names_for_width(num_outputs: int) -> tuple[str, ...]:
    """The classes of a model that outputs ``num_outputs`` probabilities, when nothing names them (no ``labels.txt``).

    Args:
        num_outputs: The width of the model's output.

    Returns:
        The classes of the label modes with that many: 7 are FER2013's, 8 FER+'s.

    Raises:
        ValueError: if no label mode has ``num_outputs`` classes.
    """
    by_count = {len(names): names for names in LABEL_MODES.values()}
    if num_outputs not in by_count:
        raise ValueError(
            f"A model with {num_outputs} outputs has no known classes (a label mode has "
            f"{' or '.join(str(n) for n in sorted(by_count))}): write its {LABELS_FILE}, one class name per line"
        )
    return by_count[num_outputs]
