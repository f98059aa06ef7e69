"""``fer-tune``: hyperparameter search over the seed CNN with Keras Tuner; resumable and distributable.

The search space is ``model_zoo.hypermodel.SeedCNNHyperModel``; the objective is the
validation accuracy. A project directory holds:

  search_config.json          the search settings (a resume must match them)
  oracle.json, trial_*/       Keras Tuner's state and per-trial checkpoints (what a resume reloads)
  trial_*/error.txt           the traceback of a failed trial, written by the process that ran it
  logs/                       TensorBoard logs, one folder per trial (HParams dashboard)
  trials.csv, trials.md       every trial: status, score, who ran it, time, hyperparameters, error
  best_hyperparameters.json   the best trial and the fer-train configuration that reproduces it

Running the same command again resumes an interrupted search: finished trials are kept,
a trial that was running is run again. Distributed search uses Keras Tuner's chief/worker
mode (``KERASTUNER_TUNER_ID``, ``KERASTUNER_ORACLE_IP``, ``KERASTUNER_ORACLE_PORT``): the
chief holds the oracle and writes the summary, each worker runs trials.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import logging
import math
import os
import shlex
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import keras_tuner as kt

from model_zoo.hypermodel import (
    BASE_SHAPES,
    HYPERPARAMETER_NAMES,
    HYPERPARAMETER_VALID_RANGES,
    SeedCNNHyperModel,
    train_config_from_hyperparameters,
)
from pipeline.atomic_files import write_text_atomic
from pipeline.config import PRECISIONS, TrainConfig, resolve_config
from pipeline.fer2013_dataset import load_fer2013
from pipeline.runtime import configure_tensorflow

log = logging.getLogger("fer-tune")

TUNERS = ("random", "hyperband", "bayesian")
OBJECTIVE = "val_accuracy"
ENV_TUNER_ID = "KERASTUNER_TUNER_ID"
ENV_ORACLE_IP = "KERASTUNER_ORACLE_IP"
ENV_ORACLE_PORT = "KERASTUNER_ORACLE_PORT"
SEARCH_CONFIG = "search_config.json"
BEST_HYPERPARAMETERS = "best_hyperparameters.json"
ERROR_FILE = "error.txt"

# Settings that may change when a search is resumed; every other one must match.
_RESUMABLE_CHANGES = {"max_trials", "time_budget", "max_consecutive_failures", "verbose", "data_dir"}
# A worker may run on another machine, where the data live at another path.
_WORKER_MAY_DIFFER = {"data"}

_STATUS = kt.engine.trial.TrialStatus


class ProjectDirError(RuntimeError):
    """The project directory holds another search, or something that is not a fer-tune project."""


class SearchFailedError(RuntimeError):
    """No trial of the search completed; the summary files say why."""


@dataclass
class SearchConfig:
    """The settings of one search. Written into the project directory as ``search_config.json``."""

    data: str | None = None  # FER2013 CSV / .csv.gz / directory; required except on the chief
    data_dir: str | None = None  # prepared-dataset cache (default $FER_DATA_DIR or ~/tensorflow_datasets)
    tuner: str = "random"  # random | hyperband | bayesian
    model: str = "seed_cnn"  # the base model of the search space: seed_cnn | seed_cnn_tiny
    max_trials: int = 20
    epochs: int = 5  # per trial; Hyperband: the most epochs a trial trains
    batch_size: int = 64
    precision: str = "float32"  # float32 | mixed_bfloat16 | mixed_float16 (as fer-train --precision)
    time_budget: float | None = None  # seconds after the first trial started; no new trial starts after it
    max_train_examples: int | None = None
    max_eval_examples: int | None = None
    seed: int = 42
    max_model_size: int | None = None  # trials of a model with more parameters fail (Keras Tuner's check)
    max_consecutive_failures: int = 3  # the search stops after this many failed trials in a row
    hyperband_factor: int = 3
    hyperband_iterations: int = 1
    initial_points: int | None = None  # Bayesian: random trials before the Gaussian process (None: 3 per dimension)
    verbose: int = 1
    # Hyperparameters held at one value (e.g. {"width_multiplier": 1.0} keeps the documented
    # architecture and searches only its training); the others are searched.
    fixed: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


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


def tuning_role(environ: dict[str, str] | None = None) -> str:
    """This process's part in a search, from Keras Tuner's environment variables.

    Returns:
        ``"local"`` without ``KERASTUNER_ORACLE_IP``; else ``"chief"`` when
        ``KERASTUNER_TUNER_ID`` contains "chief" and ``"worker"`` otherwise.

    Raises:
        ValueError: if the distributed settings are incomplete, the port is not a port
            number, or the tuner id is empty.
    """
    env = os.environ if environ is None else environ
    if ENV_ORACLE_IP not in env:
        return "local"
    missing = [name for name in (ENV_ORACLE_PORT, ENV_TUNER_ID) if not env.get(name)]
    if missing:
        raise ValueError(
            f"{ENV_ORACLE_IP} is set, so this is a distributed search, but {' and '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not: set {ENV_TUNER_ID}=chief on the chief and "
            f"{ENV_TUNER_ID}=tuner0, tuner1, ... on the workers, and the same {ENV_ORACLE_PORT} everywhere."
        )
    port = env[ENV_ORACLE_PORT]
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{ENV_ORACLE_PORT} must be a port number (1-65535), got {port!r}")
    return "chief" if "chief" in env[ENV_TUNER_ID] else "worker"


# --- the oracle: Keras Tuner's search algorithms with a time budget and a clean stop ---


class _SearchLimits:
    """Adds to a Keras Tuner oracle what ``fer-tune`` needs, the same way on a chief as locally.

    * A time budget: once ``time_budget`` seconds have passed since this session's first
      trial started, no new trial starts (running ones finish).
    * A clean stop after ``max_consecutive_failures`` failed trials in a row. Keras Tuner
      raises from ``end_trial`` instead, which on a chief kills the request of one worker
      and leaves the server waiting forever for the trial it never ends.
    * Which tuner ran each trial and for how long (kept in ``oracle.json``).
    * A failed trial always has a message: Keras Tuner fails a trial whose objective is
      NaN without one, and its gRPC messages drop a worker's error message.
    """

    def __init__(
        self,
        *args,
        time_budget: float | None = None,
        max_consecutive_failures: int = 3,
        log_failures: bool = False,
        project_dir: Path | None = None,
        **kwargs,
    ):
        # Never let Keras Tuner raise on consecutive failures; end_trial stops the search instead.
        super().__init__(*args, max_consecutive_failed_trials=sys.maxsize, **kwargs)
        self.time_budget = time_budget
        self.max_consecutive_failures = max_consecutive_failures
        self.log_failures = log_failures
        self.fer_project_dir = project_dir
        self.trial_runs: dict[str, dict[str, Any]] = {}
        self.stop_reason: str | None = None
        self.stop_issued = False
        self._failure_stop: str | None = None
        self._first_trial_started: float | None = None
        self._started: dict[str, float] = {}

    def _reason_to_stop(self) -> str | None:
        if self._failure_stop:
            return self._failure_stop
        if self.time_budget is not None and self._first_trial_started is not None:
            elapsed = time.monotonic() - self._first_trial_started
            if elapsed >= self.time_budget:
                return f"time budget of {self.time_budget:g} s used ({elapsed:.0f} s since the first trial started)"
        return None

    @kt.synchronized
    def create_trial(self, tuner_id):
        if tuner_id not in self.ongoing_trials:
            reason = self._reason_to_stop()
            if reason:
                self.stop_reason = reason
                self.stop_issued = True
                # What Keras Tuner does when it tells a tuner to stop: the chief exits
                # once every tuner it knows has been told so.
                self.tuner_ids.discard(tuner_id)
                return kt.engine.trial.Trial(self.get_space(), status=_STATUS.STOPPED)
        trial = super().create_trial(tuner_id)
        if trial.status == _STATUS.STOPPED:
            self.stop_issued = True
            if self.stop_reason is None:
                full = self.max_trials and len(self.trials) >= self.max_trials
                self.stop_reason = (
                    f"max_trials ({self.max_trials}) reached"
                    if full
                    else "the tuner has no new configuration to try (space exhausted or Hyperband schedule complete)"
                )
        elif trial.status == _STATUS.RUNNING and trial.trial_id not in self._started:
            # (A tuner asking again while its trial runs gets that trial back: not a new start.)
            now = time.monotonic()
            if self._first_trial_started is None:
                self._first_trial_started = now
            self._started[trial.trial_id] = now
            self.trial_runs[trial.trial_id] = {"tuner": tuner_id}
        return trial

    @kt.synchronized
    def end_trial(self, trial):
        reported = trial.status  # before super(), which may turn a NaN score into FAILED
        super().end_trial(trial)
        stored = self.trials[trial.trial_id]
        run = self.trial_runs.setdefault(trial.trial_id, {})
        if trial.trial_id in self._started:
            run["seconds"] = round(time.monotonic() - self._started.pop(trial.trial_id), 1)
        if stored.status == _STATUS.FAILED:
            if not stored.message:
                if reported == _STATUS.COMPLETED:
                    stored.message = f"The trial ended without a valid {OBJECTIVE} (NaN): training diverged."
                else:
                    stored.message = _read_error_file(self.fer_project_dir, stored.trial_id) or (
                        f"The trial failed on {run.get('tuner', 'a worker')}; its error is in that worker's log."
                    )
                self._save_trial(stored)
            # The tuner that ran the trial logs its error; the chief logs it too, where the search is watched.
            if self.log_failures or reported == _STATUS.COMPLETED:
                log.error(
                    "Trial %s (%s) failed: %s", stored.trial_id, run.get("tuner", "?"), error_summary(stored.message)
                )
        failures = 0
        for trial_id in reversed(self.end_order):
            if self.trials[trial_id].status != _STATUS.FAILED:
                break
            failures += 1
        if failures >= self.max_consecutive_failures and not self._failure_stop:
            self._failure_stop = (
                f"{failures} trials in a row failed (--max-consecutive-failures {self.max_consecutive_failures}); "
                f"last error: {error_summary(stored.message)}"
            )
            log.error("Stopping the search: %s", self._failure_stop)
        self.save()

    def get_state(self):
        state = super().get_state()
        state["fer_trial_runs"] = self.trial_runs
        return state

    def set_state(self, state):
        super().set_state(state)
        self.trial_runs = dict(state.get("fer_trial_runs", {}))


class RandomSearchOracle(_SearchLimits, kt.oracles.RandomSearchOracle):
    """Keras Tuner's random search with ``fer-tune``'s time budget and clean stop."""


class HyperbandOracle(_SearchLimits, kt.oracles.HyperbandOracle):
    """Keras Tuner's Hyperband with ``fer-tune``'s time budget and clean stop."""


class BayesianOptimizationOracle(_SearchLimits, kt.oracles.BayesianOptimizationOracle):
    """Keras Tuner's Bayesian optimisation with ``fer-tune``'s time budget and clean stop."""


# --- the tuner: runs trials on this process ---


class SeededTuner(kt.Tuner):
    """A Keras Tuner ``Tuner`` that seeds every trial and reports failed trials where they ran.

    Args:
        oracle: One of this module's oracles.
        hypermodel: The ``SeedCNNHyperModel``.
        seed: Seed set before each trial builds its model, so that trials differ by their
            hyperparameters and not by their initialisation.
        **kwargs: Passed to ``keras_tuner.Tuner`` (``directory``, ``project_name``, ...).
    """

    def __init__(self, oracle: kt.Oracle, hypermodel: kt.HyperModel, seed: int, **kwargs):
        # kt.Tuner's constructor, not the next class's: kt.Hyperband's builds its own oracle.
        kt.Tuner.__init__(self, oracle=oracle, hypermodel=hypermodel, **kwargs)
        self.seed = seed
        self.trials_run_here: list[tuple[str, str]] = []

    def on_trial_begin(self, trial):
        keras.utils.set_random_seed(self.seed)
        super().on_trial_begin(trial)

    def on_trial_end(self, trial):
        if trial.status in (_STATUS.INVALID, _STATUS.FAILED):
            # Keras Tuner keeps the traceback only in this process's copy of the trial
            # (its gRPC messages have no field for it): write it beside the trial's
            # checkpoint, where the summary finds it, and log it here.
            message = trial.message or "no error message"
            (Path(self.get_trial_dir(trial.trial_id)) / ERROR_FILE).write_text(message)
            log.error("Trial %s failed on %s: %s", trial.trial_id, self.tuner_id, error_summary(message))
            log.debug("Trial %s traceback:\n%s", trial.trial_id, message)
        super().on_trial_end(trial)
        # After the oracle has seen it: a local oracle shares this trial object and may
        # have changed its status (a NaN score fails a "completed" trial).
        self.trials_run_here.append((trial.trial_id, trial.status))


class HyperbandTuner(SeededTuner, kt.Hyperband):
    """``SeededTuner`` with Keras Tuner's Hyperband trial handling (epochs, warm starts)."""


