"""The train stage: ``fer-train``'s recipe on the preset with its overrides, after a Keras Tuner search if asked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from orchestration.settings import SEARCH_TAKES, PipelineSettings
from orchestration.stage_results import DataResult, TrainResult
from orchestration.stages.common import cached_result
from pipeline.config import RESUMABLE_CHANGES, TrainConfig
from pipeline.lineage import file_sha256


def train_stage(settings: PipelineSettings, run_id: str, data: DataResult) -> TrainResult:
    """Train the preset with its overrides through ``fer-train``'s recipe (after a Keras Tuner search if asked).

    The run directory lives in the stage directory: a killed training resumes there on the next run.

    Args:
        settings: The run's settings.
        run_id: The run's id.
        data: The data stage's result (its fingerprint keys the training).

    Returns:
        The run directory, the checkpoint chosen and its hash, the resolved configuration and the metrics.
    """
    config = settings.check()
    tuning = (
        {"tuner": settings.tuner, "trials": settings.tuner_trials, "epochs": settings.tuner_epochs}
        if settings.tuner is not None
        else None
    )

    def compute(directory: Path) -> dict[str, Any]:
        from export.exporter import resolve_model_path

        run = directory / "run"
        metrics = _search_and_train(settings, config, directory) if tuning else _train(config, run)
        model, _ = resolve_model_path(run)
        return {
            "run_dir": str(run),
            "model": str(model),
            "model_sha256": file_sha256(model),
            "config": json.loads((run / "config.json").read_text()),
            "metrics": {split: {"accuracy": m["accuracy"], "n": m["n"]} for split, m in metrics["splits"].items()},
        }

    # What a resumed run may change (the log, the prepared-data cache) changes the model no more than the key.
    recipe = {k: v for k, v in config.to_dict().items() if k not in RESUMABLE_CHANGES}
    inputs = {"config": recipe, "data": data.fingerprint, "tuning": tuning}

    def summary(result: TrainResult) -> str:
        return ", ".join(f"{split} accuracy {m['accuracy']:.4f}" for split, m in result.metrics.items())

    return cached_result(TrainResult, settings, run_id, "train", inputs, compute, summary)


def _train(config: TrainConfig, run: Path) -> dict[str, Any]:
    """``fer-train``'s recipe into ``run``; returns its metrics."""
    from pipeline.train import train

    return train(config, run)


def _search_and_train(settings: PipelineSettings, config: TrainConfig, directory: Path) -> dict[str, Any]:
    """A Keras Tuner search in ``directory/search``, then its best configuration trained into ``directory/run``."""
    from pipeline.tuning.search import retrain_best, run_search
    from pipeline.tuning.search_config import SearchConfig

    # The search takes these training settings as they are; epochs is a trial's (the retraining's is below).
    taken = {name: getattr(config, name) for name in SEARCH_TAKES if name != "epochs"}
    search = SearchConfig(
        **taken,
        preset=settings.preset,
        tuner=settings.tuner,
        max_trials=settings.tuner_trials,
        epochs=settings.tuner_epochs,
    )
    run_search(search, directory / "search")
    return retrain_best(directory / "search", directory / "run", epochs=config.epochs, verbose=config.verbose)
