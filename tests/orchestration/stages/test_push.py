"""The push stage: a blessed candidate becomes the next version, once."""

from __future__ import annotations

import json

from orchestration.stages import find_pushed
from tests.fer_fixtures import make_examples
from tests.orchestration.pipeline_runs import REUSABLE, invoke, states


def test_the_smoke_pipeline_pushes_a_version_in_tensorflow_servings_layout(smoke_pipeline):
    from fer_runtime.predictors import load_backend
    from model_zoo.artifacts import BACKENDS, available_backends

    code, out, err = smoke_pipeline["first"]
    assert code == 0, out[-3000:] + err[-3000:]
    assert "pushed version 1" in out
    version = smoke_pipeline["push_dir"] / "1"
    # TensorFlow Serving's layout: the SavedModel at the version's root, the other artifacts beside it.
    assert (version / "saved_model.pb").is_file() and (version / "variables").is_dir()
    assert available_backends(version) == list(BACKENDS)
    faces = make_examples({"test": 4})["test"][0][..., None]
    assert load_backend(version, "tflite-int8").predict(faces).shape == (4, 7)
    assert not [p.name for p in smoke_pipeline["push_dir"].iterdir() if p.name.startswith(".")]  # no staging left


def test_rerun_reuses_every_stage_and_pushes_nothing_new(smoke_pipeline):
    assert smoke_pipeline["first"][0] == 0
    code, out, err = invoke(*smoke_pipeline["common"], "--push-dir", str(smoke_pipeline["push_dir"]),
                            "--max-accuracy-drop", "1", "--max-recall-drop", "1", "--run-id", "again")  # fmt: skip
    assert code == 0, out[-3000:] + err[-3000:]
    done = states(smoke_pipeline["root"], "again")
    assert {stage: done[stage] for stage in REUSABLE} == dict.fromkeys(REUSABLE, "reused")
    # The baseline is now version 1: the same model.keras, so its evaluation is the candidate's, reused too.
    assert done["evaluate-baseline"] == "reused"
    assert "already version 1" in out
    assert sorted(p.name for p in smoke_pipeline["push_dir"].iterdir()) == ["1"]
    code, out, _ = invoke("status", "--root", str(smoke_pipeline["root"]))  # the latest run
    assert code == 0 and out.startswith("run again") and "train                     reused" in out


def test_a_pushed_model_is_found_by_its_hash_in_the_versions_lineage(tmp_path):
    for version, sha256 in ((1, "a" * 64), (2, "b" * 64), (3, None)):
        (tmp_path / str(version)).mkdir()
        if sha256:
            (tmp_path / str(version) / "lineage.json").write_text(json.dumps({"candidate_model_sha256": sha256}))
    assert find_pushed(str(tmp_path), "b" * 64) == tmp_path / "2"
    assert find_pushed(str(tmp_path), "c" * 64) is None
    assert find_pushed(str(tmp_path / "none"), "a" * 64) is None
