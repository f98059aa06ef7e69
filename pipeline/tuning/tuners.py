"""The tuners that run trials on this process, and ``make_tuner``, which builds one for a search."""

from __future__ import annotations

import logging
from pathlib import Path

import keras
import keras_tuner as kt

from fer_runtime.atomic_files import write_text_atomic
from pipeline.tuning.hypermodel import SeedCNNHyperModel
from pipeline.tuning.oracles import BayesianOptimizationOracle, HyperbandOracle, RandomSearchOracle
from pipeline.tuning.reports import error_summary
from pipeline.tuning.search_config import ERROR_FILE, OBJECTIVE, SearchConfig
from pipeline.tuning.search_space import HYPERPARAMETER_NAMES

log = logging.getLogger("fer-tune")

_STATUS = kt.engine.trial.TrialStatus


class SeededTuner(kt.Tuner):
    """A Keras Tuner ``Tuner`` that seeds every trial and reports failed trials where they ran.

    Args:
        oracle: One of ``pipeline.tuning.oracles``' oracles.
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
            write_text_atomic(Path(self.get_trial_dir(trial.trial_id)) / ERROR_FILE, message)
            log.error("Trial %s failed on %s: %s", trial.trial_id, self.tuner_id, error_summary(message))
            log.debug("Trial %s traceback:\n%s", trial.trial_id, message)
        super().on_trial_end(trial)
        # After the oracle has seen it: a local oracle shares this trial object and may
        # have changed its status (a NaN score fails a "completed" trial).
        self.trials_run_here.append((trial.trial_id, trial.status))


class HyperbandTuner(SeededTuner, kt.Hyperband):
    """``SeededTuner`` with Keras Tuner's Hyperband trial handling (epochs, warm starts)."""


def fixed_hyperparameters(fixed: dict[str, float]) -> kt.HyperParameters:
    """Keras Tuner ``Fixed`` entries for ``fixed``; declaring the search space later keeps them fixed."""
    hp = kt.HyperParameters()
    for name, value in fixed.items():
        hp.Fixed(name, value)
    return hp


def make_tuner(
    config: SearchConfig, project_dir: Path, hypermodel: SeedCNNHyperModel, role: str = "local"
) -> SeededTuner:
    """The Keras Tuner tuner of ``config`` on ``project_dir`` (reloaded when it already holds the search).

    Args:
        config: The search settings.
        project_dir: The project directory (checked by ``check_project_dir``).
        hypermodel: The search space, with the training split on a process that runs trials.
        role: ``local``, ``chief`` or ``worker`` (see ``tuning_role``).

    Returns:
        A ``SeededTuner`` (``HyperbandTuner`` for Hyperband).
    """
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
        hypermodel,
        seed=config.seed,
        max_model_size=config.max_model_size,
        directory=str(project_dir.parent),
        project_name=project_dir.name,
        overwrite=False,  # resume what is there; check_project_dir made sure it is this search
    )
