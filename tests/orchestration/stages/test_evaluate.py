"""The evaluate stage: the candidate against the baseline on the same faces, and the blessing."""

from __future__ import annotations

import json

from orchestration.cli import NOT_BLESSED
from tests.orchestration.pipeline_runs import invoke, states


def test_a_candidate_worse_than_the_baseline_is_not_pushed_and_the_run_says_why(smoke_pipeline, exported, tmp_path):
    root, push_dir = smoke_pipeline["root"], tmp_path / "push"
    # The baseline: the tiny model trained to near 100 % on faces like these; the smoke candidate guesses.
    code, out, err = invoke(*smoke_pipeline["common"], "--push-dir", str(push_dir), "--baseline",
                            str(exported.out_dir), "--run-id", "worse")  # fmt: skip
    assert code == NOT_BLESSED, out[-3000:] + err[-3000:]
    assert "NOT PUSHED, not blessed:\n  - accuracy" in out and "below the baseline's" in out
    assert not push_dir.exists() or not list(push_dir.iterdir())
    blessing = json.loads((root / "runs" / "worse" / "blessing.json").read_text())
    assert blessing["blessed"] is False and blessing["baseline"]["accuracy"] > blessing["candidate"]["accuracy"] + 0.5
    assert blessing["baseline_model"] == {"path": str(exported.out_dir), "chosen_as": "the model given with --baseline"}
    lineage = json.loads((root / "runs" / "worse" / "lineage.json").read_text())
    assert lineage["push"]["pushed"] is False and lineage["push"]["reason"].startswith("not blessed")
    assert states(root, "worse")["train"] == "reused"
