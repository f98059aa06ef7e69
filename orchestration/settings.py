"""The settings of one pipeline run: one dataclass, written into every run directory as ``settings.json``.

The training configuration is a ``fer-train`` preset with overrides (``pipeline.config``: one training recipe); its
``labels`` (the label mode: FER2013's 7 classes or FER+'s 8) and ``ferplus`` (the FER+ vote file) decide the labels
of every stage: the data checks, the training, the parity gate, the evaluation, the benchmark and the card;
the thresholds' defaults are those of ``pipeline.blessing.BlessingThresholds`` and
``pipeline.data_validation.Schema``. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model_zoo.artifacts import BACKENDS
from pipeline.blessing import BlessingThresholds
from pipeline.config import PRESETS, TrainConfig, option, resolve_config
from pipeline.data_validation import Schema
from pipeline.tuning.search_config import TUNERS

# Fields the pipeline sets when the user did not: one line per epoch reads better in a stage's log than a bar.
PIPELINE_TRAIN_DEFAULTS = {"verbose": 2}
# The training settings a Keras Tuner search takes from the pipeline (``SearchConfig``); the search and the preset
# decide the others, so with --tuner they may not be overridden.
SEARCH_TAKES = ("data", "data_dir", "max_train_examples", "max_eval_examples", "model", "epochs", "batch_size",
                "precision", "seed", "verbose", "labels", "ferplus")  # fmt: skip
DEFAULT_IMAGE = "fer-pipeline:latest"  # the container image of a compiled pipeline: this project, installed with .[kfp]
PATH_SETTINGS = ("root", "push_dir", "baseline")
SETTINGS_FILE = "settings.json"  # in every run directory
PATH_OVERRIDES = ("data", "data_dir", "ferplus")  # the training settings that are local paths


@dataclass
class PipelineSettings:
    """Everything a pipeline run depends on besides the data's content and the code."""

    root: str = option("pipeline_root", "where stage outputs, runs and KFP's outputs go", metavar="DIR")
    push_dir: str = option("pushed", "versioned directory blessed models are pushed to", metavar="DIR")
    preset: str = option("seed", "fer-train preset the training starts from", choices=tuple(PRESETS))
    overrides: dict[str, Any] = option({}, "fer-train settings that replace the preset's (the training options)")
    # --- data validation ---
    allow_anomalies: bool = option(False, "go on past data anomalies of severity error (they are still reported)")
    max_share_shift: float = option(
        Schema.max_share_shift, "largest change of a class's share against the last pushed run's data"
    )
    max_constant_share: float = option(Schema.max_constant_share, "largest share of blank images in a split")
    max_cross_split_duplicate_share: float = option(
        Schema.max_cross_split_duplicate_share, "largest share of a split's faces also found in another split"
    )
    # --- tuning (optional) ---
    tuner: str | None = option(None, "run a Keras Tuner search first and train its best configuration", choices=TUNERS)
    tuner_trials: int = option(5, "trials of the search")
    tuner_epochs: int = option(3, "training epochs of each trial")
    # --- blessing ---
    baseline: str | None = option(
        None,
        "model directory or shipped model name the candidate is compared with; none: the latest pushed version, "
        "else the default shipped model",
    )
    min_accuracy: float = option(BlessingThresholds.min_accuracy, "lowest accuracy a model is pushed with")
    max_accuracy_drop: float = option(
        BlessingThresholds.max_accuracy_drop, "largest accuracy loss against the baseline"
    )
    max_recall_drop: float = option(
        BlessingThresholds.max_recall_drop, "largest loss of any class's recall against the baseline"
    )
    max_f1_drop: float | None = option(
        BlessingThresholds.max_f1_drop, "largest loss of any class's F1 against the baseline (default: not checked)"
    )
    # --- export ---
    recalibrate_batchnorm_faces: int = option(
        0, "recompute BatchNorm statistics on N unaugmented training faces before exporting (0: keep them)"
    )
    parity_examples: int = option(1000, "validation faces of the parity gate")
    representative_examples: int = option(500, "training faces that calibrate the int8 model")
    # --- benchmark ---
    bench_backends: str = option(",".join(BACKENDS), "backends the benchmark measures, comma-separated")
    bench_threads: int = option(1, "CPU threads of each benchmarked backend")
    bench_iterations: int = option(200, "timed batch-1 calls per backend")
    bench_faces: int = option(1000, "faces the benchmark runs on (and measures accuracy on)")

    def to_dict(self) -> dict[str, Any]:
        """The settings as a JSON-ready dict (``settings.json`` of every run)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> PipelineSettings:
        """The settings in ``values``.

        Args:
            values: From ``to_dict``; fields missing there keep their defaults.

        Returns:
            The settings.

        Raises:
            ValueError: on an unknown field.
        """
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"Unknown pipeline setting(s) {unknown}; known: {sorted(known)}")
        return cls(**values)

    def with_absolute_paths(self) -> PipelineSettings:
        """These settings with every local path made absolute: a pipeline's steps may run in other directories."""

        def absolute(path: str | None) -> str | None:
            return str(Path(path).expanduser().resolve()) if path else path

        overrides = dict(self.overrides)
        for key in PATH_OVERRIDES:
            if overrides.get(key):
                overrides[key] = absolute(overrides[key])
        paths = {name: absolute(getattr(self, name)) for name in PATH_SETTINGS}
        if self.baseline and not Path(self.baseline).exists():
            from model_zoo.pretrained import resolve_artifacts

            paths["baseline"] = str(resolve_artifacts(self.baseline))  # a shipped model's name
        return dataclasses.replace(self, overrides=overrides, **paths)

    def relative_paths(self) -> list[str]:
        """The path settings that are relative (a compiled pipeline's steps run in other machines' directories)."""
        paths = {name: getattr(self, name) for name in PATH_SETTINGS}
        paths |= {key: self.overrides.get(key) for key in PATH_OVERRIDES}
        return [name for name, path in paths.items() if path and not Path(path).is_absolute()]

    def for_cluster(self) -> PipelineSettings:
        """These settings for a compiled pipeline: the data prepared once under the root, for every step.

        Returns:
            The settings, ``data_dir`` defaulting to ``ROOT/tfds``.

        Raises:
            ValueError: if a path setting is relative (a cluster's steps run in other machines' directories).
        """
        relative = self.relative_paths()
        if relative:
            raise ValueError(
                f"{', '.join('--' + n.replace('_', '-') for n in relative)} must be absolute paths on storage every "
                "step mounts (e.g. /gcs/BUCKET/... on Vertex AI)"
            )
        if self.overrides.get("data_dir"):
            return self
        return dataclasses.replace(self, overrides={**self.overrides, "data_dir": str(Path(self.root) / "tfds")})

    def command(self) -> str:
        """The ``fer-pipeline`` command line that gives these settings (options left at their defaults omitted)."""
        import shlex

        def flag(name: str, value: Any) -> list[str]:
            option = "--" + name.replace("_", "-")
            if isinstance(value, bool):
                return [option if value else "--no-" + option[2:]]
            if isinstance(value, dict):
                return [option, json.dumps(value)]
            return [option, "none" if value is None else str(value)]

        defaults = PipelineSettings().to_dict()
        words = ["fer-pipeline", "--preset", self.preset]
        for name, value in self.to_dict().items():
            if name not in ("preset", "overrides") and value != defaults[name]:
                words += flag(name, value)
        for name, value in self.overrides.items():
            words += flag(name, value)
        return shlex.join(words)

    def train_config(self) -> TrainConfig:
        """The resolved training configuration: the preset, the pipeline's defaults, then the overrides.

        Raises:
            ValueError: on an unknown preset or field, or a value the training configuration refuses.
        """
        return resolve_config(self.preset, {**PIPELINE_TRAIN_DEFAULTS, **self.overrides})

    def blessing_thresholds(self) -> BlessingThresholds:
        """The blessing's bars from these settings."""
        return BlessingThresholds(self.min_accuracy, self.max_accuracy_drop, self.max_recall_drop, self.max_f1_drop)

    def schema(self) -> Schema:
        """The data validation's schema with these settings' limits, its classes those of the training's labels.

        Raises:
            ValueError: on an unknown preset or field, or a value the training configuration refuses.
        """
        return Schema.for_labels(
            self.train_config().labels,
            max_constant_share=self.max_constant_share,
            max_cross_split_duplicate_share=self.max_cross_split_duplicate_share,
            max_share_shift=self.max_share_shift,
        )

    def backends(self) -> tuple[str, ...]:
        """The benchmarked backends, in the order given."""
        return tuple(b.strip() for b in self.bench_backends.split(",") if b.strip())

    def check(self) -> TrainConfig:
        """Check every setting before anything runs; returns the training configuration.

        Raises:
            ValueError: saying which setting is wrong and what it accepts.
        """
        config = self.train_config()
        if not config.data:
            raise ValueError("No data given: pass --data PATH (a FER2013 CSV, .csv.gz or image-folder directory)")
        if self.tuner is not None:
            if self.tuner not in TUNERS:
                raise ValueError(f"tuner must be one of {', '.join(TUNERS)} (or left out), got {self.tuner!r}")
            decided = sorted(set(self.overrides) - set(SEARCH_TAKES))
            if decided:
                raise ValueError(
                    f"With --tuner, the search and the preset decide {', '.join(decided)}: leave "
                    f"{'it' if len(decided) == 1 else 'them'} out, or run without --tuner"
                )
        unknown = [b for b in self.backends() if b not in BACKENDS]
        if unknown or not self.backends():
            raise ValueError(
                f"bench_backends must name backends among {', '.join(BACKENDS)}, got {self.bench_backends!r}"
            )
        for name in (
            "tuner_trials",
            "tuner_epochs",
            "parity_examples",
            "bench_threads",
            "bench_iterations",
            "bench_faces",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.recalibrate_batchnorm_faces < 0 or self.representative_examples < 0:
            raise ValueError("recalibrate_batchnorm_faces and representative_examples are numbers of faces >= 0")
        return config
