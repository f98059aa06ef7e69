"""Stage directories keyed by their inputs: a killed stage goes on where it was, a finished one is read back."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestration.stage_cache import cached_stage, read_progress


def test_a_killed_stage_goes_on_in_its_directory_and_a_finished_one_is_read_back(tmp_path):
    calls = []

    def killed(directory: Path) -> dict:
        (directory / "partial").write_text("half")
        raise KeyboardInterrupt

    def finishing(directory: Path) -> dict:
        calls.append((directory / "partial").read_text())
        return {"value": 1}

    with pytest.raises(KeyboardInterrupt):
        cached_stage(tmp_path, "r1", "work", {"x": 1}, killed)
    first = cached_stage(tmp_path, "r1", "work", {"x": 1}, finishing)
    again = cached_stage(tmp_path, "r2", "work", {"x": 1}, finishing)
    other = cached_stage(tmp_path, "r2", "work", {"x": 2}, lambda d: {"value": 2})
    assert calls == ["half"]  # the second start found the first one's files, the third read the result
    assert first["stage_dir"] == again["stage_dir"] != other["stage_dir"]
    assert (first["reused"], again["reused"], other["value"]) == (False, True, 2)
    events = [(e["state"], e.get("resumed")) for e in read_progress(tmp_path, "r1")]
    assert events == [("started", False), ("failed", None), ("started", True), ("done", None)]


def test_a_moved_root_is_reused_with_its_paths_moved_too(tmp_path):
    def compute(directory: Path) -> dict:
        (directory / "out.txt").write_text("result")
        return {"file": str(directory / "out.txt")}

    first = cached_stage(tmp_path / "a", "r1", "work", {"x": 1}, compute)
    (tmp_path / "a").rename(tmp_path / "b")
    moved = cached_stage(tmp_path / "b", "r2", "work", {"x": 1}, lambda d: pytest.fail("recomputed"))
    assert moved["reused"] and moved["stage_dir"] == first["stage_dir"].replace(
        str(tmp_path / "a"), str(tmp_path / "b")
    )
    assert Path(moved["file"]).read_text() == "result"
