"""The webcam benchmark's runs and their median, without a browser (the browser run itself is measured by hand)."""

import pytest

from export.benchmarks import webcam
from export.benchmarks.webcam import MEDIAN_FIELDS, aggregate_runs, format_table, measure_webcam_runs


def run(fps: float, frames: int, detect_ms: float | None = 4.0, stats: str = "") -> dict:
    """One ``measure_webcam_fps`` result, as it returns it."""
    return {
        "frames": frames,
        "seconds": 10.0,
        "fps_arriving": fps,
        "interval_ms_p50": round(1000 / fps, 2),
        "interval_ms_p95": round(1500 / fps, 2),
        "camera_fps": 30,
        "stats": stats or f"page says {fps} fps",
        "detect_ms": detect_ms,
        "classify_ms": 1.0,
    }


RUNS = [run(20.0, 201, stats="slow run"), run(25.0, 251, detect_ms=None, stats="middle run"), run(22.0, 221)]


def test_the_median_of_every_figure_keeps_one_runs_keys_and_adds_the_runs():
    result = aggregate_runs(RUNS)
    assert set(run(1.0, 1)) <= set(result)  # old readers of one run's JSON read the medians
    assert result["fps_arriving"] == 22.0 and result["frames"] == 221 and isinstance(result["frames"], int)
    assert result["interval_ms_p50"] == 45.45 and result["seconds"] == 10.0
    assert result["detect_ms"] == 4.0  # a run without the figure is left out of its median
    assert result["stats"] == "page says 22.0 fps"  # the readout of the median run
    assert result["camera_fps"] == 30 and result["median_of"] == 3 and result["runs"] == RUNS


def test_an_even_number_of_runs_takes_the_middle_two_and_the_lower_runs_readout():
    result = aggregate_runs(RUNS[:2])
    assert result["fps_arriving"] == 22.5 and result["frames"] == 226 and result["stats"] == "slow run"
    assert aggregate_runs([run(20.0, 200), run(21.0, 201)])["frames"] == 200.5


def test_a_figure_no_run_has_is_none():
    result = aggregate_runs([run(20.0, 200, detect_ms=None)])
    assert result["detect_ms"] is None and all(key in result for key in MEDIAN_FIELDS)


def test_no_runs_is_refused():
    with pytest.raises(ValueError):
        aggregate_runs([])


def test_the_table_has_a_row_per_run_then_the_median():
    lines = format_table(aggregate_runs(RUNS)).splitlines()
    assert lines[0].split()[:3] == ["run", "frames", "seconds"]
    assert [line.split()[:3] for line in lines[1:4]] == [
        ["1", "201", "10.00"],
        ["2", "251", "10.00"],
        ["3", "221", "10.00"],
    ]
    assert lines[4].startswith("---") and lines[5].split()[:4] == ["median", "221", "10.00", "22.00"]
    assert lines[6] == "camera: 30 fps fake device; page readout (median run): page says 22.0 fps"


def test_a_single_runs_result_still_prints():
    lines = format_table(run(25.0, 251)).splitlines()
    assert len(lines) == 3 and lines[1].split()[:4] == ["1", "251", "10.00", "25.00"]


def test_each_run_is_its_own_browser_session_against_the_same_demo(monkeypatch):
    calls = []

    def fake_measure(url, seconds, detector, chromium):
        calls.append((url, seconds, detector, chromium))
        return RUNS[len(calls) - 1]

    monkeypatch.setattr(webcam, "measure_webcam_fps", fake_measure)
    result = measure_webcam_runs("http://127.0.0.1:1/", runs=3, seconds=2.0, detector="haar")
    assert calls == [("http://127.0.0.1:1/", 2.0, "haar", webcam.CHROMIUM)] * 3
    assert result["runs"] == RUNS and result["fps_arriving"] == 22.0
    with pytest.raises(ValueError, match="at least 1"):
        measure_webcam_runs("http://127.0.0.1:1/", runs=0)
