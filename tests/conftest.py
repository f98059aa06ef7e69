"""Shared fixtures: generated FER2013 data and one smoke-trained run, built once per session."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from tests.fer_fixtures import make_examples, write_csv  # noqa: E402

SMALL = {"train": 140, "validation": 42, "test": 35}


@pytest.fixture(scope="session")
def examples():
    return make_examples(SMALL)


@pytest.fixture(scope="session")
def fer_csv(tmp_path_factory, examples):
    """A generated fer2013.csv with all three Usage values."""
    return write_csv(tmp_path_factory.mktemp("fer") / "fer2013.csv", examples)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory):
    """One prepared-dataset cache for the whole session."""
    return tmp_path_factory.mktemp("tfds")


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory, fer_csv, data_dir):
    """A finished ``fer-train --preset smoke`` run directory on the generated data."""
    from pipeline.config import resolve_config
    from pipeline.train import train

    run_dir = tmp_path_factory.mktemp("runs") / "smoke"
    config = resolve_config("smoke", {"data": str(fer_csv), "data_dir": str(data_dir), "verbose": 0})
    train(config, run_dir)
    return run_dir
