"""The ``fer2013`` TFDS builder and ``load_fer2013``, which prepares it once and reuses it.

TFDS has no FER2013 in its catalog and the data cannot be downloaded without
accepting its licence, so the builder prepares from a manual directory (or
file). Each distinct source gets its own builder config, named after the
source's fingerprint, so replacing the data never serves a stale cache and two
sources can be prepared side by side.

Labels come in three modes (``model_zoo.constants.LABEL_MODES``): ``fer2013`` (the source's own, 7
classes; the config name and features of every cache prepared before FER+ existed), and
``ferplus-majority`` / ``ferplus-soft`` (8 classes, from the FER+ vote file ``fer2013new.csv`` that
lines up with a FER2013 CSV; see ``pipeline.ferplus_labels``). Each FER+ mode is its own config,
named after the source, the mode and the FER+ file's sha256, and its examples also hold the face's
``fer2013_label`` and its ``soft_label`` (the 8-class target distribution of the mode).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from model_zoo.constants import CLASS_NAMES, DEFAULT_LABEL_MODE, FACE_SHAPE, SOFT_LABEL_MODES, label_mode_class_names
from pipeline.fer2013_sources import (
    WHERE_TO_GET_IT,
    Fer2013Source,
    SplitArrays,
    find_source,
    read_examples,
)
from pipeline.ferplus_labels import FERPLUS_MODES, locate_ferplus_file
from pipeline.lineage import file_sha256

log = logging.getLogger(__name__)

DATA_DIR_ENV = "FER_DATA_DIR"
SPLITS = ("train", "validation", "test")
# What ``Fer2013Data.limited`` can hand out per split.
VIEWS = ("pairs", "targets", "examples")


def resolve_data_dir(data_dir: str | Path | None = None) -> Path:
    """Where prepared datasets live: ``data_dir``, else ``$FER_DATA_DIR``, else
    ``$TFDS_DATA_DIR``, else ``~/tensorflow_datasets``."""
    chosen = data_dir or os.environ.get(DATA_DIR_ENV) or os.environ.get("TFDS_DATA_DIR") or "~/tensorflow_datasets"
    return Path(chosen).expanduser()


class Fer2013(tfds.core.GeneratorBasedBuilder):
    """FER2013: 48x48 gray faces labelled with one of seven emotions, or with FER+'s eight."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release: CSV, gzipped CSV, icml_face_data.csv and image folders."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = WHERE_TO_GET_IT

    def __init__(
        self,
        *,
        source: Fer2013Source | None = None,
        skip_bad_rows: bool = False,
        label_mode: str = DEFAULT_LABEL_MODE,
        ferplus_file: Path | None = None,
        **kwargs,
    ):
        self._source = source
        self._skip_bad_rows = skip_bad_rows
        self._label_mode = label_mode
        self._ferplus_file = ferplus_file
        super().__init__(**kwargs)

    def _info(self) -> tfds.core.DatasetInfo:
        # DatasetInfo(builder=self) rather than dataset_info_from_configs: the
        # latter looks for metadata files beside the module, which a builder
        # outside a TFDS package does not have.
        class_names = label_mode_class_names(self._label_mode)
        features = {
            "image": tfds.features.Image(shape=FACE_SHAPE),
            "label": tfds.features.ClassLabel(names=list(class_names)),
        }
        if self._label_mode in FERPLUS_MODES:
            features["fer2013_label"] = tfds.features.ClassLabel(names=list(CLASS_NAMES))
            features["soft_label"] = tfds.features.Tensor(shape=(len(class_names),), dtype=np.float32)
        return tfds.core.DatasetInfo(
            builder=self,
            description="FER2013 facial expressions (ICML 2013 representation learning challenge).",
            features=tfds.features.FeaturesDict(features),
            supervised_keys=("image", "label"),
            homepage="https://www.kaggle.com/c/challenges-in-representation-learning-facial-expression-recognition-challenge",
            metadata=tfds.core.MetadataDict(),
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        source = self._source or find_source(dl_manager.manual_dir)
        # Read and check the whole source before writing anything: a bad row
        # then stops preparation before any split is half written.
        examples = read_examples(source, self._skip_bad_rows, self._label_mode, self._ferplus_file)
        self.info.metadata["source"] = str(source.path)
        self.info.metadata["skipped_rows"] = dict(examples.skipped)
        if self._label_mode in FERPLUS_MODES:
            self.info.metadata["ferplus"] = str(self._ferplus_file)
            self.info.metadata["left_out"] = {split: dict(counts) for split, counts in examples.left_out.items()}
        return {name: self._generate_examples(arrays) for name, arrays in examples.splits.items()}

    def _generate_examples(self, arrays: SplitArrays):
        for i, (key, image, label) in enumerate(zip(arrays.keys, arrays.images, arrays.labels)):
            example = {"image": image, "label": int(label)}
            if arrays.fer2013_labels is not None:
                example["fer2013_label"] = int(arrays.fer2013_labels[i])
                example["soft_label"] = arrays.distributions[i]
            yield key, example


@dataclass
class Fer2013Data:
    """A prepared FER2013: per split present, a ``tf.data.Dataset`` of (image, label) pairs and one of examples.

    ``splits`` holds the (uint8 image, int64 label) pairs; ``examples`` the whole examples as dicts
    (``image``, ``label`` and, with FER+ labels, ``fer2013_label`` and ``soft_label``). ``excluded``
    counts the rows FER+ leaves out, ``{split: {reason: rows}}`` (empty with FER2013 labels).
    """

    splits: dict[str, tf.data.Dataset]
    num_examples: dict[str, int]
    skipped_rows: dict[str, int]
    source: Path
    prepared_dir: Path
    label_mode: str = DEFAULT_LABEL_MODE
    ferplus: Path | None = None
    excluded: dict[str, dict[str, int]] = field(default_factory=dict)
    examples: dict[str, tf.data.Dataset] = field(default_factory=dict)

    @property
    def class_names(self) -> tuple[str, ...]:
        """The classes of ``label``, in label order (7 with FER2013 labels, 8 with FER+ labels)."""
        return label_mode_class_names(self.label_mode)

    def split(self, name: str) -> tf.data.Dataset:
        """The dataset of split ``name``.

        Raises:
            KeyError: if the source has no such split; the message lists those it has.
        """
        if name not in self.splits:
            raise KeyError(
                f"The data at {self.source} has no {name!r} split; it holds: {', '.join(self.splits) or 'none'}."
            )
        return self.splits[name]

    def targets(self, name: str) -> tf.data.Dataset:
        """(image, training target) of split ``name``: the ``soft_label`` distribution in a soft mode, else ``label``.

        Raises:
            KeyError: if the source has no such split.
        """
        self.split(name)
        if self.label_mode not in SOFT_LABEL_MODES:
            return self.splits[name]
        return self.examples[name].map(lambda ex: (ex["image"], ex["soft_label"]))

    def limited(
        self, max_train_examples: int | None, max_eval_examples: int | None, view: str = "pairs"
    ) -> dict[str, tf.data.Dataset]:
        """Every split, cut to the first ``max_train_examples`` (train) or ``max_eval_examples`` (the others).

        None (or 0) keeps a split whole. Training, tuning and their smoke runs all cut the data this way.

        Args:
            max_train_examples: Examples kept of the training split.
            max_eval_examples: Examples kept of each other split.
            view: ``"pairs"`` (image, label), ``"targets"`` (image, training target; see ``targets``) or
                ``"examples"`` (the example dicts). Every view of a split holds the same faces in the same order.

        Raises:
            ValueError: on an unknown view.
        """
        if view not in VIEWS:
            raise ValueError(f"view must be one of {', '.join(VIEWS)}, got {view!r}")
        datasets = {
            "pairs": lambda name: self.splits[name],
            "targets": self.targets,
            "examples": lambda name: self.examples[name],
        }[view]
        limits = {name: max_train_examples if name == "train" else max_eval_examples for name in self.splits}
        return {name: datasets(name).take(limits[name]) if limits[name] else datasets(name) for name in self.splits}


def _ferplus_file_for(source: Fer2013Source, labels: str, ferplus: str | Path | None) -> Path | None:
    """The FER+ vote file that label mode ``labels`` reads for ``source`` (None for FER2013 labels).

    Raises:
        MissingFerPlusError: if a FER+ mode finds no FER+ file (see ``load_fer2013``).
        ValueError: on an unknown label mode, FER+ labels for an image-folder source, or ``ferplus``
            given with FER2013 labels.
    """
    label_mode_class_names(labels)
    if labels in FERPLUS_MODES:
        if source.kind != "csv":
            raise ValueError(
                f"--labels {labels} needs FER2013 as a CSV (fer2013.csv): the FER+ votes label its rows by number, "
                f"and {source.path} is an image-folder tree. Use the CSV, or --labels {DEFAULT_LABEL_MODE}."
            )
        return locate_ferplus_file(source.path, ferplus)
    if ferplus is not None:
        raise ValueError(
            f"A FER+ file ({ferplus}) was given with --labels {labels}; pass --labels "
            f"{' or '.join(FERPLUS_MODES)} to use it, or leave it out."
        )
    return None


def _builder(source: Fer2013Source, skip_bad_rows: bool, labels: str, ferplus_file: Path | None, data_dir) -> Fer2013:
    """The builder of ``source`` read with ``labels``, keyed under ``data_dir`` by the fingerprints of its inputs."""
    name = f"{source.kind}-{source.fingerprint()}{'-skipbad' if skip_bad_rows else ''}"
    if ferplus_file is not None:
        name += f"-{labels}-{file_sha256(ferplus_file)[:12]}"
    config = tfds.core.BuilderConfig(
        name=name,
        description=f"Prepared from {source.path}" + (f", {labels} labels from {ferplus_file}" if ferplus_file else ""),
    )
    return Fer2013(
        source=source,
        skip_bad_rows=skip_bad_rows,
        label_mode=labels,
        ferplus_file=ferplus_file,
        config=config,
        data_dir=str(resolve_data_dir(data_dir)),
    )


def load_fer2013(
    data: str | Path,
    data_dir: str | Path | None = None,
    skip_bad_rows: bool = False,
    labels: str = DEFAULT_LABEL_MODE,
    ferplus: str | Path | None = None,
) -> Fer2013Data:
    """Prepare FER2013 from ``data`` with ``labels`` (first call) or reuse the prepared copy, and load it.

    Args:
        data: A FER2013 CSV (plain or gzipped) or a directory holding one, or an image-folder tree.
        data_dir: Where prepared datasets are cached (see ``resolve_data_dir``).
        skip_bad_rows: Skip malformed rows, reporting how many and why, instead of stopping.
        labels: The label mode, a key of ``model_zoo.constants.LABEL_MODES``: ``fer2013`` (7 classes),
            ``ferplus-majority`` or ``ferplus-soft`` (8 classes; CSV sources only).
        ferplus: The FER+ vote file (``fer2013new.csv``, or a directory holding it) for the FER+ modes;
            None: the one beside the FER2013 CSV, or in ``../ferplus/``.

    Returns:
        A ``Fer2013Data`` with, per split present, a dataset of (uint8 image (48, 48, 1), int64 label)
        and one of example dicts; ``excluded`` counts the rows FER+ left out, by split and reason.

    Raises:
        MissingDataError: if no FER2013 is at ``data``.
        MissingFerPlusError: if a FER+ mode finds no FER+ file.
        BadRowError: on a malformed row, unless ``skip_bad_rows``.
        FerPlusError: if the FER+ file is malformed or its rows do not line up with the FER2013 CSV's.
        ValueError: on an unknown label mode, or FER+ labels for an image-folder source.
    """
    source = find_source(data)
    ferplus_file = _ferplus_file_for(source, labels, ferplus)
    builder = _builder(source, skip_bad_rows, labels, ferplus_file, data_dir)
    if not builder.is_prepared():
        log.info("Preparing FER2013 from %s into %s", builder._source.path, builder.data_dir)
        try:
            builder.download_and_prepare(
                download_config=tfds.download.DownloadConfig(
                    manual_dir=str(
                        builder._source.path.parent if builder._source.path.is_file() else builder._source.path
                    ),
                    try_download_gcs=False,
                )
            )
        except OSError:
            # Another process (a tuner worker, a second fer-train) prepared the same source
            # into the same cache first; TFDS then cannot move its own copy into place
            # (FileExistsError, or "Directory not empty" when both passed TFDS's check).
            builder = _builder(source, skip_bad_rows, labels, ferplus_file, data_dir)
            if not builder.is_prepared():
                raise
            log.info("Another process prepared %s first; using its copy", builder._source.path)
    skipped = dict(builder.info.metadata.get("skipped_rows", {}))
    if skipped:
        log.warning("Skipped %d bad rows of %s: %s", sum(skipped.values()), builder._source.path, skipped)
    excluded = {split: dict(counts) for split, counts in builder.info.metadata.get("left_out", {}).items()}
    for split, counts in excluded.items():
        log.info("FER+ %s labels leave out %d rows of %s: %s", labels, sum(counts.values()), split, counts)
    present = [s for s in SPLITS if s in builder.info.splits]
    examples = {s: builder.as_dataset(split=s, shuffle_files=False) for s in present}
    return Fer2013Data(
        splits={s: ds.map(lambda ex: (ex["image"], ex["label"])) for s, ds in examples.items()},
        num_examples={s: builder.info.splits[s].num_examples for s in present},
        skipped_rows=skipped,
        source=builder._source.path,
        prepared_dir=Path(builder.data_dir),
        label_mode=labels,
        ferplus=builder._ferplus_file,
        excluded=excluded,
        examples=examples,
    )
