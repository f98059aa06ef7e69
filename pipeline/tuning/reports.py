"""What a search reports: one row per trial, the best trial, and the summary files.

``trials.csv`` and ``trials.md`` list every trial (status, score, who ran it, time,
hyperparameters, error); ``best_hyperparameters.json`` holds the best trial and the
``fer-train`` configuration and command line that retrain it.
"""

from __future__ import annotations

import csv
import io
import json
import shlex
from pathlib import Path
from typing import Any

import keras_tuner as kt

from fer_runtime.atomic_files import write_text_atomic
from pipeline.tuning.search_config import (
    BEST_HYPERPARAMETERS,
    ERROR_FILE,
    OBJECTIVE,
    TRIALS_CSV,
    TRIALS_MD,
    SearchConfig,
    trial_base_config,
)
from pipeline.tuning.search_space import HYPERPARAMETER_NAMES, train_config_from_hyperparameters

_STATUS = kt.engine.trial.TrialStatus

# The TrainConfig fields a search decides, in the order of the fer-train command line (labels: the model's
# classes; its FER+ file is a path, like the data, and goes on the command line only).
TUNED_FIELDS = ("labels", "model", "model_kwargs", "learning_rate", "label_smoothing", "augment", "flip")
TUNED_FIELDS += ("rotation", "zoom", "translation", "contrast", "batch_size", "precision", "seed")


def error_summary(message: str | None) -> str:
    """The last non-empty line of a traceback (the exception and its message), or ''."""
    lines = [line.strip() for line in (message or "").splitlines() if line.strip()]
    return lines[-1] if lines else ""


def read_error_file(project_dir: Path | None, trial_id: str) -> str | None:
    """The traceback the process that ran trial ``trial_id`` wrote into its folder, or None."""
    if project_dir is None:
        return None
    path = project_dir / f"trial_{trial_id}" / ERROR_FILE
    return path.read_text() if path.exists() else None


def trial_rows(oracle: kt.Oracle, project_dir: Path) -> list[dict[str, Any]]:
    """One summary row per trial of ``oracle``, in trial order.

    Returns:
        Dicts with ``trial``, ``status``, ``val_accuracy`` (None unless completed), ``tuner``
        (who ran it), ``seconds``, one entry per hyperparameter, ``error`` (the exception
        line) and ``traceback``.
    """
    runs = getattr(oracle, "trial_runs", {})
    names = list(HYPERPARAMETER_NAMES) + sorted(
        {k for t in oracle.trials.values() for k in t.hyperparameters.values if k not in HYPERPARAMETER_NAMES}
    )
    rows = []
    for trial_id in sorted(oracle.trials):
        trial = oracle.trials[trial_id]
        message = None
        if trial.status != _STATUS.COMPLETED:
            message = trial.message or read_error_file(project_dir, trial_id)
        run = runs.get(trial_id, {})
        row = {
            "trial": trial_id,
            "status": trial.status,
            OBJECTIVE: round(trial.score, 6) if trial.status == _STATUS.COMPLETED and trial.score is not None else None,
            "tuner": run.get("tuner", ""),
            "seconds": run.get("seconds"),
        }
        row.update({name: trial.hyperparameters.values.get(name) for name in names})
        row["error"] = error_summary(message)
        row["traceback"] = message or ""
        rows.append(row)
    return rows


def best_trial_report(oracle: kt.Oracle, config: SearchConfig) -> dict[str, Any]:
    """The best completed trial and the ``fer-train`` configuration that retrains it.

    Args:
        oracle: The search's oracle, with at least one completed trial.
        config: The search settings (preset, data, batch size, precision, seed).

    Returns:
        ``{"objective", "score", "trial", "trial_epochs", "hyperparameters", "train_config",
        "fer_train_command"}``; ``train_config`` holds the ``TrainConfig`` fields the search
        sets, on top of ``config.preset``.
    """
    trial = oracle.get_best_trials(1)[0]
    values = {k: v for k, v in trial.hyperparameters.values.items() if k in HYPERPARAMETER_NAMES}
    tuned = train_config_from_hyperparameters(values, trial_base_config(config)).to_dict()
    tuned = {k: tuned[k] for k in TUNED_FIELDS}
    return {
        "objective": OBJECTIVE,
        "score": trial.score,
        "trial": trial.trial_id,
        "trial_epochs": trial.hyperparameters.values.get("tuner/epochs", config.epochs),
        "hyperparameters": values,
        "train_config": tuned,
        "fer_train_command": fer_train_command(tuned, config),
    }


def fer_train_command(tuned: dict[str, Any], config: SearchConfig) -> str:
    """The ``fer-train`` command line that trains ``tuned`` on the search's preset, data and FER+ file."""
    args = ["fer-train", "--preset", config.preset, "--data", config.data or "DATA"]
    if config.data_dir:
        args += ["--data-dir", config.data_dir]
    if config.ferplus:
        args += ["--ferplus", config.ferplus]
    for key, value in tuned.items():
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            args.append(flag if value else "--no-" + key.replace("_", "-"))
        elif isinstance(value, dict):
            args += [flag, json.dumps(value, separators=(",", ":"))]
        else:
            args += [flag, str(value)]
    return shlex.join(args + ["--run-dir", "runs/tuned"])


def write_summary(
    project_dir: Path, config: SearchConfig, rows: list[dict[str, Any]], best: dict | None, stop_reason: str | None
) -> None:
    """Write ``trials.csv``, ``trials.md`` and (when ``best``) ``best_hyperparameters.json`` into ``project_dir``.

    Args:
        project_dir: The project directory.
        config: The search settings.
        rows: ``trial_rows`` of the search.
        best: ``best_trial_report``, or None when no trial completed.
        stop_reason: Why the oracle stopped the search (None: it did not).
    """
    columns = [k for k in rows[0] if k != "traceback"] if rows else ["trial", "status", OBJECTIVE]
    text = io.StringIO()
    writer = csv.DictWriter(text, columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(project_dir / TRIALS_CSV, text.getvalue())

    counts = {s: sum(r["status"] == s for r in rows) for s in sorted({r["status"] for r in rows})}
    lines = [
        f"# Hyperparameter search: {project_dir.name}",
        "",
        f"- tuner: {config.tuner}, base model: {config.model}, preset: {config.preset}, labels: {config.labels}, "
        f"objective: {OBJECTIVE} (max)",
        f"- trials: {len(rows)} ({', '.join(f'{n} {s.lower()}' for s, n in counts.items()) or 'none'})",
        f"- stopped: {stop_reason or 'not stopped by the oracle (interrupted, or resumed later)'}",
        (
            f"- best: trial {best['trial']}, {OBJECTIVE} {best['score']:.4f}"
            if best
            else "- best: none (no trial completed)"
        ),
        "",
        "| " + " | ".join(columns) + " |",
        "|" + "---|" * len(columns),
    ]
    for row in rows:
        lines.append("| " + " | ".join(_md_cell(row.get(c)) for c in columns) + " |")
    failed = [r for r in rows if r["traceback"]]
    if failed:
        lines += ["", "## Failed trials"]
        for row in failed:
            lines += ["", f"### Trial {row['trial']} ({row['tuner'] or 'unknown tuner'})", ""]
            lines += ["```", row["traceback"].rstrip(), "```"]
    if best:
        lines += ["", "## Retrain the best configuration", "", "```bash", best["fer_train_command"], "```"]
    write_text_atomic(project_dir / TRIALS_MD, "\n".join(lines) + "\n")
    if best:
        write_text_atomic(project_dir / BEST_HYPERPARAMETERS, json.dumps(best, indent=2))


def _md_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "\\|")
