"""Fixtures of the analysis tests, built once per session: the segments video and the shipped model's recognizer."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.serving_demo.analysis.helpers import write_folder_of_work, write_segments_video


@pytest.fixture(scope="session")
def video(tmp_path_factory) -> Path:
    """90 frames at 30 fps: smiling (0-29), mouth blurred (30-59), no face (60-89)."""
    return write_segments_video(tmp_path_factory.mktemp("video") / "segments.mp4")


@pytest.fixture
def work_folder(tmp_path, video) -> Path:
    """A folder of six photos and one copy of the video (``clip.mp4``)."""
    return write_folder_of_work(tmp_path / "work", video)


@pytest.fixture(scope="session")
def recognizer():
    """The shipped model with the default backend and detector."""
    from serving_demo.recognizer import EmotionRecognizer

    return EmotionRecognizer()
