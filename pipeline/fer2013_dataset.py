"""The ``fer2013`` TFDS builder and ``load_fer2013``, which prepares it once and reuses it.

TFDS has no FER2013 in its catalog and the data cannot be downloaded without
accepting its licence, so the builder prepares from a manual directory (or
file). Each distinct source gets its own builder config, named after the
source's fingerprint, so replacing the data never serves a stale cache and two
sources can be prepared side by side.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import tensorflow as tf
import tensorflow_datasets as tfds

from model_zoo.constants import CLASS_NAMES, FACE_SHAPE
from pipeline.fer2013_sources import (
    WHERE_TO_GET_IT,
    Fer2013Source,
    find_source,
    read_examples,
)

log = logging.getLogger(__name__)

DATA_DIR_ENV = "FER_DATA_DIR"
SPLITS = ("train", "validation", "test")


def resolve_data_dir(data_dir: str | Path | None = None) -> Path:
    """Where prepared datasets live: ``data_dir``, else ``$FER_DATA_DIR``, else
    ``$TFDS_DATA_DIR``, else ``~/tensorflow_datasets``."""
    chosen = data_dir or os.environ.get(DATA_DIR_ENV) or os.environ.get("TFDS_DATA_DIR") or "~/tensorflow_datasets"
    return Path(chosen).expanduser()


class Fer2013(tfds.core.GeneratorBasedBuilder):
    """FER2013: 48x48 gray faces labelled with one of seven emotions."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release: CSV, gzipped CSV, icml_face_data.csv and image folders."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = WHERE_TO_GET_IT

    def __init__(self, *, source: Fer2013Source | None = None, skip_bad_rows: bool = False, **kwargs):
        self._source = source
        self._skip_bad_rows = skip_bad_rows
        super().__init__(**kwargs)

    def _info(self) -> tfds.core.DatasetInfo:
        # DatasetInfo(builder=self) rather than dataset_info_from_configs: the
        # latter looks for metadata files beside the module, which a builder
        # outside a TFDS package does not have.
        return tfds.core.DatasetInfo(
            builder=self,
            description="FER2013 facial expressions (ICML 2013 representation learning challenge).",
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(shape=FACE_SHAPE),
                    "label": tfds.features.ClassLabel(names=list(CLASS_NAMES)),
                }
            ),
            supervised_keys=("image", "label"),
            homepage="https://www.kaggle.com/c/challenges-in-representation-learning-facial-expression-recognition-challenge",
            metadata=tfds.core.MetadataDict(),
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        source = self._source or find_source(dl_manager.manual_dir)
        # Read and check the whole source before writing anything: a bad row
        # then stops preparation before any split is half written.
        examples = read_examples(source, skip_bad_rows=self._skip_bad_rows)
        self.info.metadata["source"] = str(source.path)
        self.info.metadata["skipped_rows"] = dict(examples.skipped)
        return {name: self._generate_examples(arrays) for name, arrays in examples.splits.items()}

    def _generate_examples(self, arrays):
        for key, image, label in zip(arrays.keys, arrays.images, arrays.labels):
            yield key, {"image": image, "label": int(label)}


@dataclass
class Fer2013Data:
    """A prepared FER2013: one ``tf.data.Dataset`` of (image, label) per split present."""

    splits: dict[str, tf.data.Dataset]
    num_examples: dict[str, int]
    skipped_rows: dict[str, int]
    source: Path
    prepared_dir: Path

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

    def limited(self, max_train_examples: int | None, max_eval_examples: int | None) -> dict[str, tf.data.Dataset]:
        """Every split, cut to the first ``max_train_examples`` (train) or ``max_eval_examples`` (the others).

        None (or 0) keeps a split whole. Training, tuning and their smoke runs all cut the data this way.
        """
        limits = {name: max_train_examples if name == "train" else max_eval_examples for name in self.splits}
        return {name: ds.take(limits[name]) if limits[name] else ds for name, ds in self.splits.items()}


def make_builder(data: str | Path, data_dir: str | Path | None = None, skip_bad_rows: bool = False) -> Fer2013:
    """The builder for the source at ``data``, keyed by its fingerprint under ``data_dir``."""
    source = find_source(data)
    config = tfds.core.BuilderConfig(
        name=f"{source.kind}-{source.fingerprint()}{'-skipbad' if skip_bad_rows else ''}",
        description=f"Prepared from {source.path}",
    )
    return Fer2013(source=source, skip_bad_rows=skip_bad_rows, config=config, data_dir=str(resolve_data_dir(data_dir)))


def load_fer2013(data: str | Path, data_dir: str | Path | None = None, skip_bad_rows: bool = False) -> Fer2013Data:
    """Prepare FER2013 from ``data`` (first call) or reuse the prepared copy, and load it.

    Args:
        data: A FER2013 CSV (plain or gzipped) or a directory holding one, or an image-folder tree.
        data_dir: Where prepared datasets are cached (see ``resolve_data_dir``).
        skip_bad_rows: Skip malformed rows, reporting how many and why, instead of stopping.

    Returns:
        A ``Fer2013Data`` with a dataset of (uint8 image (48, 48, 1), int64 label) per split present.

    Raises:
        MissingDataError: if no FER2013 is at ``data``.
        BadRowError: on a malformed row, unless ``skip_bad_rows``.
    """
    builder = make_builder(data, data_dir, skip_bad_rows)
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
            builder = make_builder(data, data_dir, skip_bad_rows)
            if not builder.is_prepared():
                raise
            log.info("Another process prepared %s first; using its copy", builder._source.path)
    skipped = dict(builder.info.metadata.get("skipped_rows", {}))
    if skipped:
        log.warning("Skipped %d bad rows of %s: %s", sum(skipped.values()), builder._source.path, skipped)
    present = [s for s in SPLITS if s in builder.info.splits]
    datasets = {s: builder.as_dataset(split=s, as_supervised=True, shuffle_files=False) for s in present}
    return Fer2013Data(
        splits=datasets,
        num_examples={s: builder.info.splits[s].num_examples for s in present},
        skipped_rows=skipped,
        source=builder._source.path,
        prepared_dir=Path(builder.data_dir),
    )
