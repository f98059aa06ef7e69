"""The shipped models: ``fer-export`` directories under ``model_zoo/pretrained/<name>/``, found by name.

Each shipped model's folder holds its export (``model.keras``, the TFLite variants, ``labels.txt``, ...) and a
``shipped.json``: a one-line summary, the label mode it was trained on, its figures on FER2013's PublicTest and how
it was made. The table of shipped models is read from those folders, so a model is shipped by adding its folder.
Every tool that takes a model directory also takes a shipped model's name (``resolve_artifacts``); ``fer-models``
lists them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from model_zoo.artifacts import artifact_path
from model_zoo.constants import DEFAULT_LABEL_MODE, read_labels

SHIPPED_ROOT = Path(__file__).resolve().parent / "pretrained"
SHIPPED_FILE = "shipped.json"
CARD_FILE = "MODEL_CARD.md"  # the model card fer-pipeline writes and pushes with a model
DEFAULT_MODEL = "seed_cnn_ferplus"
PRETRAINED_DIR = SHIPPED_ROOT / DEFAULT_MODEL

HOW_TO_GET_ONE = (
    "Train one with `fer-train --preset ship --data PATH_TO_FER2013 --run-dir runs/ship`, export it with "
    "`fer-export runs/ship --out artifacts/ship`, and pass `--artifacts artifacts/ship`."
)


@dataclass(frozen=True)
class ShippedModel:
    """One shipped model: its name, folder and what its ``shipped.json`` and ``labels.txt`` say."""

    name: str
    path: Path
    summary: str
    labels: str  # the label mode it was trained on (model_zoo.constants.LABEL_MODES)
    class_names: tuple[str, ...]
    figures: dict[str, float] = field(default_factory=dict)  # e.g. accuracy on PublicTest, by label set
    made_by: str = ""  # the command or pipeline run that produced it

    @property
    def is_default(self) -> bool:
        return self.name == DEFAULT_MODEL


def shipped_models(root: Path | None = None) -> dict[str, ShippedModel]:
    """Every shipped model under ``root`` (default: ``SHIPPED_ROOT``), by name, the default first.

    A folder counts when it holds a ``model.keras`` and its name does not start with a dot; a missing or malformed
    ``shipped.json`` leaves the summary and figures empty rather than hiding the model.

    Raises:
        ValueError: if a shipped model's ``labels.txt`` is malformed (see ``read_labels``).
    """
    root = SHIPPED_ROOT if root is None else root
    models = {}
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        if folder.name.startswith(".") or not artifact_path(folder, "keras").is_file():
            continue  # hidden: a model being shipped (export.shipping stages it under a hidden name)
        try:
            info = json.loads((folder / SHIPPED_FILE).read_text())
        except (OSError, ValueError):
            info = {}
        class_names = read_labels(folder)
        models[folder.name] = ShippedModel(
            name=folder.name,
            path=folder,
            summary=str(info.get("summary", "")),
            labels=str(info.get("labels", DEFAULT_LABEL_MODE)),
            class_names=class_names,
            figures={str(k): float(v) for k, v in dict(info.get("figures", {})).items()},
            made_by=str(info.get("made_by", "")),
        )
    return dict(sorted(models.items(), key=lambda item: (not item[1].is_default, item[0])))


def resolve_artifacts(model: str | Path | None = None) -> Path:
    """The export directory that ``model`` names: a directory as given, a shipped model's name, or (None) the default.

    Raises:
        FileNotFoundError: if ``model`` is neither an existing path nor a shipped model's name (the message lists
            the names), or if no default model is installed (the message says how to make one).
    """
    if model is None:
        if not artifact_path(PRETRAINED_DIR, "keras").is_file():
            raise FileNotFoundError(f"No pretrained model is installed at {PRETRAINED_DIR}. {HOW_TO_GET_ONE}")
        return PRETRAINED_DIR
    path = Path(model)
    if path.exists():
        return path
    shipped = shipped_models()
    if str(model) in shipped:
        return shipped[str(model)].path
    names = ", ".join(shipped) or "none installed"
    raise FileNotFoundError(
        f"No fer-export output at {model}, and no shipped model of that name ({names}): run fer-export first, or "
        "fer-models to list the shipped models."
    )


def pretrained_artifacts_dir() -> Path:
    """The directory of the default shipped model's artifacts (model.keras, TFLite variants, ...).

    Raises:
        FileNotFoundError: if this installation ships no pretrained model; the message says how to make one.
    """
    return resolve_artifacts(None)
