"""Fixtures of the pipeline's tests: generated FER2013 with FER+ votes, and an 8-class run trained on them."""

from __future__ import annotations

import pytest

from tests.fer_fixtures import write_csv, write_ferplus_csv


@pytest.fixture(scope="session")
def ferplus_csv(tmp_path_factory, examples):
    """A generated fer2013.csv (the session's faces, all three Usage values) with its fer2013new.csv beside it."""
    root = tmp_path_factory.mktemp("ferplus")
    write_ferplus_csv(root / "fer2013new.csv", examples)
    return write_csv(root / "fer2013.csv", examples)


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
