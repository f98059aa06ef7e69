"""Reading FER2013 from the forms users have it in, row by row, with checks.

Supported sources (a directory holding one of them, or the file itself):

* ``fer2013.csv`` / ``fer2013.csv.gz``: columns ``emotion,pixels,Usage``;
* ``icml_face_data.csv`` (the Kaggle variant with ``emotion, Usage, pixels``);
* an image-folder tree ``train/<class>/*.png|jpg``, ``test/<class>/...`` and
  optionally ``val/`` or ``validation/``; class folders match case-insensitively.

Usage ``Training`` -> split ``train``, ``PublicTest`` -> ``validation``,
``PrivateTest`` -> ``test``. A split the source lacks is simply absent.

With FER+ labels (``label_mode`` ``ferplus-majority`` or ``ferplus-soft``, CSV sources only), each
row's labels come from the FER+ file's row of the same number (``pipeline.ferplus_labels``); the
FER2013 label is kept beside them, and rows FER+ leaves out are counted by reason.
"""

from __future__ import annotations

import collections
import csv
import gzip
import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from model_zoo.constants import CLASS_NAMES, DEFAULT_LABEL_MODE, label_mode_class_names
from model_zoo.constants import FACE_SIZE as IMAGE_SIZE
from pipeline.ferplus_labels import FERPLUS_MODES, FerPlusTargets, check_lines_up, ferplus_targets, read_votes

NUM_PIXELS = IMAGE_SIZE * IMAGE_SIZE
USAGE_TO_SPLIT = {"training": "train", "publictest": "validation", "privatetest": "test"}
FOLDER_TO_SPLIT = {
    "train": "train",
    "training": "train",
    "val": "validation",
    "validation": "validation",
    "test": "test",
}
CSV_NAMES = ("fer2013.csv", "fer2013.csv.gz", "icml_face_data.csv", "icml_face_data.csv.gz")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")

WHERE_TO_GET_IT = (
    "FER2013 is not downloaded automatically (its licence asks each user to accept it). Get "
    "fer2013.csv (or fer2013.csv.gz, or icml_face_data.csv) from the Kaggle challenge "
    "'challenges-in-representation-learning-facial-expression-recognition-challenge', or the "
    "image-folder version from the Kaggle dataset 'msambare/fer2013', and put it in that "
    "directory (or pass the file itself)."
)


class MissingDataError(FileNotFoundError):
    """No FER2013 source where one was expected."""


class BadRowError(ValueError):
    """A row of the source is malformed; the message names the file, the line and the problem."""


@dataclass(frozen=True)
class Fer2013Source:
    """Where FER2013 comes from: ``kind`` is ``"csv"`` or ``"images"``."""

    kind: str
    path: Path

    def fingerprint(self) -> str:
        """A short hash of the source's files (names, sizes, modification times).

        Cheap to compute, and it changes when the data are replaced, so a cache
        keyed on it is never stale.
        """
        digest = hashlib.sha256(str(self.path.resolve()).encode())
        files = [self.path] if self.path.is_file() else sorted(p for p in self.path.rglob("*") if p.is_file())
        for p in files:
            stat = p.stat()
            digest.update(
                f"{p.relative_to(self.path) if p != self.path else p.name}:{stat.st_size}:{stat.st_mtime_ns}".encode()
            )
        return digest.hexdigest()[:12]


@dataclass
class SplitArrays:
    """The examples of one split: ``images`` (N, 48, 48, 1) uint8, ``labels`` (N,) int64, ``keys``.

    With FER+ labels, ``labels`` are FER+ classes (``FERPLUS_CLASS_NAMES`` order), ``fer2013_labels``
    (N,) int64 the faces' FER2013 labels and ``distributions`` (N, 8) float32 their FER+ targets;
    both are None otherwise.
    """

    images: np.ndarray
    labels: np.ndarray
    keys: list[str]
    fer2013_labels: np.ndarray | None = None
    distributions: np.ndarray | None = None


@dataclass
class SourceExamples:
    """Every split read from a source, the malformed rows skipped and the rows FER+ leaves out, counted by reason.

    ``left_out`` is ``{split: Counter(reason)}`` (reasons of ``pipeline.ferplus_labels``); empty without FER+.
    """

    splits: dict[str, SplitArrays]
    skipped: collections.Counter = field(default_factory=collections.Counter)
    left_out: dict[str, collections.Counter] = field(default_factory=dict)


