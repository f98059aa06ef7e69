"""Where a Beam run writes: its claim, the staged files moved into place at the end, what a killed run left."""

import json

import pytest

pytest.importorskip("apache_beam")

from serving_demo.analysis.beam_output import BeamOutput  # noqa: E402
from serving_demo.analysis.outputs import OutputError  # noqa: E402

SETTINGS = {"runner": "beam", "paths": ["photos"]}


def test_a_run_claims_its_output_and_moves_its_files_into_place_at_the_end(tmp_path):
    out = BeamOutput(str(tmp_path / "sub" / "out.jsonl"))
    assert out.claimed() is None and out.check(SETTINGS, overwrite=False) is False
    out.start(SETTINGS)
    assert out.claimed() == SETTINGS
    assert json.loads((tmp_path / "sub" / "out.jsonl.progress.jsonl").read_text()) == {"settings": SETTINGS}
    assert out.check(SETTINGS, overwrite=False) is True
    with pytest.raises(ValueError, match="another fer-analyze command"):
        out.check({**SETTINGS, "paths": ["other"]}, overwrite=False)
    (tmp_path / "sub" / "out.jsonl").write_text("old\n")  # the previous run's output stays until the new one is done
    (tmp_path / "sub" / "out.jsonl.partial").write_text('{"new": 1}\n')
    (tmp_path / "sub" / "out.jsonl.skipped.jsonl.partial").write_text('{"source": "a.jpg", "error": "empty"}\n')
    assert (tmp_path / "sub" / "out.jsonl").read_text() == "old\n"
    out.publish()
    assert (tmp_path / "sub" / "out.jsonl").read_text() == '{"new": 1}\n'
    assert out.read_skipped() == [{"source": "a.jpg", "error": "empty"}]
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == [
        "out.jsonl", "out.jsonl.progress.jsonl", "out.jsonl.skipped.jsonl"
    ]  # fmt: skip


def test_what_a_killed_run_left_is_removed_and_nothing_else(tmp_path):
    out = BeamOutput(str(tmp_path / "out.jsonl"))
    (tmp_path / "out.jsonl.partial").write_text("half")
    (tmp_path / "out.jsonl.progress.jsonl.partial").write_text("")
    for name in ["beam-temp-out.jsonl.partial-1234", "beam-temp-out.jsonl.skipped.jsonl.partial-5678"]:
        (tmp_path / name).mkdir()
        (tmp_path / name / "shard").write_text("x")
    (tmp_path / "beam-temp-other.jsonl.partial-1").mkdir()  # another output's: left alone
    (tmp_path / "photo.jpg").write_text("")
    out.start(SETTINGS)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "beam-temp-other.jsonl.partial-1", "out.jsonl.progress.jsonl", "photo.jpg"
    ]  # fmt: skip


def test_a_claim_that_cannot_be_written_is_one_output_error(tmp_path):
    (tmp_path / "file").write_text("")
    out = BeamOutput(str(tmp_path / "file" / "out.jsonl"))
    with pytest.raises(OutputError, match=r"cannot write .*out.jsonl.progress.jsonl: .*the output is left as it was"):
        out.start(SETTINGS)
