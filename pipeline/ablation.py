"""Ablation tables: ``fer-train`` runs that differ in a setting or two, scored alike on one split.

Each row is a run directory. Its chosen model (``best.keras``) is scored on the same faces against
FER+'s majority labels (all 8 classes, and the 7 FER2013 emotions), against FER2013's labels, and
against the FER+ vote distribution (the calibration figure) when it has every FER+ class. Its cost is
the CPU hours of its training: the median epoch time of ``history.csv`` times its epochs times the cores it
used (from ``run_info.json``), so neither a resume nor another process slowing an epoch changes it. The
settings column lists how each run's ``config.json`` differs from the first row's (the baseline).
"""

from __future__ import annotations

import csv
import json
import statistics
from pathlib import Path
from typing import Any

from fer_runtime.predictors import KerasPredictor, predict_in_batches
from pipeline.config import TrainConfig, changed_settings
from pipeline.evaluate import model_class_names, score_examples
from pipeline.fer2013_dataset import load_fer2013
from pipeline.input_pipeline import examples_to_arrays
from pipeline.run_metadata import chosen_model

SCORED_LABELS = ("ferplus-majority", "fer2013", "ferplus-soft")
# Settings that do not change what a run learns: left out of the settings column.
NOT_A_SETTING = frozenset({"data", "data_dir", "verbose", "backup_every_steps"})


def run_cpu_hours(run_dir: str | Path) -> float:
    """The CPU hours a run's training takes: its median epoch's seconds (``history.csv``) times its epochs times the
    cores it used.

    The median, not the sum: an epoch slowed by another process on the machine does not count against the recipe.
    The cores are the intra-op threads of ``run_info.json`` (else its CPU count, else 1).

    Raises:
        FileNotFoundError: if the run has no ``history.csv``.
    """
    run_dir = Path(run_dir)
    with open(run_dir / "history.csv", newline="") as f:
        seconds = [float(row["epoch_seconds"]) for row in csv.DictReader(f) if row.get("epoch_seconds")]
    info_path = run_dir / "run_info.json"
    host = json.loads(info_path.read_text()).get("host", {}) if info_path.exists() else {}
    cores = host.get("intra_op_threads") or host.get("cpu_count") or 1
    config_path = run_dir / "config.json"
    epochs = json.loads(config_path.read_text()).get("epochs", len(seconds)) if config_path.exists() else len(seconds)
    return statistics.median(seconds) * epochs * cores / 3600 if seconds else 0.0


def run_model(run_dir: str | Path) -> Path:
    """The model a run chose: ``best.keras``, else ``model.keras``.

    Raises:
        FileNotFoundError: if the run has neither (it has not finished an epoch).
    """
    chosen = chosen_model(run_dir)
    if chosen is not None:
        return chosen
    raise FileNotFoundError(f"{run_dir} holds no best.keras or model.keras: is it a fer-train run that has started?")


def ablation_table(
    run_dirs: list[str | Path],
    data: str | Path,
    split: str = "validation",
    data_dir: str | Path | None = None,
    batch_size: int = 512,
) -> dict[str, Any]:
    """Score every run of ``run_dirs`` on ``split`` of ``data`` and gather its settings and cost.

    Args:
        run_dirs: ``fer-train`` run directories; the first is the baseline of the settings column.
        data: FER2013 with its FER+ file beside it (see ``load_fer2013``).
        split: The split to score on (choose settings on ``validation``, FER2013's PublicTest).
        data_dir: The prepared-dataset cache.
        batch_size: Faces per model call.

    Returns:
        ``{"split", "data", "rows": [...]}``; each row: ``run``, ``settings`` (``"name: old -> new"`` against
        the baseline), ``epochs``, ``best_epoch``, ``cpu_hours``, ``ferplus_majority``, ``ferplus_7_emotions``,
        ``fer2013`` (accuracies) and ``soft_label_cross_entropy`` (None for a model without every FER+ class).

    Raises:
        ValueError: if ``run_dirs`` is empty or a directory is not a run (no ``config.json``).
        FileNotFoundError: if a run has no model yet.
        KeyError: if the data lack ``split``.
        MissingDataError, MissingFerPlusError: from the dataset.
    """
    if not run_dirs:
        raise ValueError("an ablation table needs at least one run directory")
    runs = [Path(d) for d in run_dirs]
    configs = []
    for run in runs:
        if not (run / "config.json").is_file():
            raise ValueError(f"{run} is not a fer-train run directory (no config.json)")
        configs.append(json.loads((run / "config.json").read_text()))
    models = [run_model(run) for run in runs]
    predictors = [KerasPredictor(model) for model in models]
    classes = [model_class_names(m, p.num_classes) for m, p in zip(models, predictors, strict=True)]
    scores: dict[str, list[dict]] = {}
    for labels in SCORED_LABELS:
        fer = load_fer2013(data, data_dir, labels=labels)
        fer.split(split)  # a missing split fails here, with the splits present
        examples = examples_to_arrays(fer.examples[split])
        scores[labels] = []
        for predictor, names in zip(predictors, classes, strict=True):
            probs = predict_in_batches(predictor, examples["image"], batch_size)
            scores[labels].append(score_examples(probs, names, examples, labels))
    defaults = TrainConfig().to_dict()
    rows = []
    for i, run in enumerate(runs):
        majority, fer2013, soft = (scores[labels][i] for labels in SCORED_LABELS)
        rows.append(
            {
                "run": str(run),
                "settings": changed_settings(configs[0], configs[i], defaults, NOT_A_SETTING) if i else [],
                "epochs": configs[i].get("epochs"),
                "best_epoch": _best_epoch(run),
                "cpu_hours": round(run_cpu_hours(run), 3),
                "ferplus_majority": majority["accuracy"],
                "ferplus_7_emotions": majority["ferplus_7_emotions"]["accuracy"],
                "fer2013": fer2013["accuracy"],
                "soft_label_cross_entropy": soft.get("soft_label_cross_entropy"),
            }
        )
    return {"split": split, "data": str(data), "rows": rows}


def format_ablation_table(table: dict[str, Any]) -> str:
    """A Markdown table of ``ablation_table``'s rows, the baseline first."""
    lines = [
        f"Ablation on {table['split']} of {table['data']} (accuracy, %; cross-entropy against the FER+ votes)",
        "",
        "| run | settings (against the first row) | FER+ 8 | FER+ 7 emotions | FER2013 | soft CE | best epoch | "
        "CPU hours |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in table["rows"]:
        soft = row["soft_label_cross_entropy"]
        lines.append(
            f"| {Path(row['run']).name} | {'; '.join(row['settings']) or 'baseline'} | "
            f"{100 * row['ferplus_majority']:.2f} | {100 * row['ferplus_7_emotions']:.2f} | "
            f"{100 * row['fer2013']:.2f} | "
            f"{'-' if soft is None else f'{soft:.3f}'} | {row['best_epoch']} of {row['epochs']} | "
            f"{row['cpu_hours']:.2f} |"
        )
    return "\n".join(lines)


def _best_epoch(run_dir: Path) -> int | None:
    """The 1-based epoch of the best validation accuracy in ``history.csv`` (None without validation)."""
    path = run_dir / "history.csv"
    if not path.exists():
        return None
    with open(path, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("val_accuracy")]
    return int(max(rows, key=lambda r: float(r["val_accuracy"]))["epoch"]) + 1 if rows else None