# --- the search ---


def validate_search_config(config: SearchConfig, role: str = "local") -> None:
    """Check ``config`` before anything is written.

    Raises:
        ValueError: naming the setting that is wrong and what it accepts.
    """
    if config.tuner not in TUNERS:
        raise ValueError(f"tuner must be one of {', '.join(TUNERS)}, got {config.tuner!r}")
    if config.precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {config.precision!r}")
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
        ValueError: on bad settings or data without a training or validation split.
        ProjectDirError: if ``project_dir`` holds another search (or another Keras Tuner project).
        MissingDataError, BadRowError: from the dataset (see ``pipeline.fer2013_dataset``).
        SearchFailedError: on a local search or chief when no trial completed.
    """
    role = tuning_role()
    validate_search_config(config, role)
    project_dir = Path(project_dir)
    config = dataclasses.replace(config, data=_normalised_path(config.data))

    splits = None if role == "chief" else _load_splits(config)  # the chief runs no trial
    _check_project_dir(project_dir, config, role)
    tuner = make_tuner(config, project_dir, role)
    done = len(tuner.oracle.trials) if role != "worker" else 0
    if done:
        log.info("Resuming the search in %s: %d trial(s) already recorded", project_dir, done)

    callbacks = [keras.callbacks.TensorBoard(str(project_dir / "logs"), write_graph=False, profile_batch=0)]
    if role == "chief":
        _serve_oracle(tuner, config.verbose)
    else:
        if role == "worker":
            log.info("Worker %s asks the chief at %s:%s for trials", tuner.tuner_id, *_oracle_address())
        tuner.search(
            train_examples=splits["train"],
            validation_examples=splits["validation"],
            epochs=config.epochs,
            callbacks=callbacks,
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
            f"No trial completed ({len(rows)} trial(s): {statuses}){detail}. Tracebacks: {project_dir / 'trials.md'}"
        )
    return result


def make_tuner(config: SearchConfig, project_dir: Path, role: str = "local") -> SeededTuner:
    """The Keras Tuner tuner of ``config`` on ``project_dir`` (reloaded when it already holds the search).

    Args:
        config: The search settings.
        project_dir: The project directory.
        role: ``local``, ``chief`` or ``worker`` (see ``tuning_role``).

    Returns:
        A ``SeededTuner`` (``HyperbandTuner`` for Hyperband).
    """
    base = TrainConfig(
        data=config.data,
        data_dir=config.data_dir,
        max_train_examples=config.max_train_examples,
        max_eval_examples=config.max_eval_examples,
        model=config.model,
        epochs=config.epochs,
        batch_size=config.batch_size,
        precision=config.precision,
        seed=config.seed,
    )
    common = {
        "objective": kt.Objective(OBJECTIVE, direction="max"),
        "seed": config.seed,
        "time_budget": config.time_budget,
        "max_consecutive_failures": config.max_consecutive_failures,
        "log_failures": role == "chief",
        "project_dir": project_dir,
        "hyperparameters": fixed_hyperparameters(config.fixed),
    }
    if config.tuner == "random":
        oracle = RandomSearchOracle(max_trials=config.max_trials, **common)
    elif config.tuner == "bayesian":
        # Keras Tuner's default of 3 random points per hyperparameter would count fixed ones too.
        initial_points = config.initial_points or max(1, 3 * (len(HYPERPARAMETER_NAMES) - len(config.fixed)))
        oracle = BayesianOptimizationOracle(max_trials=config.max_trials, num_initial_points=initial_points, **common)
    else:
        oracle = HyperbandOracle(
            max_epochs=config.epochs,
            factor=config.hyperband_factor,
            hyperband_iterations=config.hyperband_iterations,
            **common,
        )
        # Hyperband has no max_trials of its own; the base oracle's check caps it too.
        oracle.max_trials = config.max_trials
    tuner_class = HyperbandTuner if config.tuner == "hyperband" else SeededTuner
    return tuner_class(
        oracle,
        SeedCNNHyperModel(base),
        seed=config.seed,
        max_model_size=config.max_model_size,
        directory=str(project_dir.parent),
        project_name=project_dir.name,
        overwrite=False,  # resume what is there; _check_project_dir made sure it is this search
    )


def fixed_hyperparameters(fixed: dict[str, float]) -> kt.HyperParameters:
    """Keras Tuner ``Fixed`` entries for ``fixed``; declaring the search space later keeps them fixed."""
    hp = kt.HyperParameters()
    for name, value in fixed.items():
        hp.Fixed(name, value)
    return hp


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


def _load_splits(config: SearchConfig) -> dict:
    data = load_fer2013(config.data, config.data_dir)
    for split in ("train", "validation"):
        if split not in data.splits:
            raise ValueError(
                f"The data at {data.source} have no {split} split (present: {', '.join(data.splits) or 'none'}); "
                f"a search trains on train and scores trials on validation."
            )
    limits = {"train": config.max_train_examples, "validation": config.max_eval_examples}
    return {name: data.splits[name].take(n) if n else data.splits[name] for name, n in limits.items()}


def _normalised_path(path: str | None) -> str | None:
    # Absolute, so that a resume from another working directory matches the saved settings.
    if not path:
        return path
    p = Path(path).expanduser()
    return str(p.resolve()) if p.exists() else str(p)


def _check_project_dir(project_dir: Path, config: SearchConfig, role: str) -> None:
    saved_path = project_dir / SEARCH_CONFIG
    if saved_path.exists():
        saved = {**SearchConfig().to_dict(), **json.loads(saved_path.read_text())}
        wanted = config.to_dict()
        ignored = _RESUMABLE_CHANGES | (_WORKER_MAY_DIFFER if role == "worker" else set())
        changed = sorted(k for k in wanted if k not in ignored and saved.get(k) != wanted[k])
        if changed:
            diff = ", ".join(f"{k}: {saved.get(k)!r} -> {wanted[k]!r}" for k in changed)
            raise ProjectDirError(
                f"{project_dir} holds a search with other settings ({diff}). Pass another --project-dir, or repeat "
                f"the original settings to resume it (only {', '.join(sorted(_RESUMABLE_CHANGES))} may change)."
            )
    elif (project_dir / "oracle.json").exists():
        raise ProjectDirError(
            f"{project_dir} holds a Keras Tuner project without {SEARCH_CONFIG}: not a fer-tune search. "
            "Pass another --project-dir."
        )
    if role != "worker":  # the chief owns the project's settings (the latest ones); a worker only reads them
        project_dir.mkdir(parents=True, exist_ok=True)
        write_text_atomic(saved_path, json.dumps(config.to_dict(), indent=2, sort_keys=True))


def _oracle_address() -> tuple[str, str]:
    return os.environ[ENV_ORACLE_IP], os.environ[ENV_ORACLE_PORT]


def _serve_oracle(tuner: SeededTuner, verbose: int, poll_seconds: float = 0.5) -> None:
    """Serve the oracle to the workers until every worker has been told to stop.

    ``tuner.search()`` on the chief serves the oracle over gRPC, but once the first worker
    is told to stop it checks for the others only every 20 s. It runs here in a thread
    while this one checks the same condition every ``poll_seconds``.

    Raises:
        RuntimeError: if the server fails (e.g. the port is taken).
    """
    errors: list[BaseException] = []

    def serve() -> None:
        try:
            tuner.search(verbose=verbose)
        except BaseException as e:  # noqa: BLE001  (re-raised in the main thread)
            errors.append(e)

    ip, port = _oracle_address()
    log.info(
        "Chief: serving the oracle on %s:%s; start workers with %s=%s %s=%s %s=tuner0 (tuner1, ...)",
        *(ip, port, ENV_ORACLE_IP, ip, ENV_ORACLE_PORT, port, ENV_TUNER_ID),
    )
    thread = threading.Thread(target=serve, name="oracle-chief", daemon=True)
    thread.start()
    oracle = tuner.oracle
    while True:
        thread.join(poll_seconds)
        if errors:
            raise RuntimeError(f"The chief's oracle server stopped: {errors[0]}") from errors[0]
        if not thread.is_alive():
            return
        if oracle.stop_issued and not oracle.ongoing_trials and not oracle.tuner_ids:
            # Let the last "stop" reply reach its worker before this process may exit.
            time.sleep(1.0)
            return


# --- summary and best trial ---


def error_summary(message: str | None) -> str:
    """The last non-empty line of a traceback (the exception and its message), or ''."""
    lines = [line.strip() for line in (message or "").splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _read_error_file(project_dir: Path | None, trial_id: str) -> str | None:
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
            message = trial.message or _read_error_file(project_dir, trial_id)
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

    Returns:
        ``{"objective", "score", "trial", "hyperparameters", "train_config", "fer_train_command"}``;
        ``train_config`` holds the ``TrainConfig`` fields the search sets.
    """
    trial = oracle.get_best_trials(1)[0]
    values = {k: v for k, v in trial.hyperparameters.values.items() if k in HYPERPARAMETER_NAMES}
    tuned = _tuned_fields(values, config)
    return {
        "objective": OBJECTIVE,
        "score": trial.score,
        "trial": trial.trial_id,
        "trial_epochs": trial.hyperparameters.values.get("tuner/epochs", config.epochs),
        "hyperparameters": values,
        "train_config": tuned,
        "fer_train_command": _fer_train_command(tuned, config),
    }


