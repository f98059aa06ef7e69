"""Generated FER2013 data in every supported format, for tests."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import cv2
import numpy as np

CLASS_NAMES = ("Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral")
USAGES = {"train": "Training", "validation": "PublicTest", "test": "PrivateTest"}
ROOT = Path(__file__).resolve().parents[1]  # the project's root, for tests that run its commands


def make_examples(counts: dict[str, int], seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Random 48x48 gray faces per split; each class gets its own brightness pattern so a model can learn."""
    rng = np.random.default_rng(seed)
    out = {}
    for split, n in counts.items():
        labels = np.arange(n) % 7
        rng.shuffle(labels)
        base = (labels[:, None, None] * 30 + 20).astype(np.float64)
        images = np.clip(base + rng.normal(0, 20, (n, 48, 48)), 0, 255).astype(np.uint8)
        out[split] = (images, labels)
    return out


def write_csv(path: Path, examples, variant: str = "fer2013", extra_rows: list[list[str]] | None = None) -> Path:
    """Write ``examples`` as fer2013.csv (``variant='fer2013'``) or icml_face_data.csv (``'icml'``); gzip if .gz."""
    path.parent.mkdir(parents=True, exist_ok=True)
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "wt", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["emotion", "pixels", "Usage"] if variant == "fer2013" else ["emotion", " Usage", " pixels"])
        for split, (images, labels) in examples.items():
            for image, label in zip(images, labels):
                pixels = " ".join(map(str, image.reshape(-1)))
                row = [label, pixels, USAGES[split]] if variant == "fer2013" else [label, USAGES[split], pixels]
                writer.writerow(row)
        for row in extra_rows or []:
            writer.writerow(row)
    return path


def write_image_folders(root: Path, examples, folder_names: dict[str, str] | None = None, upper: bool = True) -> Path:
    """Write ``examples`` as ``<split folder>/<class>/<i>.png`` (class folders upper-cased if ``upper``)."""
    folder_names = folder_names or {"train": "train", "validation": "val", "test": "test"}
    for split, (images, labels) in examples.items():
        for i, (image, label) in enumerate(zip(images, labels)):
            name = CLASS_NAMES[label].upper() if upper else CLASS_NAMES[label].lower()
            d = root / folder_names[split] / name
            d.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(d / f"{i:05d}.{'jpg' if i % 2 else 'png'}"), image)
    return root
