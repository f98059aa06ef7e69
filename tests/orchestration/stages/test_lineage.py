"""The lineage stage: what a run used and did, in the run directory and in the version it pushed."""

from __future__ import annotations

import hashlib
import json

from tests.orchestration.pipeline_runs import states


def test_the_pushed_lineage_records_the_data_model_blessing_and_baseline(smoke_pipeline):
    from model_zoo.pretrained import pretrained_artifacts_dir

    assert smoke_pipeline["first"][0] == 0
    version = smoke_pipeline["push_dir"] / "1"
    lineage = json.loads((version / "lineage.json").read_text())
    statistics = json.loads((version / "data_statistics.json").read_text())
    assert lineage["data_fingerprint"] == statistics["fingerprint"]
    assert lineage["config"]["model"] == "seed_cnn_tiny" and lineage["config"]["epochs"] == 2
    assert set(lineage["code"]) == {"package_version", "git_commit", "git_dirty"}
    assert "tensorflow" in lineage["environment"]["packages"]
    model_hash = hashlib.sha256((version / "model.keras").read_bytes()).hexdigest()
    assert lineage["artifacts"]["model.keras"]["sha256"] == model_hash == lineage["candidate_model_sha256"]
    assert "saved_model.pb" in lineage["artifacts"] and len(lineage["artifacts"]) >= 10
    for name, recorded in lineage["artifacts"].items():  # named and hashed as they lie in the version
        assert hashlib.sha256((version / name).read_bytes()).hexdigest() == recorded["sha256"], name
    assert lineage["blessing"]["blessed"] is True and lineage["blessing"]["reasons"] == []
    assert lineage["baseline"]["path"] == str(pretrained_artifacts_dir())
    assert lineage["metrics"]["keras"]["n"] == lineage["baseline"]["metrics"]["n"] == 35  # the same test faces
    run_lineage = json.loads((smoke_pipeline["root"] / "runs" / "first" / "lineage.json").read_text())
    assert run_lineage["push"]["version"] == 1
    assert set(states(smoke_pipeline["root"], "first").values()) == {"done"}
