"""The settings of one search (``SearchConfig``), their checks, and the project directory's record of them.

Each field's help text lives in its metadata, so ``fer-tune --help`` is generated from this one
place. Nothing here imports TensorFlow, Keras or Keras Tuner.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fer_runtime.atomic_files import write_text_atomic
from model_zoo.constants import DEFAULT_LABEL_MODE, LABEL_MODES
from model_zoo.precision import PRECISIONS
from pipeline.config import PRESETS, TrainConfig, changed_since, option, resolve_config
from pipeline.tuning.search_space import BASE_SHAPES, HYPERPARAMETER_NAMES, HYPERPARAMETER_VALID_RANGES

TUNERS = ("random", "hyperband", "bayesian")
OBJECTIVE = "val_accuracy"

# The files of a project directory that fer-tune writes (Keras Tuner writes oracle.json and trial_*/).
SEARCH_CONFIG = "search_config.json"
BEST_HYPERPARAMETERS = "best_hyperparameters.json"
TRIALS_CSV = "trials.csv"
TRIALS_MD = "trials.md"
LOGS_DIR = "logs"
ERROR_FILE = "error.txt"  # in trial_<id>/

# Settings that may change when a search is resumed; every other one must match.
RESUMABLE_CHANGES = frozenset({"max_trials", "time_budget", "max_consecutive_failures", "verbose", "data_dir"})
# A worker may run on another machine, where the data (and the FER+ votes) live at another path.
WORKER_MAY_DIFFER = frozenset({"data", "ferplus"})


class ProjectDirError(RuntimeError):
    """The project directory holds another search, or something that is not a fer-tune project."""


@dataclass
class SearchConfig:
    """The settings of one search. Written into the project directory as ``search_config.json``."""

    data: str | None = option(
        None, "FER2013 CSV, .csv.gz or image-folder directory; required, except on the chief", metavar="PATH"
    )
    data_dir: str | None = option(
        None, "prepared-dataset cache; none: $FER_DATA_DIR, else ~/tensorflow_datasets", metavar="DIR"
    )
    # The labels every trial trains on and is scored against: fer-train's --labels and --ferplus (the command
    # line adds them with pipeline.cli.add_label_options, as the other tools do).
    labels: str = option(
        DEFAULT_LABEL_MODE,
        "labels of every trial, as fer-train --labels: fer2013 (7 classes), ferplus-majority or ferplus-soft (8)",
        choices=tuple(LABEL_MODES),
    )
    ferplus: str | None = option(None, "the FER+ vote file of the ferplus-* labels, as fer-train --ferplus")
    preset: str = option(
        "seed",
        "fer-train preset every trial starts from: its learning-rate schedule and warm-up, weight averaging, "
        "class weights, BatchNorm recalibration and erasing; the searched hyperparameters, and this search's "
        "model, epochs, batch size, precision, seed and example limits, replace the preset's",
        choices=tuple(PRESETS),
    )
    tuner: str = option("random", "search algorithm", choices=TUNERS)
    model: str = option(
        "seed_cnn",
        "base model of the search space (seed_cnn_tiny: the same space at a tiny size, for tests)",
        choices=tuple(sorted(BASE_SHAPES)),
    )
    max_trials: int = option(20, "trials in all, counting those of earlier sessions of this search")
    epochs: int = option(5, "training epochs of each trial (Hyperband: the most a trial trains)")
    batch_size: int = option(64, "examples per training step")
    precision: str = option("float32", "compute precision of the trials, as fer-train --precision", choices=PRECISIONS)
    time_budget: float | None = option(
        None, "seconds; no new trial starts this long after this session's first trial started; none: no limit"
    )
    max_train_examples: int | None = option(None, "train every trial on the first N training examples only")
    max_eval_examples: int | None = option(None, "score trials on the first N validation examples only")
    seed: int = option(42, "random seed of every trial, so that trials differ by their hyperparameters only")
    max_model_size: int | None = option(None, "trials of a model with more than N parameters fail; none: no limit")
    max_consecutive_failures: int = option(3, "stop the search after N failed trials in a row")
    hyperband_factor: int = option(3, "Hyperband: reduction factor of the epochs and trials between brackets")
    hyperband_iterations: int = option(1, "Hyperband: how many times the whole schedule runs")
    initial_points: int | None = option(
        None, "Bayesian: random trials before the Gaussian process; none: 3 per searched hyperparameter"
    )
    verbose: int = option(1, "Keras progress output of each trial: 0 silent, 1 progress bar, 2 one line per epoch")
    # Hyperparameters held at one value (e.g. {"width_multiplier": 1.0} keeps the documented
    # architecture and searches only its training); the others are searched.
    fixed: dict[str, float] = option({}, "hyperparameters held at one value; the others are searched")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def trial_base_config(config: SearchConfig) -> TrainConfig:
    """The ``TrainConfig`` every trial of ``config`` starts from: its preset with the search's settings.

    The search's data, label mode (``labels``, ``ferplus``), example limits, model, epochs, batch
    size, precision and seed replace the preset's, so that every trial trains as ``fer-train``
    trains that configuration (in the FER+ modes: 8 outputs, FER+ targets). The searched
    hyperparameters then replace its model arguments, learning rate, label smoothing and
    augmentation (``train_config_from_hyperparameters``). A learning-rate schedule spans the
    search's ``epochs``: under Hyperband, the most a trial trains, so a shorter trial stops
    partway through a cosine decay.

    Raises:
        ValueError: on an unknown preset, a preset that distils from a teacher, or a setting the preset's
            configuration refuses (``ferplus`` with ``fer2013`` labels: ``fer-train``'s message).
    """
    names = ("data", "data_dir", "labels", "ferplus", "max_train_examples", "max_eval_examples", "model", "epochs")
    overrides = {name: getattr(config, name) for name in names}
    overrides.update(batch_size=config.batch_size, precision=config.precision, seed=config.seed)
    base = resolve_config(config.preset, overrides)
    if base.teacher is not None:
        # Trials train on the split's own targets: a teacher's would be left out without a word.
        raise ValueError(
            f"preset {config.preset!r} distils from {base.teacher}, which a search does not do: search from a preset "
            "without a teacher, then train the chosen configuration with fer-train --teacher"
        )
    return base


def validate_search_config(config: SearchConfig, role: str = "local") -> None:
    """Check ``config`` before anything is written.

    Args:
        config: The search settings.
        role: ``local``, ``chief`` or ``worker``; only the chief may go without ``data``.

    Raises:
        ValueError: naming the setting that is wrong and what it accepts.
    """
    choices = {"preset": tuple(PRESETS), "tuner": TUNERS, "precision": PRECISIONS, "labels": tuple(LABEL_MODES)}
    for name, allowed in choices.items():
        if getattr(config, name) not in allowed:
            raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {getattr(config, name)!r}")
    if config.model not in BASE_SHAPES:
        raise ValueError(
            f"model must be one of {', '.join(BASE_SHAPES)} (the search space's base models), got {config.model!r}"
        )
    for name in ("max_trials", "epochs", "batch_size", "max_consecutive_failures", "hyperband_iterations"):
        if getattr(config, name) < 1:
            raise ValueError(f"{name} must be at least 1, got {getattr(config, name)}")
    for name in ("max_train_examples", "max_eval_examples", "max_model_size", "initial_points"):
        value = getattr(config, name)
        if value is not None and value < 1:
            raise ValueError(f"{name} must be at least 1 (or not given), got {value}")
    if config.hyperband_factor < 2:
        raise ValueError(f"hyperband_factor must be at least 2, got {config.hyperband_factor}")
    if config.time_budget is not None and not (config.time_budget > 0 and math.isfinite(config.time_budget)):
        raise ValueError(f"time_budget must be a positive number of seconds, got {config.time_budget}")
    unknown = sorted(set(config.fixed) - set(HYPERPARAMETER_NAMES))
    if unknown:
        raise ValueError(f"Cannot fix {', '.join(unknown)}: the search space has {', '.join(HYPERPARAMETER_NAMES)}")
    for name, value in config.fixed.items():
        low, high, what = HYPERPARAMETER_VALID_RANGES[name]
        if not (low <= value < high) or (name == "dense_units" and value != int(value)):
            raise ValueError(f"--fixed {name}={value} is out of range: {name} takes {what}")
    if role != "chief" and not config.data:
        raise ValueError("No data given: pass --data PATH (a FER2013 CSV, .csv.gz or image-folder directory)")
    trial_base_config(config)  # the trials' configuration must resolve, before the first trial


def parse_fixed(items: list[str]) -> dict[str, float]:
    """``["width_multiplier=1", "dense_units=256"]`` -> ``{"width_multiplier": 1, "dense_units": 256}``.

    Raises:
        ValueError: on an item that is not NAME=NUMBER.
    """
    fixed: dict[str, float] = {}
    for item in items:
        name, sep, text = item.partition("=")
        try:
            value = float(text)
        except ValueError:
            value = None
        if not sep or not name or value is None:
            raise ValueError(f"--fixed takes NAME=NUMBER (e.g. width_multiplier=1.0), got {item!r}")
        fixed[name.strip()] = int(value) if value.is_integer() and "." not in text else value
    return fixed


def check_project_dir(project_dir: Path, config: SearchConfig, role: str) -> None:
    """Make sure ``project_dir`` is new or holds this search, and record ``config`` in it.

    The chief and a local search write ``search_config.json`` (the latest settings: some may
    change on a resume); a worker only compares its settings with the chief's.

    Args:
        project_dir: The project directory (created unless this is a worker).
        config: The settings of this start.
        role: ``local``, ``chief`` or ``worker``; a worker's data path may differ.

    Raises:
        ProjectDirError: if ``project_dir`` holds a search with other settings, or a Keras Tuner
            project that is not a fer-tune search.
    """
    saved_path = project_dir / SEARCH_CONFIG
    if saved_path.exists():
        may_change = RESUMABLE_CHANGES | (WORKER_MAY_DIFFER if role == "worker" else frozenset())
        # A setting added since the search started (preset, say) counts as its default there.
        changed = changed_since(saved_path, config.to_dict(), SearchConfig().to_dict(), may_change)
        if changed:
            raise ProjectDirError(
                f"{project_dir} holds a search with other settings ({', '.join(changed)}). Pass another "
                "--project-dir, or repeat the original settings to resume it "
                f"(only {', '.join(sorted(RESUMABLE_CHANGES))} may change)."
            )
    elif (project_dir / "oracle.json").exists():
        raise ProjectDirError(
            f"{project_dir} holds a Keras Tuner project without {SEARCH_CONFIG}: not a fer-tune search. "
            "Pass another --project-dir."
        )
    if role != "worker":  # the chief owns the project's settings (the latest ones); a worker only reads them
        project_dir.mkdir(parents=True, exist_ok=True)
        write_text_atomic(saved_path, json.dumps(config.to_dict(), indent=2, sort_keys=True))
