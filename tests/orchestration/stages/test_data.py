"""The data stage: statistics, and the anomalies that stop a run."""

from __future__ import annotations

from orchestration.settings import PipelineSettings
from orchestration.stages import data_stage
from tests.fer_fixtures import make_examples, write_csv
from tests.orchestration.pipeline_runs import FAST, invoke, states


def test_a_data_anomaly_stops_the_run_with_a_report(tmp_path, data_dir):
    examples = make_examples({"train": 140, "validation": 42})
    images, labels = examples["train"]
    images[:10] = 128  # 7 % blank faces: more than the schema's 1 %
    csv = write_csv(tmp_path / "fer2013.csv", {"train": (images, labels), "validation": examples["validation"]})
    root = tmp_path / "root"
    code, out, err = invoke("--preset", "smoke", "--data", str(csv), "--data-dir", str(data_dir), "--root", str(root),
                            "--push-dir", str(tmp_path / "push"), *FAST, "--run-id", "bad")  # fmt: skip
    assert code == 1
    assert "stopped at stage data-check" in err and "constant_images (train): 10 blank images" in err
    report = root / "runs" / "bad" / "data" / "data_report.md"
    assert str(report) in err and "**error** constant_images (train)" in report.read_text()
    assert "train" not in states(root, "bad")  # nothing ran after the check
    assert not (tmp_path / "push").exists()

    # Told to go on, the stage reports the same finding and lets the run continue.
    settings = PipelineSettings(
        root=str(root), allow_anomalies=True, overrides={"data": str(csv), "data_dir": str(data_dir)}
    )
    result = data_stage(settings, "told-to-go-on")
    assert [a["kind"] for a in result.anomalies if a["severity"] == "error"] == ["constant_images"]
    assert result.reused is True  # the statistics of the stopped run
