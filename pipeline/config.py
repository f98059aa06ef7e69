"""Training configuration: one dataclass, named presets, and command-line overrides.

Each field's help text lives in its metadata, so ``fer-train --help`` (and ``fer-tune``'s
generated options) describe every option from this one place. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from model_zoo.constants import DEFAULT_LABEL_MODE, LABEL_MODES, SOFT_LABEL_MODES
from model_zoo.precision import PRECISIONS
from model_zoo.registry import list_models

OPTIMIZERS = ("adam", "sgd-nesterov")
DATA_DIR_HELP = "prepared-dataset cache (default: $FER_DATA_DIR, else ~/tensorflow_datasets)"
LR_SCHEDULES = ("constant", "cosine", "plateau")


def option(default: Any = None, help: str = "", **kwargs) -> Any:  # noqa: A002  (argparse's word)
    """A dataclass field whose metadata holds its command-line help text."""
    if isinstance(default, dict | list):
        return field(default_factory=lambda: copy.deepcopy(default), metadata={"help": help, **kwargs})
    return field(default=default, metadata={"help": help, **kwargs})


@dataclass
class TrainConfig:
    """Everything that decides a training run. Written into every run directory as ``config.json``."""

    # --- data ---
    data: str | None = option(None, "FER2013 CSV, .csv.gz or image-folder directory (required)", metavar="PATH")
    data_dir: str | None = option(None, DATA_DIR_HELP, metavar="DIR")
    skip_bad_rows: bool = option(False, "skip malformed rows (reporting how many and why) instead of stopping")
    labels: str = option(
        DEFAULT_LABEL_MODE,
        "labels to train on: fer2013 (FER2013's own, 7 classes); ferplus-majority (the FER+ emotion most taggers "
        "chose) or ferplus-soft (the FER+ vote distribution as the target), 8 classes with contempt, from "
        "fer2013new.csv beside a FER2013 CSV (see --ferplus)",
        choices=tuple(LABEL_MODES),
    )
    ferplus: str | None = option(
        None,
        "the FER+ vote file fer2013new.csv of --labels ferplus-*; none: the one beside the FER2013 CSV, or in "
        "../ferplus/ of the CSV's directory",
        metavar="PATH",
    )
    max_train_examples: int | None = option(None, "train on the first N training examples only (smoke runs)")
    max_eval_examples: int | None = option(None, "use the first N examples of validation and test only")
    # --- model ---
    model: str = option("seed_cnn", "architecture, a registered model of the zoo", choices=list_models)
    model_kwargs: dict[str, Any] = option({}, "arguments of the model builder as JSON, e.g. '{\"l2\": 1e-4}'")
    # --- optimisation ---
    epochs: int = option(25, "training epochs")
    batch_size: int = option(64, "examples per training step")
    optimizer: str = option(
        "adam", "adam, or sgd-nesterov (SGD with Nesterov momentum, see --momentum)", choices=OPTIMIZERS
    )
    momentum: float = option(0.9, "momentum of sgd-nesterov")
    learning_rate: float = option(1e-3, "the optimizer's (peak) learning rate")
    lr_schedule: str = option(
        "constant",
        "learning-rate schedule: constant; cosine (decay to 0 over the run, after --warmup-epochs); plateau (cut by "
        "--plateau-factor when validation loss has not improved for --plateau-patience epochs)",
        choices=LR_SCHEDULES,
    )
    warmup_epochs: int = option(0, "epochs of linear warm-up before the cosine decay")
    plateau_patience: int = option(3, "epochs without a better validation loss before the plateau schedule cuts")
    plateau_factor: float = option(0.5, "what the plateau schedule multiplies the learning rate by")
    label_smoothing: float = option(0.0, "label smoothing of the cross-entropy (0 disables it)")
    class_weight: str = option(
        "none",
        "per-class loss weights: none, balanced (inverse frequency) or sqrt",
        choices=("none", "balanced", "sqrt"),
    )
    ema_momentum: float | None = option(
        None, "average the weights (EMA, e.g. 0.999); validation and saved models use the average"
    )
    recalibrate_batchnorm: int = option(
        0, "before each validation, recompute BatchNorm statistics on N unaugmented training faces (0: off)"
    )
    teacher: str | None = option(
        None,
        "distil from these models: shipped names, fer-export or run directories or .keras files, comma-separated "
        "(an ensemble: their flip-averaged probabilities, averaged); the target becomes --distill-weight of the "
        "teacher's distribution plus the rest of the label",
        metavar="MODELS",
    )
    distill_weight: float = option(0.5, "the teacher's share of the training target (with --teacher)")
    # --- augmentation (random layers applied in tf.data) ---
    augment: bool = option(True, "augment training images")
    flip: bool = option(True, "random horizontal flips")
    rotation: float = option(0.05, "random rotation, as a fraction of a full turn (0.05 = +-18 degrees)")
    zoom: float = option(0.1, "random zoom factor")
    translation: float = option(0.1, "random shift, as a fraction of the side")
    contrast: float = option(0.1, "random contrast factor")
    erasing: float = option(0.0, "probability of covering a random rectangle (2-33 %% of the face) with noise")
    mixup: float = option(
        0.0, "mixup: blend each batch with itself reversed, in a Beta(X, X) proportion, targets alike (0: off)"
    )
    cutmix: float = option(
        0.0, "CutMix: paste a box of the reversed batch into each batch, Beta(X, X) of the area kept (0: off)"
    )
    # --- execution ---
    seed: int = option(42, "random seed (weights, shuffling, augmentation)")
    strategy: str = option(
        "default", "distribution: default (one device) or mirrored (all GPUs)", choices=("default", "mirrored")
    )
    precision: str = option(
        "float32",
        "compute precision: mixed_bfloat16 for CPUs with AVX512-BF16, mixed_float16 for GPUs",
        choices=PRECISIONS,
    )
    cpu_devices: int | None = option(None, "split the CPU into N logical devices (to test mirrored)")
    intra_op_threads: int | None = option(None, "threads one op may use; none: every available core")
    inter_op_threads: int | None = option(None, "ops that may run at once; none: 2")
    backup_every_steps: int | None = option(
        200, "back up the training state every N steps as well as every epoch (none: per epoch only)"
    )
    verbose: int = option(1, "Keras progress output: 0 silent, 1 progress bar, 2 one line per epoch")

    @property
    def soft_targets(self) -> bool:
        """Whether the loss takes a distribution per face rather than a class: soft labels, label smoothing, mixed
        images (mixup, CutMix) or a teacher's distribution."""
        return (
            self.labels in SOFT_LABEL_MODES
            or self.label_smoothing > 0
            or self.mixup > 0
            or self.cutmix > 0
            or self.teacher is not None
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


# Fields that may change between the first start and a resume of one run: the log, and where the prepared
# dataset is cached (the same faces, found elsewhere).
RESUMABLE_CHANGES = frozenset({"verbose", "data_dir"})

PRESETS: dict[str, dict[str, Any]] = {
    # The documented seed configuration: Adam 1e-3, 25 epochs, batch 64.
    "seed": {},
    # The shipped model: the seed architecture with lighter dropout, a cosine
    # learning-rate decay, label smoothing and moderate augmentation, trained
    # longer. bfloat16 compute is 1.6x faster on CPUs with AVX512-BF16/AMX and on
    # recent GPUs; elsewhere pass --precision float32.
    "ship": {
        "epochs": 80,
        "precision": "mixed_bfloat16",
        "model_kwargs": {"conv_dropout": 0.15, "dense_dropout": 0.4},
        "lr_schedule": "cosine",
        "warmup_epochs": 1,
        "label_smoothing": 0.1,
        "rotation": 0.04,
        "zoom": 0.1,
        "translation": 0.1,
        "contrast": 0.1,
    },
    # The shipped FER+ model (seed_cnn_ferplus): the ship recipe on the FER+ vote distribution (8 classes, soft
    # targets, so no label smoothing), 60 epochs: about 80 minutes on two CPU cores in bfloat16.
    "ferplus": {
        "epochs": 60,
        "precision": "mixed_bfloat16",
        "labels": "ferplus-soft",
        "model_kwargs": {"conv_dropout": 0.15, "dense_dropout": 0.4},
        "lr_schedule": "cosine",
        "warmup_epochs": 1,
        "rotation": 0.04,
        "zoom": 0.1,
        "translation": 0.1,
        "contrast": 0.1,
    },
    # Runs in seconds on whatever data it is given: a tiny model on a few hundred images.
    "smoke": {
        "model": "seed_cnn_tiny",
        "epochs": 2,
        "batch_size": 32,
        "max_train_examples": 256,
        "max_eval_examples": 128,
        "backup_every_steps": None,
    },
}
# The winners of the ablation (docs/models.md#ablation): each recipe distilled from the shipped model of its labels,
# half the target the teacher's (flip-averaged) distribution. On 8-epoch schedules distillation was the only change
# that beat its recipe: +1.0 point of FER+ majority accuracy, +1.5 points of FER2013 accuracy.
PRESETS["ferplus-distilled"] = {**PRESETS["ferplus"], "teacher": "seed_cnn_ferplus"}
PRESETS["ship-distilled"] = {**PRESETS["ship"], "teacher": "seed_cnn_fer2013"}


def _choices(f: dataclasses.Field) -> tuple | None:
    # A callable in the metadata is asked on use (``model``: the models registered by then).
    choices = f.metadata.get("choices")
    return tuple(choices()) if callable(choices) else choices


def field_choices(name: str) -> tuple | None:
    """The values a ``TrainConfig`` field accepts, where it has a fixed set (``model``: the registered models)."""
    return next(_choices(f) for f in dataclasses.fields(TrainConfig) if f.name == name)


def resolve_config(preset: str = "seed", overrides: dict[str, Any] | None = None) -> TrainConfig:
    """The preset's configuration with ``overrides`` applied on top.

    Raises:
        ValueError: on an unknown preset, an unknown field, or a value outside its choices.
    """
    if preset not in PRESETS:
        raise ValueError(f"Unknown preset {preset!r}; available: {', '.join(PRESETS)}")
    values = copy.deepcopy({**PRESETS[preset], **(overrides or {})})
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"Unknown config field(s) {unknown}; known fields: {sorted(known)}")
    config = TrainConfig(**values)
    for f in dataclasses.fields(TrainConfig):
        allowed = _choices(f)
        if allowed and getattr(config, f.name) not in allowed:
            raise ValueError(f"{f.name} must be one of {allowed}, got {getattr(config, f.name)!r}")
    if config.epochs < 1 or config.batch_size < 1:
        raise ValueError("epochs and batch_size must be at least 1")
    if config.recalibrate_batchnorm < 0:
        raise ValueError(f"recalibrate_batchnorm is a number of faces >= 0, got {config.recalibrate_batchnorm}")
    if not 0.0 <= config.erasing <= 1.0:
        raise ValueError(f"erasing is a probability in [0, 1], got {config.erasing}")
    if config.ema_momentum is not None and not 0.0 < config.ema_momentum < 1.0:
        raise ValueError(f"ema_momentum must be in (0, 1), e.g. 0.999, or None to disable; got {config.ema_momentum}")
    if config.mixup < 0 or config.cutmix < 0:
        raise ValueError(f"mixup and cutmix are Beta parameters >= 0 (0: off), got {config.mixup}, {config.cutmix}")
    if config.mixup > 0 and config.cutmix > 0:
        raise ValueError("mixup and cutmix mix the same batches in two ways: pass one of --mixup or --cutmix")
    if not 0.0 < config.distill_weight <= 1.0:
        raise ValueError(f"distill_weight is the teacher's share of the target, in (0, 1]; got {config.distill_weight}")
    if config.lr_schedule == "plateau" and not (0.0 < config.plateau_factor < 1.0 and config.plateau_patience >= 1):
        raise ValueError(
            "the plateau schedule needs plateau_factor in (0, 1) and plateau_patience >= 1; got "
            f"{config.plateau_factor}, {config.plateau_patience}"
        )
    if config.ferplus is not None and config.labels == DEFAULT_LABEL_MODE:
        raise ValueError(
            f"ferplus ({config.ferplus}) is the FER+ file of the FER+ label modes; with labels {config.labels!r} it "
            "is not used. Pass --labels ferplus-majority or ferplus-soft, or leave --ferplus out."
        )
    if "num_classes" in config.model_kwargs:
        raise ValueError(
            "model_kwargs must not set num_classes: the label mode decides it (--labels; "
            f"{', '.join(f'{mode}: {len(names)}' for mode, names in LABEL_MODES.items())})"
        )
    return config


