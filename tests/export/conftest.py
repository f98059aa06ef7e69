"""Fixtures of the export tests: an 8-class (FER+) model and its export, and generated data with FER+ votes."""

from __future__ import annotations

import pytest

from tests.export.eight_class import EightClass, eight_class_model, ferplus_data


@pytest.fixture(scope="session")
def eight_class(tmp_path_factory, test_seed) -> EightClass:
    """The 8-class tiny model, a run directory of it and its export through the parity gate."""
    return eight_class_model(tmp_path_factory, test_seed)


@pytest.fixture(scope="session")
def ferplus_csv(tmp_path_factory, examples):
    """The session's generated fer2013.csv with its fer2013new.csv beside it."""
    return ferplus_data(tmp_path_factory, examples)
