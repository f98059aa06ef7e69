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


# --- FER+ vote files -------------------------------------------------------------------------------------

FERPLUS_HEADER = [
    "Usage",
    "Image name",
    "neutral",
    "happiness",
    "surprise",
    "sadness",
    "anger",
    "disgust",
    "fear",
    "contempt",
    "unknown",
    "NF",
]
# The FER+ vote column (0 neutral ... 7 contempt, 8 unknown, 9 NF) of each FER2013 class 0 Angry ... 6 Neutral.
FERPLUS_COLUMN_OF_CLASS = (4, 5, 6, 1, 3, 2, 0)
CONTEMPT, UNKNOWN, NOT_A_FACE = 7, 8, 9
# What row i of a generated FER+ file holds, by ``i % len(FERPLUS_KINDS)``:
#   majority     6 votes for the face's FER2013 class, 3 for the next class, 1 single vote (dropped): a
#                majority (6 of 9), and the soft target 2/3, 1/3
#   split        5 for its class, 3 for the next, 2 for the one after: no majority (5 of 10), the soft
#                target 5/8, 3/8 (75 % reached after two emotions)
#   removed      an empty image name (a face the FER+ authors removed), NF 10
#   no-majority  3, 3, 2, 2 over four emotions: neither a majority nor a soft target (4 ties past 75 %)
#   contempt     8 votes for contempt, 2 for its class: contempt either way
#   not-a-face   8 votes for NF, 2 for its class: left out as not a face
FERPLUS_KINDS = (
    "majority",
    "split",
    "removed",
    "majority",
    "no-majority",
    "majority",
    "contempt",
    "not-a-face",
    "split",
    "majority",
)


def ferplus_vote_counts(kind: str, label: int) -> list[int]:
    """The ten FER+ vote counts of one generated face of FER2013 class ``label`` (see ``FERPLUS_KINDS``)."""
    own, second, third = (FERPLUS_COLUMN_OF_CLASS[(label + k) % 7] for k in range(3))
    fourth = FERPLUS_COLUMN_OF_CLASS[(label + 3) % 7]
    counts = [0] * 10
    if kind == "majority":
        counts[own], counts[second], counts[third] = 6, 3, 1
    elif kind == "split":
        counts[own], counts[second], counts[third] = 5, 3, 2
    elif kind == "removed":
        counts[NOT_A_FACE] = 10
    elif kind == "no-majority":
        counts[own], counts[second], counts[third], counts[fourth] = 3, 3, 2, 2
    elif kind == "contempt":
        counts[CONTEMPT], counts[own] = 8, 2
    elif kind == "not-a-face":
        counts[NOT_A_FACE], counts[own] = 8, 2
    else:
        raise ValueError(f"unknown kind {kind!r}; one of {FERPLUS_KINDS}")
    return counts


def ferplus_rows(examples) -> list[tuple[str, str, int]]:
    """``(split, kind, FER2013 label)`` of every row that ``write_csv(examples)`` writes, in its order."""
    rows = []
    for split, (_, labels) in examples.items():
        for label in labels:
            rows.append((split, FERPLUS_KINDS[len(rows) % len(FERPLUS_KINDS)], int(label)))
    return rows


def write_ferplus_csv(path: Path, examples, usages: dict[str, str] | None = None) -> Path:
    """Write the FER+ vote file (``fer2013new.csv``) that labels ``write_csv(path, examples)`` row by row.

    Row i holds the votes of kind ``FERPLUS_KINDS[i % 10]`` around its face's FER2013 label
    (``ferplus_rows`` lists them); ``usages`` maps a split to the Usage written (default ``USAGES``).
    """
    usages = usages or USAGES
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(FERPLUS_HEADER)
        for i, (split, kind, label) in enumerate(ferplus_rows(examples)):
            name = "" if kind == "removed" else f"fer{i:07d}.png"
            writer.writerow([usages[split], name, *ferplus_vote_counts(kind, label)])
    return path