def find_source(path: str | Path) -> Fer2013Source:
    """Locate the FER2013 source at ``path`` (a file, or a directory holding one).

    Raises:
        MissingDataError: if nothing usable is there; the message says what to put where.
    """
    path = Path(path).expanduser().resolve()
    if path.is_file():
        if path.name.endswith((".csv", ".csv.gz")):
            return Fer2013Source("csv", path)
        raise MissingDataError(f"{path} is not a FER2013 CSV (.csv or .csv.gz). {WHERE_TO_GET_IT}")
    if not path.is_dir():
        raise MissingDataError(f"No FER2013 data at {path}: it does not exist. {WHERE_TO_GET_IT}")
    for name in CSV_NAMES:
        if (path / name).is_file():
            return Fer2013Source("csv", path / name)
    if any((path / d).is_dir() for d in FOLDER_TO_SPLIT):
        return Fer2013Source("images", path)
    raise MissingDataError(
        f"No FER2013 data in {path}: expected one of {', '.join(CSV_NAMES)} or the folders "
        f"train/<class>/ and test/<class>/. {WHERE_TO_GET_IT}"
    )


def read_examples(
    source: Fer2013Source,
    skip_bad_rows: bool = False,
    label_mode: str = DEFAULT_LABEL_MODE,
    ferplus_file: Path | None = None,
) -> SourceExamples:
    """Read and check every example of ``source``, labelled as ``label_mode`` says.

    Args:
        source: What ``find_source`` returned.
        skip_bad_rows: Skip malformed rows (counted in ``skipped``) instead of stopping.
        label_mode: A key of ``model_zoo.constants.LABEL_MODES``: ``fer2013`` (the source's own labels)
            or a FER+ mode (labels from ``ferplus_file``, which must line up with the CSV row by row).
        ferplus_file: The FER+ vote file (``fer2013new.csv``); required by the FER+ modes.

    Returns:
        The splits present in the source, the skipped-row counts and the rows FER+ left out.

    Raises:
        BadRowError: on the first malformed row, unless ``skip_bad_rows``.
        MissingDataError: if the source holds no usable example at all.
        ValueError: on an unknown label mode, or FER+ labels asked for an image-folder source or
            without a FER+ file.
        FerPlusError: if the FER+ file is malformed or does not line up with the CSV.
    """
    label_mode_class_names(label_mode)  # an unknown mode fails here, before any reading
    if label_mode in FERPLUS_MODES and (source.kind != "csv" or ferplus_file is None):
        raise ValueError(
            f"--labels {label_mode} needs FER2013 as a CSV and its FER+ file: the FER+ votes label the CSV's rows "
            f"by number. {source.path} is {'an image-folder tree' if source.kind != 'csv' else 'given without one'}."
        )
    reader = _read_csv if source.kind == "csv" else _read_image_folders
    good: list[_Row] = []
    usages: list[str | None] = []  # of every data row, in order: what FER+ must match
    skipped: collections.Counter = collections.Counter()
    for row in reader(source.path):
        usages.append(row.usage)
        if isinstance(row, _BadRow):
            if not skip_bad_rows:
                raise BadRowError(f"{row.message}. Fix or remove it, or pass --skip-bad-rows to skip such rows.")
            skipped[row.category] += 1
            continue
        good.append(row)
    targets = None
    if label_mode in FERPLUS_MODES:
        votes = read_votes(ferplus_file)
        check_lines_up(votes, source.path, usages)
        targets = ferplus_targets(votes, label_mode)
    rows: dict[str, list[_Row]] = collections.defaultdict(list)
    left_out: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for row in good:
        reason = targets.left_out[row.index] if targets is not None else None
        if reason is not None:
            left_out[row.split][reason] += 1
        else:
            rows[row.split].append(row)
    if not rows:
        raise MissingDataError(f"{source.path} holds no usable FER2013 example. {WHERE_TO_GET_IT}")
    splits = {split: _split_arrays(items, targets) for split, items in rows.items()}
    return SourceExamples(splits=splits, skipped=skipped, left_out=dict(left_out))


def _split_arrays(rows: list[_Row], targets: FerPlusTargets | None) -> SplitArrays:
    images = np.stack([r.image for r in rows]).reshape(-1, IMAGE_SIZE, IMAGE_SIZE, 1)
    own_labels = np.array([r.label for r in rows], dtype=np.int64)
    keys = [r.key for r in rows]
    if targets is None:
        return SplitArrays(images=images, labels=own_labels, keys=keys)
    index = np.array([r.index for r in rows], dtype=np.int64)
    return SplitArrays(
        images=images,
        labels=targets.labels[index],
        keys=keys,
        fer2013_labels=own_labels,
        distributions=targets.distributions[index],
    )