def changed_settings(
    saved: Mapping[str, Any], wanted: Mapping[str, Any], defaults: Mapping[str, Any], may_change: Iterable[str] = ()
) -> list[str]:
    """How ``wanted`` settings differ from ``saved`` ones, as ``"name: old -> new"`` lines.

    Resuming a run or a search compares the settings it was started with to those it is
    resumed with; a setting added to the program since counts as its default in ``saved``.

    Args:
        saved: The settings written when the run started.
        wanted: The settings of this start.
        defaults: The current defaults of every setting.
        may_change: Settings that may differ between starts.
    """
    old = {**defaults, **saved}
    names = sorted((set(old) | set(wanted)) - set(may_change))
    return [f"{k}: {old.get(k)!r} -> {wanted.get(k)!r}" for k in names if old.get(k) != wanted.get(k)]


def changed_since(
    saved_path: Path, wanted: Mapping[str, Any], defaults: Mapping[str, Any], may_change: Iterable[str] = ()
) -> list[str]:
    """``changed_settings`` against the settings saved as JSON at ``saved_path`` (a run's or a search's)."""
    return changed_settings(json.loads(saved_path.read_text()), wanted, defaults, may_change)


def add_dataclass_arguments(
    parser: argparse.ArgumentParser,
    cls: type,
    title: str,
    defaults_note: Mapping[str, str] | None = None,
    suppress_defaults: bool = False,
    skip: Iterable[str] = (),
) -> None:
    """Add a ``--field-name`` option for every field of the dataclass ``cls``, with its metadata's help.

    Args:
        parser: The parser to extend.
        cls: A dataclass whose fields were declared with ``option``.
        title: The heading of the option group.
        defaults_note: Extra text per field name, appended to its help (e.g. preset values).
        suppress_defaults: Leave fields that are not given out of the parsed namespace (so that
            only what the user typed overrides a preset); else each option defaults to the field's default.
        skip: Fields that get no option.
    """
    hints = typing.get_type_hints(cls)
    group = parser.add_argument_group(title)
    skip = set(skip)
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        kwargs: dict[str, Any] = {"dest": f.name, "default": argparse.SUPPRESS if suppress_defaults else default}
        choices = _choices(f)
        if choices:
            kwargs["choices"] = choices
        if "metavar" in f.metadata:
            kwargs["metavar"] = f.metadata["metavar"]
        shown = json.dumps(default) if isinstance(default, dict) else ("none" if default is None else default)
        help_text = f"{f.metadata.get('help', '')} (default: {shown}"
        note = (defaults_note or {}).get(f.name)
        kwargs["help"] = help_text + (f"; {note})" if note else ")")
        flag = "--" + f.name.replace("_", "-")
        hint = hints[f.name]
        if hint is bool:
            group.add_argument(flag, action=argparse.BooleanOptionalAction, **kwargs)
            continue
        optional = type(None) in typing.get_args(hint)
        base = next(t for t in typing.get_args(hint) if t is not type(None)) if optional else hint
        if base in (int, float):
            kwargs["type"] = _optional(base) if optional else base
            kwargs.setdefault("metavar", "N" if base is int else "X")
        elif typing.get_origin(base) is dict:
            kwargs["type"] = json.loads
            kwargs["metavar"] = "JSON"
        group.add_argument(flag, **kwargs)


def preset_values_note() -> dict[str, str]:
    """Per field, the presets that set it and to what: ``{"epochs": "preset ship: 80, smoke: 2"}``."""
    notes: dict[str, list[str]] = {}
    defaults = TrainConfig().to_dict()
    for preset, values in PRESETS.items():
        for name, value in values.items():
            if value == defaults[name]:
                continue
            shown = json.dumps(value) if isinstance(value, dict) else ("none" if value is None else value)
            notes.setdefault(name, []).append(f"{preset}: {shown}")
    return {name: "preset " + ", ".join(items) for name, items in notes.items()}


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """Add a ``--field-name`` option for every ``TrainConfig`` field to an argparse parser.

    Options default to "not given", so only what the user types overrides the preset; each help
    text gives the field's default and the presets that change it.
    """
    add_dataclass_arguments(
        parser,
        TrainConfig,
        "configuration (each option overrides the preset)",
        defaults_note=preset_values_note(),
        suppress_defaults=True,
    )


def _optional(cast):
    def parse(text: str):
        return None if text.lower() in ("none", "null", "") else cast(text)

    parse.__name__ = cast.__name__
    return parse
