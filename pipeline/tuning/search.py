"""``run_search`` runs a search (or this process's part of one); ``retrain_best`` retrains its best trial."""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import keras_tuner as kt
import tensorflow as tf

from pipeline.config import resolve_config
from pipeline.fer2013_dataset import load_fer2013
from pipeline.input_pipeline import dataset_to_arrays
from pipeline.tuning.chief import serve_oracle
from pipeline.tuning.hypermodel import SeedCNNHyperModel
from pipeline.tuning.reports import best_trial_report, trial_rows, write_summary
from pipeline.tuning.roles import oracle_address, tuning_role
from pipeline.tuning.search_config import (
    BEST_HYPERPARAMETERS,
    LOGS_DIR,
    OBJECTIVE,
    SEARCH_CONFIG,
    TRIALS_MD,
    SearchConfig,
    check_project_dir,
    trial_base_config,
    validate_search_config,
)
from pipeline.tuning.tuners import make_tuner

log = logging.getLogger("fer-tune")

_STATUS = kt.engine.trial.TrialStatus


class SearchFailedError(RuntimeError):
    """No trial of the search completed; the summary files say why."""


@dataclass
class SearchResult:
    """What ``run_search`` did.

    ``trials`` (one summary row per trial), ``best`` (the content of
    ``best_hyperparameters.json``) and ``stop_reason`` are filled on the process that holds
    the oracle (a local search or the chief); a worker only knows ``trials_run_here``.
    """

    role: str  # local | chief | worker
    project_dir: Path
    trials: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] | None = None
    stop_reason: str | None = None
    trials_run_here: list[tuple[str, str]] = field(default_factory=list)  # (trial id, status)


def run_search(config: SearchConfig, project_dir: str | Path) -> SearchResult:
    """Run (or resume) a search in ``project_dir`` as this process's role says.

    A local search and a chief write ``trials.csv``, ``trials.md`` and, when a trial
    completed, ``best_hyperparameters.json``; a chief runs no trial, it serves the oracle
    to the workers and returns once every worker has been told to stop. A worker runs
    trials handed out by the chief and writes no summary.

    Args:
        config: The search settings.
        project_dir: The project directory; created if missing, resumed if it holds this search.

    Returns:
        A ``SearchResult``.

    Raises:
        ValueError: on bad settings (``fer-train``'s message for ``ferplus`` with ``fer2013`` labels), or
            data without a training or validation split.
        ProjectDirError: if ``project_dir`` holds another search (or another Keras Tuner project), one with
            other labels included.
        MissingDataError, MissingFerPlusError, BadRowError, FerPlusError: from the dataset (see
            ``pipeline.fer2013_dataset``).
        SearchFailedError: on a local search or chief when no trial completed.
    """
    role = tuning_role()
    validate_search_config(config, role)
    project_dir = Path(project_dir)
    config = dataclasses.replace(config, data=_normalised_path(config.data), ferplus=_normalised_path(config.ferplus))

    base = trial_base_config(config)
    check_project_dir(project_dir, config, role)  # before reading the data: a wrong directory is told at once
    if role == "chief":
        targets = None
        hypermodel = SeedCNNHyperModel(base)  # the chief declares the space and runs no trial
    else:
        splits, targets = _load_splits(config)
        # One pass over the training split serves every trial of this process: the learning-rate
        # schedule counts its examples, class weights its labels, BatchNorm recalibration its faces.
        train_images, train_labels = dataset_to_arrays(splits["train"])
        hypermodel = SeedCNNHyperModel(base, train_images=train_images, train_labels=train_labels)
    tuner = make_tuner(config, project_dir, hypermodel, role)
    done = len(tuner.oracle.trials) if role != "worker" else 0
    if done:
        log.info("Resuming the search in %s: %d trial(s) already recorded", project_dir, done)

    if role == "chief":
        serve_oracle(tuner, config.verbose)
    else:
        if role == "worker":
            log.info("Worker %s asks the chief at %s:%s for trials", tuner.tuner_id, *oracle_address())
        tuner.search(  # on what fer-train's loss sees: the class indices, or the votes of ferplus-soft
            train_examples=targets["train"],
            validation_examples=targets["validation"],
            epochs=config.epochs,
            callbacks=[keras.callbacks.TensorBoard(str(project_dir / LOGS_DIR), write_graph=False, profile_batch=0)],
            verbose=config.verbose,
        )
    if role == "worker":
        return SearchResult(role, project_dir, trials_run_here=tuner.trials_run_here)

    oracle = tuner.oracle
    rows = trial_rows(oracle, project_dir)
    best = best_trial_report(oracle, config) if any(r["status"] == _STATUS.COMPLETED for r in rows) else None
    write_summary(project_dir, config, rows, best, oracle.stop_reason)
    result = SearchResult(role, project_dir, rows, best, oracle.stop_reason, tuner.trials_run_here)
    if best is None:
        failed = [r for r in rows if r["status"] != _STATUS.COMPLETED]
        detail = f"; first error: {failed[0]['error']}" if failed and failed[0]["error"] else ""
        statuses = ", ".join(f"{r['trial']} {r['status']}" for r in rows) or "none ran"
        raise SearchFailedError(
            f"No trial completed ({len(rows)} trial(s): {statuses}){detail}. Tracebacks: {project_dir / TRIALS_MD}"
        )
    return result