def _tuned_fields(values: dict[str, Any], config: SearchConfig) -> dict[str, Any]:
    base = TrainConfig(model=config.model, batch_size=config.batch_size, precision=config.precision, seed=config.seed)
    tuned = train_config_from_hyperparameters(values, base).to_dict()
    keys = ["model", "model_kwargs", "learning_rate", "label_smoothing", "augment", "flip", "rotation"]
    keys += ["zoom", "translation", "contrast", "batch_size", "precision", "seed"]
    return {k: tuned[k] for k in keys}


def _fer_train_command(tuned: dict[str, Any], config: SearchConfig) -> str:
    args = ["fer-train", "--preset", "seed", "--data", config.data or "DATA"]
    if config.data_dir:
        args += ["--data-dir", config.data_dir]
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
    """Write ``trials.csv``, ``trials.md`` and (when ``best``) ``best_hyperparameters.json`` into ``project_dir``."""
    columns = [k for k in rows[0] if k != "traceback"] if rows else ["trial", "status", OBJECTIVE]
    tmp = project_dir / "trials.csv.tmp"
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, project_dir / "trials.csv")

    counts = {s: sum(r["status"] == s for r in rows) for s in sorted({r["status"] for r in rows})}
    lines = [
        f"# Hyperparameter search: {project_dir.name}",
        "",
        f"- tuner: {config.tuner}, base model: {config.model}, objective: {OBJECTIVE} (max)",
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
            lines += [
                "",
                f"### Trial {row['trial']} ({row['tuner'] or 'unknown tuner'})",
                "",
                "```",
                row["traceback"].rstrip(),
                "```",
            ]
    if best:
        lines += ["", "## Retrain the best configuration", "", "```bash", best["fer_train_command"], "```"]
    write_text_atomic(project_dir / "trials.md", "\n".join(lines) + "\n")
    if best:
        write_text_atomic(project_dir / BEST_HYPERPARAMETERS, json.dumps(best, indent=2))


def _md_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "\\|")


