"""``fer-tune``: hyperparameter search over the seed CNN with Keras Tuner; resumable and distributable.

The search space is ``pipeline.tuning.hypermodel.SeedCNNHyperModel``, whose trials train
through ``fer-train``'s recipe (``pipeline.recipe``) from the search's ``--preset``; the
objective is the validation accuracy. A project directory holds:

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

Modules: ``search_config`` (settings and their checks), ``search_space``, ``hypermodel``,
``roles`` (who this process is), ``oracles``, ``tuners``, ``chief``, ``reports`` (summary
files), ``search`` (``run_search``, ``retrain_best``) and ``cli`` (the command line).
Importing this package imports no TensorFlow: the names below load their module on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

# Public names, by the module that defines them; loaded on first access (PEP 562), so that
# ``fer-tune --help`` and the light settings modules never pull in TensorFlow.
_EXPORTS = {
    "search_config": (
        "BEST_HYPERPARAMETERS",
        "OBJECTIVE",
        "SEARCH_CONFIG",
        "TUNERS",
        "ProjectDirError",
        "SearchConfig",
        "check_project_dir",
        "parse_fixed",
        "trial_base_config",
        "validate_search_config",
    ),
    "search_space": (
        "BASE_SHAPES",
        "HYPERPARAMETER_NAMES",
        "HYPERPARAMETER_VALID_RANGES",
        "declare_search_space",
        "train_config_from_hyperparameters",
    ),
    "roles": ("tuning_role",),
    "hypermodel": ("SeedCNNHyperModel",),
    "tuners": ("make_tuner", "fixed_hyperparameters"),
    "reports": ("best_trial_report", "error_summary", "trial_rows", "write_summary"),
    "search": ("SearchFailedError", "SearchResult", "retrain_best", "run_search"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    if name in _MODULE_OF:
        value = getattr(importlib.import_module(f"{__name__}.{_MODULE_OF[name]}"), name)
        globals()[name] = value  # later accesses skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
