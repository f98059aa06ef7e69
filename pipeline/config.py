"""Training configuration: one dataclass, named presets, and command-line overrides."""

from __future__ import annotations

import copy
import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

# Keras dtype policies fer-train and fer-tune accept (see model_zoo.precision).
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")


@dataclass
class TrainConfig:
    """Everything that decides a training run. Written into every run directory."""

    # --- data ---
    data: str | None = None  # FER2013 CSV / .csv.gz / directory; required
    data_dir: str | None = None  # prepared-dataset cache (default $FER_DATA_DIR or ~/tensorflow_datasets)
    skip_bad_rows: bool = False
    max_train_examples: int | None = None  # take only the first N training examples (smoke runs)
    max_eval_examples: int | None = None  # likewise for validation and test
    # --- model ---
    model: str = "seed_cnn"
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    # --- optimisation ---
    epochs: int = 25
    batch_size: int = 64
    learning_rate: float = 1e-3
    lr_schedule: str = "constant"  # constant | cosine
    warmup_epochs: int = 0
    label_smoothing: float = 0.0
    class_weight: str = "none"  # none | balanced | sqrt
    ema_momentum: float | None = None  # average the weights (Polyak/EMA); validate and save the average
    recalibrate_batchnorm: int = 0  # before each validation, BatchNorm statistics from N unaugmented training faces
    # --- augmentation (random layers applied in tf.data) ---
    augment: bool = True
    flip: bool = True
    rotation: float = 0.05  # fraction of a full turn (0.05 = +-18 degrees)
    zoom: float = 0.1
    translation: float = 0.1
    contrast: float = 0.1
    erasing: float = 0.0  # probability of covering a random rectangle (2-33 % of the face) with noise
    # --- execution ---
    seed: int = 42
    strategy: str = "default"  # default | mirrored
    precision: str = "float32"  # float32 | mixed_bfloat16 (CPUs with AVX512-BF16) | mixed_float16 (GPUs)
    cpu_devices: int | None = None  # split the CPU into N logical devices (to test MirroredStrategy)
    intra_op_threads: int | None = None  # None: every available core
    inter_op_threads: int | None = None  # None: 2
    backup_every_steps: int | None = 200  # also back up mid-epoch so a kill loses little; None: per epoch
    verbose: int = 1

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


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

CHOICES = {
    "lr_schedule": ("constant", "cosine"),
    "class_weight": ("none", "balanced", "sqrt"),
    "strategy": ("default", "mirrored"),
    "precision": PRECISIONS,
}


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
    for name, allowed in CHOICES.items():
        if getattr(config, name) not in allowed:
            raise ValueError(f"{name} must be one of {allowed}, got {getattr(config, name)!r}")
    if config.epochs < 1 or config.batch_size < 1:
        raise ValueError("epochs and batch_size must be at least 1")
    if config.recalibrate_batchnorm < 0:
        raise ValueError(f"recalibrate_batchnorm is a number of faces >= 0, got {config.recalibrate_batchnorm}")
    if not 0.0 <= config.erasing <= 1.0:
        raise ValueError(f"erasing is a probability in [0, 1], got {config.erasing}")
    if config.ema_momentum is not None and not 0.0 < config.ema_momentum < 1.0:
        raise ValueError(f"ema_momentum must be in (0, 1), e.g. 0.999, or None to disable; got {config.ema_momentum}")
    return config


def add_config_arguments(parser) -> None:
    """Add a ``--field-name`` option for every ``TrainConfig`` field to an argparse parser.

    Options default to "not given", so only what the user types overrides the preset.
    """
    import argparse
    import typing

    hints = typing.get_type_hints(TrainConfig)
    group = parser.add_argument_group("config overrides (defaults come from the preset)")
    for f in dataclasses.fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        hint = hints[f.name]
        kwargs: dict[str, Any] = {"dest": f.name, "default": argparse.SUPPRESS}
        if f.name in CHOICES:
            kwargs["choices"] = CHOICES[f.name]
        if hint is bool:
            group.add_argument(flag, action=argparse.BooleanOptionalAction, **kwargs)
            continue
        optional = type(None) in typing.get_args(hint)
        base = next(t for t in typing.get_args(hint) if t is not type(None)) if optional else hint
        if base in (int, float):
            kwargs["type"] = _optional(base) if optional else base
        elif typing.get_origin(base) is dict:
            kwargs["type"] = json.loads
            kwargs["metavar"] = "JSON"
        group.add_argument(flag, **kwargs)


def _optional(cast):
    def parse(text: str):
        return None if text.lower() in ("none", "null", "") else cast(text)

    parse.__name__ = cast.__name__
    return parse
