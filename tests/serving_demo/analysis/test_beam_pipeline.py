"""fer-analyze --runner beam: the same records as the local runner, through Apache Beam and RunInference."""

import json

import pytest

from serving_demo.analysis.cli import main
from serving_demo.analysis.settings import AnalysisOptions, RunSettings
from tests.serving_demo.analysis.helpers import read_records, sorted_lines


def test_the_beam_pipeline_gives_the_local_runs_records(work_folder, tmp_path, capsys):
    import apache_beam  # noqa: F401  the beam extra, which make test installs

    (work_folder / "broken.jpg").write_bytes(b"not a jpeg")
    local, beam = tmp_path / "local.jsonl", tmp_path / "beam.jsonl"
    assert main([str(work_folder), "--output", str(local), "--no-progress", "--every", "15"]) == 0
    assert (
        main(
            [str(work_folder), "--output", str(beam), "--every", "15", "--runner", "beam", "--direct_num_workers", "1"]
        )
        == 0
    )
    assert sorted_lines(read_records(beam)) == sorted_lines(read_records(local))
    skipped = [json.loads(line) for line in (tmp_path / "beam.jsonl.skipped.jsonl").read_text().splitlines()]
    assert [s["source"] for s in skipped] == ["broken.jpg"] and "not an image" in skipped[0]["error"]
    csv_out = tmp_path / "beam.csv"
    assert main([str(work_folder), "--output", str(csv_out), "--every", "45", "--runner", "beam"]) == 0
    assert csv_out.read_text().splitlines()[0].startswith("source,frame,time_s")
    assert main([str(work_folder), "--output", str(beam), "--runner", "beam", "--annotate", str(tmp_path)]) == 2


def test_analyze_with_beam_returns_what_it_did(tmp_path):
    from serving_demo.analysis.beam_pipeline import analyze_with_beam

    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    messages: list[str] = []
    settings = RunSettings((str(tmp_path / "broken.jpg"), "missing/"), str(tmp_path / "out.jsonl"))
    summary = analyze_with_beam(settings, beam_args=["--direct_num_workers", "1"], report=messages.append)
    assert (summary.runner, summary.files, summary.unreadable, summary.analysed, summary.skipped) == (
        "DirectRunner", 1, 1, 0, 2
    )  # fmt: skip
    assert messages == ["skipped missing/: no such file or folder"]
    assert (tmp_path / "out.jsonl").read_text() == ""
    with pytest.raises(ValueError, match="belong to the local runner"):
        analyze_with_beam(RunSettings(("a",), "o.jsonl", analysis=AnalysisOptions(annotate_dir="ann")))