# --- retraining ---


def retrain_best(project_dir: str | Path, run_dir: str | Path, epochs: int = 25, verbose: int = 1) -> dict:
    """Train the best configuration of a finished search through ``fer-train``'s ``train``.

    The run directory is a normal ``fer-train`` run (resumable; ``fer-export RUN_DIR``
    exports it). Data, example limits, batch size and seed are the search's.

    Args:
        project_dir: A project directory holding ``best_hyperparameters.json``.
        run_dir: The run directory to train into.
        epochs: Training epochs (the seed preset trains 25).
        verbose: Keras verbosity.

    Returns:
        The run's ``metrics.json`` content.

    Raises:
        FileNotFoundError: if the project has no best trial yet.
        RunDirError: if ``run_dir`` holds another run.
    """
    from pipeline.train import train  # imported here: it pulls in plotting and export code

    project_dir = Path(project_dir)
    best_path = project_dir / BEST_HYPERPARAMETERS
    if not best_path.exists():
        raise FileNotFoundError(f"{best_path} does not exist: run the search (or let it complete a trial) first")
    best = json.loads(best_path.read_text())
    search = {**SearchConfig().to_dict(), **json.loads((project_dir / SEARCH_CONFIG).read_text())}
    overrides = {
        **best["train_config"],
        "data": search["data"],
        "data_dir": search["data_dir"],
        "max_train_examples": search["max_train_examples"],
        "max_eval_examples": search["max_eval_examples"],
        "epochs": epochs,
        "verbose": verbose,
    }
    config = resolve_config("seed", overrides)
    log.info("Retraining trial %s (%s %.4f) into %s", best["trial"], OBJECTIVE, best["score"], run_dir)
    return train(config, run_dir)


