"""Fixtures of the pipeline's tests: an 8-class run trained on generated FER2013 with FER+ votes."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def soft_run(tmp_path_factory, ferplus_csv, data_dir):
    """A finished ``fer-train --preset smoke --labels ferplus-soft --class-weight balanced`` run directory."""
    from pipeline.config import resolve_config
    from pipeline.train import train

    run_dir = tmp_path_factory.mktemp("runs") / "soft"
    overrides = {
        "data": str(ferplus_csv),
        "data_dir": str(data_dir),
        "labels": "ferplus-soft",
        "class_weight": "balanced",
        "verbose": 0,
    }
    train(resolve_config("smoke", overrides), run_dir)
    return run_dir
