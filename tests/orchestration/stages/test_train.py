"""The train stage: the preset with its overrides, after a Keras Tuner search if asked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestration.settings import PipelineSettings
from orchestration.stage_results import DataResult
from orchestration.stages import train_stage


@pytest.mark.slow
def test_the_train_stage_can_search_first_and_train_the_best_configuration(tmp_path, fer_csv, data_dir):
    settings = PipelineSettings(
        root=str(tmp_path),
        preset="smoke",
        overrides={"data": str(fer_csv), "data_dir": str(data_dir), "verbose": 0},
        tuner="random",
        tuner_trials=1,
        tuner_epochs=1,
    )
    data = DataResult(stage_dir="", key="", seconds=0.0, code={}, fingerprint="generated", splits={}, statistics="",
                      source=str(fer_csv), report="", anomalies=[], previous=None)  # fmt: skip
    result = train_stage(settings, "tuned", data)
    stage_dir = Path(result.stage_dir)
    best = json.loads((stage_dir / "search" / "best_hyperparameters.json").read_text())
    config = json.loads((Path(result.run_dir) / "config.json").read_text())
    assert config["learning_rate"] == best["train_config"]["learning_rate"] and config["epochs"] == 2
    assert Path(result.model).is_file() and result.metrics["validation"]["n"] == 42
