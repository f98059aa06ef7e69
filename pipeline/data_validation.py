"""Validating a prepared FER2013 before training: statistics, a schema, anomalies, and a report.

``split_statistics`` counts each split's faces per class, their pixel statistics, constant (blank) images, and
exact duplicates by content hash, within a split and across splits (with the labels the copies carry).
``find_anomalies`` checks those statistics against ``Schema`` (classes, shape, value range, limits) and, when
given, the statistics of the last pushed run (a class whose share moved more than ``max_share_shift``).
``write_report`` writes both as JSON and markdown. The training pipeline stops on an anomaly of severity
``error`` unless told to go on.

The classes are those of the data's label mode (``model_zoo.constants.LABEL_MODES``): FER2013's seven, or eight
with FER+ labels. The statistics record the mode and its classes; statistics of another mode are not compared
for drift (their shares count other labels).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from model_zoo.constants import CLASS_NAMES, DEFAULT_LABEL_MODE, FACE_SHAPE, label_mode_class_names


@dataclass(frozen=True)
class Schema:
    """What a FER2013 preparation must look like, and the limits past which something is wrong.

    Args:
        classes: The class names, in label order (``Schema.for_labels`` gives a label mode's).
        shape: The shape of one face.
        min_faces: Fewest faces a split may have.
        max_constant_share: Largest share of constant (blank) images in a split.
        max_cross_split_duplicate_share: Largest share of a split's faces also found in another split.
        max_share_shift: Largest change of a class's share against the previous run's statistics.
    """

    classes: tuple[str, ...] = CLASS_NAMES
    shape: tuple[int, ...] = FACE_SHAPE
    min_faces: int = 1
    max_constant_share: float = 0.01
    # FER2013 itself: 270 of PublicTest's 3,589 faces (7.5 %) are also in Training (10 with another label).
    max_cross_split_duplicate_share: float = 0.10
    max_share_shift: float = 0.05

    @classmethod
    def for_labels(cls, labels: str, **limits: float) -> Schema:
        """The schema of data labelled by the label mode ``labels``, with ``limits`` (the other fields).

        Raises:
            ValueError: on an unknown label mode.
        """
        return cls(classes=label_mode_class_names(labels), **limits)


@dataclass(frozen=True)
class Anomaly:
    """One finding: its ``kind``, the ``split`` concerned, a sentence saying what and how much, and a severity
    (``error`` stops a pipeline; ``warning`` is reported)."""

    kind: str
    split: str
    detail: str
    severity: str = "error"


@dataclass
class SplitStatistics:
    faces: int
    class_counts: dict[str, int]
    class_shares: dict[str, float]
    pixel_mean: float
    pixel_std: float
    pixel_min: int
    pixel_max: int
    constant_images: int
    duplicates_within: int  # faces that repeat an earlier face of the same split
    conflicting_labels_within: int  # of those, copies whose label differs
    shape: list[int] = field(default_factory=list)
    dtype: str = ""


def image_hashes(images: np.ndarray) -> list[str]:
    """A content hash per image (BLAKE2b of its bytes): equal hashes, equal pixels."""
    return [hashlib.blake2b(np.ascontiguousarray(image).tobytes(), digest_size=16).hexdigest() for image in images]


def split_statistics(
    splits: dict[str, tuple[np.ndarray, np.ndarray]],
    class_names: tuple[str, ...] | None = None,
    labels: str = DEFAULT_LABEL_MODE,
) -> dict:
    """Statistics of every split and the duplicates between splits.

    Args:
        splits: Split name -> (images (N, H, W, C) uint8, labels (N,)).
        class_names: Names of the labels 0..K-1 (None: those of ``labels``).
        labels: The label mode of the labels (a key of ``LABEL_MODES``).

    Returns:
        ``{"labels": the label mode, "classes": the class names, "splits": {name: SplitStatistics as a dict},
        "cross_split_duplicates": {"a|b": {"faces", "conflicting_labels"}}, "fingerprint": a hash of every split's
        hashes and labels}``.

    Raises:
        ValueError: on an unknown label mode.
    """
    class_names = tuple(class_names) if class_names is not None else label_mode_class_names(labels)
    stats, hashes = {}, {}
    fingerprint = hashlib.blake2b(digest_size=16)
    for name, (images, split_labels) in sorted(splits.items()):
        split_labels = np.asarray(split_labels).astype(int)
        split_hashes = image_hashes(images)
        hashes[name] = dict(zip(split_hashes, split_labels))
        fingerprint.update(name.encode() + "".join(split_hashes).encode() + split_labels.tobytes())
        counts = Counter(split_labels.tolist())
        first_label: dict[str, int] = {}
        duplicates = conflicts = 0
        for h, label in zip(split_hashes, split_labels):
            if h in first_label:
                duplicates += 1
                conflicts += first_label[h] != label
            else:
                first_label[h] = label
        flat = images.reshape(len(images), -1) if len(images) else np.zeros((0, 1), np.uint8)
        per_image_std = flat.std(axis=1) if len(flat) else np.zeros(0)
        n = len(images)
        stats[name] = asdict(
            SplitStatistics(
                faces=n,
                class_counts={c: counts.get(i, 0) for i, c in enumerate(class_names)},
                class_shares={c: round(counts.get(i, 0) / n, 6) if n else 0.0 for i, c in enumerate(class_names)},
                pixel_mean=round(float(flat.mean()), 4) if n else 0.0,
                pixel_std=round(float(flat.std()), 4) if n else 0.0,
                pixel_min=int(flat.min()) if n else 0,
                pixel_max=int(flat.max()) if n else 0,
                constant_images=int((per_image_std == 0).sum()),
                duplicates_within=duplicates,
                conflicting_labels_within=int(conflicts),
                shape=list(images.shape[1:]),
                dtype=str(images.dtype),
            )
        )
        stats[name]["unknown_labels"] = sorted(int(k) for k in counts if not 0 <= k < len(class_names))
    cross = {}
    names = sorted(hashes)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            shared = hashes[a].keys() & hashes[b].keys()
            conflicting = sum(hashes[a][h] != hashes[b][h] for h in shared)
            cross[f"{a}|{b}"] = {"faces": len(shared), "conflicting_labels": int(conflicting)}
    return {
        "labels": labels,
        "classes": list(class_names),
        "splits": stats,
        "cross_split_duplicates": cross,
        "fingerprint": fingerprint.hexdigest(),
    }


def find_anomalies(statistics: dict, schema: Schema = Schema(), previous: dict | None = None) -> list[Anomaly]:
    """What in ``statistics`` breaks ``schema``, or moved too far from ``previous`` (the last pushed run's).

    Args:
        statistics: ``split_statistics``' result.
        schema: What the data must look like; its classes must be those the statistics counted.
        previous: The statistics of the last pushed run; class shares are compared only when they have the same
            label mode (statistics without one are of FER2013's labels).

    Returns:
        The anomalies, errors first.
    """
    found: list[Anomaly] = []
    counted = statistics.get("classes")
    if counted is not None and tuple(counted) != tuple(schema.classes):
        detail = f"the data have the classes {counted}, the schema {list(schema.classes)}"
        found.append(Anomaly("classes", "all", detail))
    labels = statistics.get("labels", DEFAULT_LABEL_MODE)
    before = (previous or {}).get("labels", DEFAULT_LABEL_MODE)
    if previous and before != labels:
        detail = f"the previous run's faces were labelled {before}, these {labels}: class shares not compared"
        found.append(Anomaly("labels_changed", "all", detail, "warning"))
        previous = None
    for name, s in statistics["splits"].items():
        if s["faces"] < schema.min_faces:
            found.append(Anomaly("too_few_faces", name, f"{s['faces']} faces, fewer than {schema.min_faces}"))
        if s["faces"] and tuple(s["shape"]) != tuple(schema.shape):
            found.append(Anomaly("shape", name, f"faces are {s['shape']}, the schema says {list(schema.shape)}"))
        if s["faces"] and s["dtype"] != "uint8":
            found.append(Anomaly("dtype", name, f"pixels are {s['dtype']}, not uint8"))
        if s["unknown_labels"]:
            found.append(Anomaly("unknown_labels", name, f"labels {s['unknown_labels']} name no class"))
        missing = [c for c in schema.classes if s["class_counts"].get(c, 0) == 0]
        if s["faces"] and missing:
            found.append(Anomaly("missing_classes", name, f"no face of {', '.join(missing)}", "warning"))
        blank = f"{s['constant_images']} blank image{'' if s['constant_images'] == 1 else 's'}"
        if s["faces"] and s["constant_images"] / s["faces"] > schema.max_constant_share:
            share = s["constant_images"] / s["faces"]
            found.append(Anomaly("constant_images", name, f"{blank} ({share:.1%})"))
        elif s["constant_images"]:
            found.append(Anomaly("constant_images", name, blank, "warning"))
        if s["conflicting_labels_within"]:
            n = s["conflicting_labels_within"]
            detail = f"{n} repeated face{' carries' if n == 1 else 's carry'} another label than its first copy"
            found.append(Anomaly("conflicting_labels", name, detail, "warning"))
        if s["duplicates_within"]:
            found.append(
                Anomaly("duplicates", name, f"{s['duplicates_within']} faces repeat an earlier one", "warning")
            )
        if previous and name in previous.get("splits", {}):
            for c, share in s["class_shares"].items():
                before = previous["splits"][name]["class_shares"].get(c, 0.0)
                if abs(share - before) > schema.max_share_shift:
                    detail = f"{c} is {share:.1%} of the faces, {before:.1%} in the previous run"
                    found.append(Anomaly("class_share_shift", name, detail))
    for pair, d in statistics["cross_split_duplicates"].items():
        if not d["faces"]:
            continue
        a, b = pair.split("|")
        smaller = min(statistics["splits"][a]["faces"], statistics["splits"][b]["faces"]) or 1
        severity = "error" if d["faces"] / smaller > schema.max_cross_split_duplicate_share else "warning"
        detail = f"{d['faces']} faces of {a} are also in {b} ({d['conflicting_labels']} with another label)"
        found.append(Anomaly("cross_split_duplicates", pair, detail, severity))
    return sorted(found, key=lambda x: x.severity != "error")


def write_report(statistics: dict, anomalies: list[Anomaly], out_dir: str | Path) -> tuple[Path, Path]:
    """``data_report.json`` (statistics and anomalies) and ``data_report.md`` (tables) in ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = {"statistics": statistics, "anomalies": [asdict(a) for a in anomalies]}
    json_path = out / "data_report.json"
    json_path.write_text(json.dumps(report, indent=2))
    splits = statistics["splits"]
    names = list(splits)
    labels = statistics.get("labels", DEFAULT_LABEL_MODE)
    lines = ["# Data report", "", f"Fingerprint `{statistics['fingerprint']}`; labels `{labels}`.", "",
             "| | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]  # fmt: skip
    for key in ("faces", "pixel_mean", "pixel_std", "constant_images", "duplicates_within"):
        lines.append(f"| {key} | " + " | ".join(str(splits[n][key]) for n in names) + " |")
    by_class = defaultdict(list)
    for n in names:
        for c, count in splits[n]["class_counts"].items():
            by_class[c].append(f"{count} ({splits[n]['class_shares'][c]:.1%})")
    lines += [f"| {c} | " + " | ".join(v) + " |" for c, v in by_class.items()]
    lines += ["", "## Anomalies", ""]
    lines += [f"- **{a.severity}** {a.kind} ({a.split}): {a.detail}" for a in anomalies] or ["None."]
    md_path = out / "data_report.md"
    md_path.write_text("\n".join(lines) + "\n")
    return json_path, md_path