def _open_text(path: Path) -> io.TextIOBase:
    if path.name.endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


@dataclass(frozen=True)
class _Row:
    split: str
    key: str
    image: np.ndarray
    label: int
    index: int  # the data row's number, from 0 (a CSV's row; the n-th image of a tree)
    usage: str | None = None  # a CSV's Usage, as written


@dataclass(frozen=True)
class _BadRow:
    category: str  # what the skipped-row report counts by
    message: str  # names the file and line (or image) and the problem
    usage: None = None  # a malformed row's Usage is not checked against FER+


def _read_csv(path: Path):
    """Yield a ``_Row`` or a ``_BadRow`` per data row of a FER2013 CSV."""
    with _open_text(path) as f:
        reader = csv.reader(f)
        header = next(reader, None)
        columns = {name.strip().lower(): i for i, name in enumerate(header or [])}
        missing = {"emotion", "pixels"} - columns.keys()
        if missing:
            raise BadRowError(
                f"{path} line 1: header {header!r} lacks the column(s) {sorted(missing)}; "
                "expected 'emotion,pixels,Usage' (fer2013.csv) or 'emotion, Usage, pixels' (icml_face_data.csv)"
            )
        i_label, i_pixels, i_usage = columns["emotion"], columns["pixels"], columns.get("usage")
        index = -1
        for row in reader:
            where = f"{path} line {reader.line_num}"
            if not row:
                continue
            index += 1
            if len(row) < len(columns):
                yield _BadRow("wrong field count", f"{where}: has {len(row)} fields, expected {len(columns)}")
                continue
            # A file without a Usage column (Kaggle's train.csv) is all training data.
            usage = row[i_usage].strip() if i_usage is not None else "Training"
            split = USAGE_TO_SPLIT.get(usage.lower())
            if split is None:
                yield _BadRow("unknown Usage", f"{where}: unknown Usage {usage!r}")
                continue
            label_text = row[i_label].strip()
            if not label_text.isdigit() or int(label_text) >= len(CLASS_NAMES):
                yield _BadRow("label outside 0-6", f"{where}: label {label_text!r} outside 0-6")
                continue
            try:
                pixels = np.array(row[i_pixels].split(), dtype=np.int64)
            except ValueError:
                yield _BadRow("non-numeric pixel value", f"{where}: non-numeric pixel value")
                continue
            if pixels.size != NUM_PIXELS:
                yield _BadRow("wrong pixel count", f"{where}: wrong pixel count ({pixels.size}, expected {NUM_PIXELS})")
                continue
            if pixels.min() < 0 or pixels.max() > 255:
                yield _BadRow("pixel value outside 0-255", f"{where}: pixel value outside 0-255")
                continue
            yield _Row(split, f"line{reader.line_num}", pixels.astype(np.uint8), int(label_text), index, usage)


def _read_image_folders(root: Path):
    """Yield a ``_Row`` or a ``_BadRow`` per image file of an image-folder tree."""
    import cv2  # only this source needs OpenCV

    class_index = {name.lower(): i for i, name in enumerate(CLASS_NAMES)}
    index = -1
    for split_dir in sorted(p for p in root.iterdir() if p.is_dir() and p.name.lower() in FOLDER_TO_SPLIT):
        split = FOLDER_TO_SPLIT[split_dir.name.lower()]
        for class_dir in sorted(p for p in split_dir.iterdir() if p.is_dir()):
            label = class_index.get(class_dir.name.lower())
            for image_path in sorted(class_dir.iterdir()):
                if image_path.suffix.lower() not in IMAGE_SUFFIXES:
                    continue
                key = str(image_path.relative_to(root))
                index += 1
                if label is None:
                    expected = ", ".join(CLASS_NAMES)
                    yield _BadRow(
                        "unknown class folder",
                        f"{key}: unknown class folder {class_dir.name!r} (expected one of {expected})",
                    )
                    continue
                image = cv2.imread(str(image_path), cv2.IMREAD_GRAYSCALE)
                if image is None:
                    yield _BadRow("unreadable image", f"{key}: unreadable image")
                    continue
                if image.shape != (IMAGE_SIZE, IMAGE_SIZE):
                    image = cv2.resize(image, (IMAGE_SIZE, IMAGE_SIZE), interpolation=cv2.INTER_AREA)
                yield _Row(split, key, image, label, index)