def retrain_best(project_dir: str | Path, run_dir: str | Path, epochs: int | None = None, verbose: int = 1) -> dict:
    """Train the best configuration of a finished search through ``fer-train``'s ``train``.

    The run directory is a normal ``fer-train`` run (resumable; ``fer-export RUN_DIR``
    exports it) of the search's preset with the best trial's fields. Data, label mode
    (``labels``, ``ferplus``: 8 classes and FER+ targets in the FER+ modes, ``labels.txt`` naming
    them), example limits, batch size, precision and seed are the search's.

    Args:
        project_dir: A project directory holding ``best_hyperparameters.json``.
        run_dir: The run directory to train into.
        epochs: Training epochs; None: the preset's (the seed preset trains 25, ship 80).
        verbose: Keras verbosity.

    Returns:
        The run's ``metrics.json`` content.

    Raises:
        FileNotFoundError: if the project has no best trial yet.
        RunDirError: if ``run_dir`` holds another run.
    """
    from pipeline.train import train  # imported here: only retraining needs the training loop and plots

    project_dir = Path(project_dir)
    best_path = project_dir / BEST_HYPERPARAMETERS
    if not best_path.exists():
        raise FileNotFoundError(f"{best_path} does not exist: run the search (or let it complete a trial) first")
    best = json.loads(best_path.read_text())
    # A search saved before a setting existed (preset, say) ran with that setting's default.
    search = {**SearchConfig().to_dict(), **json.loads((project_dir / SEARCH_CONFIG).read_text())}
    overrides = {
        **best["train_config"],
        **{
            key: search[key]
            for key in ("data", "data_dir", "labels", "ferplus", "max_train_examples", "max_eval_examples")
        },
        "verbose": verbose,
    }
    if epochs is not None:
        overrides["epochs"] = epochs
    config = resolve_config(search["preset"], overrides)
    log.info("Retraining trial %s (%s %.4f) into %s", best["trial"], OBJECTIVE, best["score"], run_dir)
    return train(config, run_dir)


def _load_splits(config: SearchConfig) -> tuple[dict[str, tf.data.Dataset], dict[str, tf.data.Dataset]]:
    """The search's data as ``fer-train`` reads them for ``config.labels``, cut to the search's example limits.

    Args:
        config: The search settings (data, cache, label mode and FER+ file, example limits).

    Returns:
        ``(pairs, targets)``, each per split: (image, class index) pairs, whose labels weigh the classes,
        and (image, training target) pairs, what the loss sees (the vote distributions of ``ferplus-soft``,
        else the same labels); the same faces in the same order.

    Raises:
        ValueError: if the data lack a training or validation split, or on a label mode the source refuses.
        MissingDataError, MissingFerPlusError, BadRowError, FerPlusError: from ``load_fer2013``.
    """
    data = load_fer2013(config.data, config.data_dir, labels=config.labels, ferplus=config.ferplus)
    for split in ("train", "validation"):
        if split not in data.splits:
            raise ValueError(
                f"The data at {data.source} have no {split} split (present: {', '.join(data.splits) or 'none'}); "
                f"a search trains on train and scores trials on validation."
            )
    limits = (config.max_train_examples, config.max_eval_examples)
    return data.limited(*limits), data.limited(*limits, view="targets")


def _normalised_path(path: str | None) -> str | None:
    # Absolute, so that a resume from another working directory matches the saved settings.
    if not path:
        return path
    p = Path(path).expanduser()
    return str(p.resolve()) if p.exists() else str(p)