# --- command line ---


def build_parser() -> argparse.ArgumentParser:
    """The ``fer-tune`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="fer-tune",
        description=(
            "Search the seed CNN's hyperparameters with Keras Tuner (objective: validation accuracy). "
            "Repeating the command resumes the search in --project-dir. For a distributed search set "
            f"{ENV_TUNER_ID}=chief|tuner0|tuner1..., {ENV_ORACLE_IP} and {ENV_ORACLE_PORT}."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    d = SearchConfig()
    parser.add_argument("--project-dir", default="runs/tune", help="where the search lives; resumed if it exists")
    parser.add_argument("--data", help="FER2013 CSV, .csv.gz or image-folder directory (not needed on the chief)")
    parser.add_argument("--data-dir", help="prepared-dataset cache")
    parser.add_argument("--tuner", choices=TUNERS, default=d.tuner, help="search algorithm")
    parser.add_argument("--model", choices=sorted(BASE_SHAPES), default=d.model, help="base model of the search space")
    parser.add_argument("--max-trials", type=int, default=d.max_trials, help="trials in all, counting resumed ones")
    parser.add_argument("--epochs", type=int, default=d.epochs, help="epochs per trial (Hyperband: the most)")
    parser.add_argument("--batch-size", type=int, default=d.batch_size)
    parser.add_argument("--precision", choices=PRECISIONS, default=d.precision, help="as fer-train --precision")
    parser.add_argument(
        "--time-budget", type=float, help="seconds; no new trial starts this long after the first one started"
    )
    parser.add_argument("--max-train-examples", type=int, help="train on the first N training examples")
    parser.add_argument("--max-eval-examples", type=int, help="score trials on the first N validation examples")
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--max-model-size", type=int, help="trials of models with more parameters fail")
    parser.add_argument(
        "--max-consecutive-failures",
        type=int,
        default=d.max_consecutive_failures,
        help="stop after N failures in a row",
    )
    parser.add_argument("--hyperband-factor", type=int, default=d.hyperband_factor)
    parser.add_argument("--hyperband-iterations", type=int, default=d.hyperband_iterations)
    parser.add_argument(
        "--initial-points", type=int, help="Bayesian: random trials before the model (default 3 per hp)"
    )
    parser.add_argument("--verbose", type=int, default=d.verbose, help="Keras verbosity of each trial")
    parser.add_argument(
        "--fixed",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="hold a hyperparameter at one value (repeatable), e.g. --fixed width_multiplier=1.0",
    )
    parser.add_argument("--retrain-best", metavar="RUN_DIR", help="then train the best configuration into RUN_DIR")
    parser.add_argument("--retrain-epochs", type=int, default=25, help="epochs of --retrain-best")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Console entry point of ``fer-tune``; returns 0, 1 (no trial completed) or 2 (bad input)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("absl").setLevel(logging.ERROR)
    args = vars(build_parser().parse_args(argv))
    project_dir = Path(args.pop("project_dir"))
    retrain_dir, retrain_epochs = args.pop("retrain_best"), args.pop("retrain_epochs")
    from pipeline.train import RunDirError

    try:
        args["fixed"] = parse_fixed(args["fixed"])
        configure_tensorflow()
        result = run_search(SearchConfig(**args), project_dir)
        if result.role == "worker":
            ran = ", ".join(f"{t} {s}" for t, s in result.trials_run_here) or "none"
            print(f"{os.environ[ENV_TUNER_ID]} ran trials: {ran}")
            if retrain_dir:
                print("fer-tune: --retrain-best is done by the chief; ignored on a worker", file=sys.stderr)
            return 0
        _print_result(result)
        if retrain_dir:
            metrics = retrain_best(project_dir, retrain_dir, retrain_epochs, args["verbose"])
            for split, m in metrics["splits"].items():
                print(f"retrained {split}: accuracy {m['accuracy']:.4f} (n={m['n']})")
            print(f"Export it with: fer-export {retrain_dir} --out {Path(retrain_dir) / 'export'}")
    except KeyboardInterrupt:
        print("\nInterrupted. Run the same command again to resume the search.", file=sys.stderr)
        return 130
    except SearchFailedError as e:
        print(f"fer-tune: error: {e}", file=sys.stderr)
        return 1
    except (ValueError, ProjectDirError, RunDirError, FileNotFoundError) as e:
        print(f"fer-tune: error: {e}", file=sys.stderr)
        return 2
    return 0


def _print_result(result: SearchResult) -> None:
    for row in result.trials:
        score = f"{row[OBJECTIVE]:.4f}" if row[OBJECTIVE] is not None else "-"
        error = f"  {row['error']}" if row["error"] else ""
        print(f"trial {row['trial']}: {row['status']:<9} {OBJECTIVE} {score}  ({row['tuner']}){error}")
    best = result.best
    print(f"Stopped: {result.stop_reason or 'interrupted'}")
    print(f"Best: trial {best['trial']}, {OBJECTIVE} {best['score']:.4f}: {json.dumps(best['hyperparameters'])}")
    print(f"Summary: {result.project_dir / 'trials.md'}; best: {result.project_dir / BEST_HYPERPARAMETERS}")
    print(f"Retrain: {best['fer_train_command']}")


if __name__ == "__main__":
    sys.exit(main())
