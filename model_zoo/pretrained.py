"""Where the shipped, pretrained model lives: the ``fer-export`` output of the seed CNN trained on FER2013."""

from __future__ import annotations

from pathlib import Path

from model_zoo.artifacts import artifact_path

PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained" / "seed_cnn_fer2013"

HOW_TO_GET_ONE = (
    "Train one with `fer-train --preset ship --data PATH_TO_FER2013 --run-dir runs/ship`, export it with "
    "`fer-export runs/ship --out artifacts/ship`, and pass `--artifacts artifacts/ship`."
)


def pretrained_artifacts_dir() -> Path:
    """The directory of the shipped artifacts (model.keras, TFLite variants, ...).

    Raises:
        FileNotFoundError: if this installation ships no pretrained model; the message says how to make one.
    """
    if not artifact_path(PRETRAINED_DIR, "keras").is_file():
        raise FileNotFoundError(f"No pretrained model is installed at {PRETRAINED_DIR}. {HOW_TO_GET_ONE}")
    return PRETRAINED_DIR
