"""The classes and the labels of an export: its ``labels.txt``, and the label mode its ``metadata.json`` records.

An export's ``labels.txt`` names the model's classes in output order (7 FER2013 emotions, or 8 with FER+'s
contempt). ``metadata.json``'s ``labels`` is the label mode (a key of ``model_zoo.constants.LABEL_MODES``) of the
faces its parity gate measured: the labels the model was trained on. A tool that scores an export on data
(``fer-bench``) loads the data with that label mode, so that a label is the index of the model's class of that
name. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from model_zoo.constants import LABEL_MODES, LABELS_FILE, label_mode_class_names, read_labels

METADATA_FILE = "metadata.json"


def label_mode_of(
    class_names: Sequence[str], labels: str | None = None, training_config: Mapping[str, Any] | None = None
) -> str:
    """The label mode of a model with ``class_names``: the one given, the training's, or the only one with them.

    Args:
        class_names: The model's classes, in output order.
        labels: The label mode asked for (None: decide).
        training_config: The training run's ``config.json``; its ``labels`` is the mode when ``labels`` is None.

    Returns:
        A key of ``LABEL_MODES`` whose classes are ``class_names``, in that order.

    Raises:
        ValueError: on an unknown label mode, a mode whose classes are not the model's, or no mode given for
            classes that more than one mode has (8: ``ferplus-majority`` and ``ferplus-soft``).
    """
    names = tuple(class_names)
    mode = labels or (training_config or {}).get("labels")
    if mode is None:
        modes = [m for m, classes in LABEL_MODES.items() if classes == names]
        if len(modes) != 1:
            raise ValueError(
                f"Which labels does the model with classes {list(names)} answer? "
                + (f"Pass them: {' or '.join(modes)}." if modes else "No label mode has these classes.")
            )
        mode = modes[0]
    if label_mode_class_names(mode) != names:
        raise ValueError(
            f"Labels {mode!r} have the classes {list(label_mode_class_names(mode))}, the model "
            f"{list(names)}: score it on the labels it was trained on"
        )
    return mode


def export_label_mode(directory: str | Path, labels: str | None = None) -> str:
    """The label mode an export's model was trained on (``labels`` checked against its classes when given).

    Args:
        directory: A ``fer-export`` output directory (or a pushed version).
        labels: A label mode to use instead of the one the export records.

    Returns:
        ``labels``, else ``metadata.json``'s ``labels``, else the only label mode with the classes of its
        ``labels.txt`` (exports made before the label mode was recorded: ``fer2013`` for 7 classes).

    Raises:
        ValueError: if the mode's classes are not those of ``labels.txt``, or no single mode has them and the
            export records none.
    """
    path = Path(directory) / METADATA_FILE
    recorded = json.loads(path.read_text()).get("labels") if path.is_file() else None
    try:
        return label_mode_of(read_labels(directory), labels or recorded)
    except ValueError as e:
        raise ValueError(f"{directory} ({LABELS_FILE}, {METADATA_FILE}): {e}") from None
